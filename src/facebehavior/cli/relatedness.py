"""`facebehavior relatedness show|estimate`: inspect or estimate task relatedness p(b | a)."""

from __future__ import annotations


ORDER = 40


def register(subparsers) -> None:
    p = subparsers.add_parser("relatedness", help="show or estimate task relatedness tables",
                              description="Show a relatedness table (built-in or CSV) or estimate one from "
                                          "annotations that carry both tasks.")
    sub = p.add_subparsers(dest="rel_command", metavar="ACTION")
    show = sub.add_parser("show", help="print a table (du2014, affwild2_empirical or a CSV)")
    show.add_argument("table", nargs="?", default="du2014")
    show.add_argument("--mode", choices=["weighted", "binary"], default="weighted")
    _outputs(show)
    show.set_defaults(func=run_show)
    est = sub.add_parser("estimate", help="estimate p(label | class) from a manifest's annotations")
    est.add_argument("--manifest", "-m", required=True, action="append", help="manifest(s) (repeatable)")
    est.add_argument("--config", "-c", help="config declaring the tasks (default: the affect tasks)")
    est.add_argument("--multiclass", default="expr", help="softmax task (rows), default expr")
    est.add_argument("--multilabel", default="au", help="multi-label task (columns), default au")
    est.add_argument("--split", default="train", help="rows of this split only (default train; 'all' for every row)")
    est.add_argument("--rows", help="comma-separated class indices or names to print (e.g. 0,1,999)")
    est.add_argument("--columns", help="comma-separated labels to print")
    _outputs(est)
    est.set_defaults(func=run_estimate)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _outputs(parser) -> None:
    parser.add_argument("--csv", help="write the full table as CSV (matrix shape)")
    parser.add_argument("--plot", help="write a heatmap PNG")


def _finish(rel, args, frame, float_format: str = ".5g") -> int:
    import pandas as pd

    with pd.option_context("display.max_columns", 60, "display.width", 200):
        print(frame.to_string(float_format=lambda v: f"{v:{float_format}}"))
    for note in rel.notes:
        print(f"note: {note}")
    if args.csv:
        rel.save_csv(args.csv)
        print(f"wrote {args.csv}")
    if args.plot:
        from facebehavior.relatedness.plot import plot_heatmap

        print(f"wrote {plot_heatmap(rel, args.plot)}")
    return 0


def run_show(args) -> int:
    from facebehavior.relatedness import load_relatedness

    rel = load_relatedness(args.table)
    if args.mode == "binary":
        rel.weights = rel.matrix("binary")
    return _finish(rel, args, rel.to_frame())


def _pick(items, spec: str | None, what: str):
    from facebehavior.errors import FaceBehaviorError

    if not spec:
        return list(items)
    out = []
    for token in spec.split(","):
        token = token.strip()
        if token in items:
            out.append(token)
        elif token.isdigit() and int(token) < len(items):
            out.append(items[int(token)])
        else:
            raise FaceBehaviorError(f"--{what}: {token!r} is neither a label nor an index below {len(items)}")
    return out


def run_estimate(args) -> int:
    from facebehavior.data.manifest import concat_manifests, encode_labels, read_manifest
    from facebehavior.errors import FaceBehaviorError
    from facebehavior.labels import affect_tasks
    from facebehavior.relatedness.estimate import class_subjects, estimate_from_labels

    if args.config:
        from facebehavior.config import load_config

        tasks = load_config(args.config).task_specs()
    else:
        tasks = affect_tasks()
    by_name = {t.name: t for t in tasks}
    a, b = by_name.get(args.multiclass), by_name.get(args.multilabel)
    if a is None or a.kind != "multiclass" or b is None or b.kind != "multilabel":
        raise FaceBehaviorError(f"--multiclass/--multilabel must name a multiclass and a multilabel task of "
                                f"{sorted(by_name)}")
    manifests = [read_manifest(p, tasks) for p in args.manifest]
    if args.split != "all":
        manifests = [m.split(args.split) for m in manifests]
    frame = concat_manifests(manifests).frame
    labels = encode_labels(frame, [a, b])
    est = estimate_from_labels(labels[a.name], labels[b.name], a.labels, b.labels, (a.name, b.name))
    print(f"estimated from {est.rows_used} rows carrying both tasks ({est.rows_total - est.rows_used} rows "
          "carry only one or none and were not used)")
    if est.thin_entries:
        print(f"note: {est.thin_entries} entries rest on fewer than 5 samples")
    rel = est.table
    view = rel.to_frame().loc[_pick(list(a.labels), args.rows, "rows"), _pick(list(b.labels), args.columns, "columns")]
    subjects = class_subjects(frame[a.name].to_numpy(), frame["subject"].to_numpy(), a.labels) \
        if "subject" in frame else {}
    if subjects:  # Table 2 layout: classes are people, shown by their own id ("# 1" = CelebA identity 1)
        view.index = [f"# {subjects.get(label, label)}" for label in view.index]
        view.columns.name = a.name
    return _finish(rel, args, view, ".5f")  # Table 2 prints five decimals
