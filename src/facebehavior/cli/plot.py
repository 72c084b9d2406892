"""`facebehavior plot`: per-video timelines (expressions, valence/arousal, AU heatmap) as PNG."""

from __future__ import annotations

ORDER = 32


def register(subparsers) -> None:
    p = subparsers.add_parser("plot", help="timelines of analysed videos as PNG",
                              description="For every video in a results table from `analyze`: expression "
                                          "probabilities, valence and arousal, and an AU heatmap over time, "
                                          "one PNG per face track.")
    p.add_argument("results", help="results table (.csv, .parquet or .jsonl) written by `facebehavior analyze`")
    p.add_argument("--out", required=True, help="output folder for the PNG files")
    p.add_argument("--max-tracks", type=int, default=4, help="plot at most this many face tracks per video "
                                                              "(the longest; default 4)")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.inference.timeline import plot_timelines

    written = plot_timelines(args.results, args.out, args.max_tracks)
    for path in written:
        print(path)
    print(f"{len(written)} timeline(s) written to {args.out}")
    return 0
