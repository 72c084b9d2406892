"""`facebehavior data pack`: a manifest's images and rows as WebDataset tar shards + index.json."""

from __future__ import annotations


def register_data(subparsers) -> None:
    p = subparsers.add_parser(
        "pack", help="write WebDataset tar shards (+ index.json) from a manifest",
        description="Pack every row of a manifest as {key}.png|jpg + {key}.json (all columns, nulls kept) into "
                    "OUT/shard-NNNNNN.tar, and write OUT/index.json (shards, counts, labelled samples per task). "
                    "Unreadable images are skipped and listed in the index.")
    p.add_argument("--manifest", required=True, help="input manifest (CSV or Parquet), e.g. from `data prepare`")
    p.add_argument("--out", required=True, help="output folder for the shards and index.json")
    p.add_argument("--shard-size", type=int, default=1000, help="samples per shard (default 1000)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.data.manifest import read_manifest
    from facebehavior.data.shards import INDEX_NAME, pack_shards
    from facebehavior.labels import affect_tasks

    tasks = affect_tasks()
    manifest = read_manifest(args.manifest, tasks)
    index = pack_shards(manifest, args.out, tasks, shard_size=args.shard_size, progress=not args.no_progress)
    labelled = ", ".join(f"{k} {v}" for k, v in index["tasks"].items())
    print(f"packed {index['total']}/{len(manifest)} rows into {len(index['shards'])} shard(s) in {args.out} "
          f"({index['seconds']} s); labelled: {labelled}")
    if index["skipped"]:
        print(f"skipped {index['skipped']} unreadable image(s):")
        for s in index["skipped_rows"][:10]:
            print(f"  - {s['row']}: {s['reason']}: {s['detail']}")
    print(f"index: {args.out}/{INDEX_NAME}")
    return 0 if index["total"] or not len(manifest) else 1
