"""`facebehavior recipe`: end-to-end recipes on real data (import → train → evaluate → report)."""

from __future__ import annotations

ORDER = 22


def register(subparsers) -> None:
    p = subparsers.add_parser("recipe", help="reproduce a published result end to end (e.g. FER+)",
                              description="Import a database, train, evaluate its protocols and write "
                                          "results.json, report.md and figures into --out.")
    sub = p.add_subparsers(dest="recipe", metavar="RECIPE", required=True)
    fer = sub.add_parser("ferplus", help="FER+: train on FER2013Train, select on Valid, report Test (8 and 7 classes)",
                         description="FER+ recipe (docs/ferplus.md). Resumable: rerun with --resume after an "
                                     "interruption; a finished run is then only re-evaluated.")
    fer.add_argument("--data", required=True, help="FER+ folder holding FER2013Train/Valid/Test (../shared/data/ferplus)")
    fer.add_argument("--out", required=True, help="output folder (data import, train/, results.json, report.md)")
    fer.add_argument("--mode", choices=["soft", "majority"], default="soft",
                     help="training target: the vote distribution (default) or the majority label")
    fer.add_argument("--gpu", action="store_true", help="the full-size recipe, configs/ferplus_gpu.yaml")
    fer.add_argument("--config", help="another config (must declare tasks ferplus8 and expr)")
    fer.add_argument("--resume", action="store_true", help="continue <out>/train from its last checkpoint")
    fer.add_argument("--device", help="cpu, cuda, cuda:1 (default: the config's train.device)")
    fer.add_argument("--subset", type=int, metavar="N", help="N random images per split (quick runs, tests)")
    fer.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                     help="override a config value, e.g. --set train.epochs=5 (repeatable)")
    fer.add_argument("--teacher", dest="teachers", action="append", default=[], metavar="CKPT",
                     help="distil from this trained checkpoint (repeatable: their predictions are averaged); the "
                          "soft targets become alpha·votes + (1 − alpha)·teachers")
    fer.add_argument("--distill-alpha", type=float, default=0.5, help="weight of the crowd votes in the "
                                                                       "distilled target (default 0.5)")
    fer.set_defaults(func=run)


def run(args) -> int:
    import shlex
    import sys

    from facebehavior.studies.ferplus import run_recipe

    argv = [a for a in sys.argv[1:] if a != "--resume"]  # the command that reproduces the run from scratch
    command = " ".join(["facebehavior", *map(shlex.quote, argv)]) if argv[:1] == ["recipe"] else None
    results = run_recipe(args.data, args.out, mode=args.mode, gpu=args.gpu, config=args.config, resume=args.resume,
                         overrides=args.overrides, subset=args.subset, device=args.device, command=command,
                         teachers=args.teachers, distill_alpha=args.distill_alpha)
    for name, m in results["protocols"].items():
        print(f"{name:26s} accuracy {m['accuracy']:.4f}  mean recall {m['mean_diag']:.4f}  "
              f"vote CE {m.get('vote_cross_entropy', float('nan')):.4f}  (n={m['n_majority']})")
    print(f"report: {args.out}/report.md")
    print(f"checkpoint: {results['run']['checkpoint']}  (analyse photos with: facebehavior analyze PHOTO "
          f"--checkpoint {results['run']['checkpoint']})")
    return 0
