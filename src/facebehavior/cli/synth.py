"""`facebehavior synth`: generate a SynthFace benchmark (images + manifests + preset.json)."""

from __future__ import annotations

import time

ORDER = 5
QUICK_SCALE = 0.2


def register(subparsers) -> None:
    parser = subparsers.add_parser(
        "synth", help="generate the SynthFace procedural face benchmark",
        description="Render a SynthFace preset: several synthetic databases (PNG images, one manifest.csv "
                    "each) and OUT/preset.json describing them. Reuses OUT if it already holds the same "
                    "preset, size, seed, scale and generator version.")
    parser.add_argument("--preset", default="affect", choices=("affect", "identity"),
                        help="affect: the expression/AU/VA databases of the demo; identity: the CelebA-style set")
    parser.add_argument("--out", required=True, help="output folder")
    parser.add_argument("--size", type=int, default=64, help="image side in pixels, 16..112 (default 64)")
    parser.add_argument("--seed", type=int, default=0, help="preset seed (default 0)")
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every database's size (default 1)")
    parser.add_argument("--quick", action="store_true", help=f"a small variant: scale × {QUICK_SCALE}")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all CPU cores)")
    parser.add_argument("--force", action="store_true", help="regenerate even if OUT holds this preset")
    parser.add_argument("--shards", action="store_true",
                        help="also pack every database into WebDataset tar shards (OUT/<database>/shards/), "
                             "for large presets that are streamed rather than read as files")
    parser.add_argument("--shard-size", type=int, default=1000, help="images per shard (default 1000)")
    parser.set_defaults(func=run)


def run(args) -> int:
    from tqdm import tqdm

    from facebehavior.synthface import cached_preset, generate_preset, preset_total, read_preset
    from facebehavior.errors import ConfigError

    scale = args.scale * (QUICK_SCALE if args.quick else 1.0)
    if args.shard_size < 1:
        raise ConfigError(f"--shard-size {args.shard_size}: must be at least 1")
    cached = None if args.force else cached_preset(args.preset, args.out, args.size, args.seed, scale)
    if cached:
        print(f"SynthFace preset {args.preset!r} (size {args.size}, seed {args.seed}, scale {scale:g}) "
              f"is already in {args.out}; skipping generation (use --force to regenerate)")
        return _pack(cached, args.shard_size) if args.shards else 0
    total = preset_total(args.preset, scale)
    start = time.perf_counter()
    with tqdm(total=total, unit="img", desc=f"synth {args.preset}") as bar:
        path = generate_preset(args.preset, args.out, size=args.size, seed=args.seed, scale=scale,
                               workers=args.workers, force=True, progress=bar.update)
    seconds = time.perf_counter() - start
    print(f"wrote {total} images in {seconds:.1f} s ({total / seconds:.0f} images/s) to {args.out}")
    for db in read_preset(path)["databases"]:
        sizes = ", ".join(f"{k} {v}" for k, v in db["sizes"].items())
        print(f"  {db['name']:<16} {db['role']:<9} {'+'.join(db['tasks']):<22} {sizes}")
    print(f"description: {path}")
    return _pack(path, args.shard_size) if args.shards else 0


def _pack(path, shard_size: int) -> int:
    from facebehavior.synthface.generate import pack_preset_shards

    for name, index in pack_preset_shards(path, shard_size, progress=True).items():
        print(f"  {name:<16} {index['total']} images in {len(index['shards'])} shard(s), {index['skipped']} skipped")
    print(f"shards: {path.parent}/<database>/shards/ (index.json in each)")
    return 0
