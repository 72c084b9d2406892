"""`facebehavior demo`: the main job — generate SynthFace, train the ablation, report it."""

from __future__ import annotations

import importlib

ORDER = 5


def register(subparsers) -> None:
    from facebehavior.studies import STUDIES

    p = subparsers.add_parser(
        "demo", help="run a whole study on generated SynthFace data (the `make demo` job)",
        description="Generates the SynthFace preset (cached), trains every variant of the study, evaluates each "
                    "on every test database with its own metric and writes runs/demo/report.md, JSON and plots.")
    p.add_argument("--study", choices=STUDIES, default="affect")
    p.add_argument("--quick", action="store_true", help="a small, ~2-minute version (used by the tests)")
    p.add_argument("--out", help="output folder (default runs/demo or runs/demo_identity)")
    p.add_argument("--data", help="SynthFace folder (default: .cache/synthface/<preset>)")
    p.add_argument("--seeds", type=int, help="seeds per row (affect: 2, 5 with --full, 1 with --quick; "
                                                   "identity: 3, 1 with --quick)")
    p.add_argument("--workers", type=int, default=2, help="processes for data generation and training runs")
    g = p.add_argument_group("affect study")  # the options of facebehavior.studies.affect (add_arguments there)
    g.add_argument("--full", action="store_true",
                   help="the full study (a 2× wider network, 12 epochs, 5 seeds, every DM form, every "
                        "task-balancing method, scarce labels; hours on a CPU)")
    g.add_argument("--balancing", action="store_true",
                   help="also the task-balancing rows the demo's budget leaves out (PCGrad, and uncertainty "
                        "weighting and PCGrad each with soft co-annotation + distribution matching; PCGrad costs "
                        "~3.3× a step); --full has them already")
    g.add_argument("--resume", action="store_true",
                   help="skip runs whose result is already written and continue interrupted ones")
    g.add_argument("--results", help="folder of the per-run results (default OUT/results; the full study: "
                                     "benchmarks/results/affect_study_full when run from the repository)")
    g.add_argument("--report-only", action="store_true", help="write the report from the finished runs only")
    p.set_defaults(func=run)


def run(args) -> int:
    module = importlib.import_module(f"facebehavior.studies.{args.study}")
    report = module.run_demo(args)
    print(f"report: {report}")
    return 0
