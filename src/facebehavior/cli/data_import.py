"""`facebehavior data import DB --root PATH --out DIR`: a native database → manifest + import report."""

from __future__ import annotations

# Option flags → importer option names. Flags left unset are not passed, so each importer
# keeps its own defaults and rejects options that do not apply to it.
_VALUE_FLAGS = (
    ("--format", "format", str, "manifest format: csv (default) or parquet"),
    ("--seed", "seed", int, "seed of the deterministic train/val split (default 0)"),
    ("--val-fraction", "val_fraction", float, "share of training subjects/images moved to val (default 0.1)"),
    ("--test-fraction", "test_fraction", float, "share of subjects to test where a database has no test set"),
    ("--subsample", "subsample", int, "video databases: keep one frame, skip the next N-1 (paper: 5)"),
    ("--split-file", "split_file", str, "lines '<subject> <train|val|test>' overriding the split protocol"),
    ("--images-dir", "images_dir", str, "image folder, relative to --root"),
    ("--image-pattern", "image_pattern", str, "video databases: frame path pattern, e.g. "
                                              "'frames/{subject}/{frame:05d}.jpg'"),
    ("--protocol", "protocol", str, "afew_va/gft/disfa: 'test' (all rows test) or 'split'"),
    ("--majority", "majority", str, "ferplus: hard-label rule 'barsoum' (default) or 'plurality'"),
    ("--threshold", "threshold", int, "disfa: intensity counted as occurrence (default 2)"),
    ("--views", "views", str, "bp4d_plus: comma-separated camera views, one row per view"),
    ("--mapping", "mapping", str, "generic_csv: YAML/JSON column mapping"),
    ("--database-name", "database", str, "generic_csv: value of the manifest's database column"),
)
_SWITCHES = (
    ("--clean", "clean", "affectnet: apply the paper's §4.3 cleaning rules to train/val"),
    ("--clean-test", "clean_test", "affectnet: also clean the test split"),
    ("--resplit", "resplit", "celeba: the paper's subject-dependent train/val/test split"),
)


def register_data(subparsers) -> None:
    from facebehavior.data.importers import IMPORTERS  # light: importer modules load on use

    names = list(IMPORTERS)
    parser = subparsers.add_parser(
        "import", help="turn a native database into a manifest and an import report",
        description="Read a database in its native layout, write DIR/<db>.csv|parquet and DIR/import_report.json "
                    "and print rows read, kept and dropped per reason. `--describe` prints a database's split "
                    "protocol and format assumptions.")
    parser.add_argument("database", metavar="DB", choices=names, help=f"one of: {', '.join(names)}")
    parser.add_argument("--root", help="folder holding the database files")
    parser.add_argument("--out", help="folder for the manifest and the report")
    parser.add_argument("--describe", action="store_true", help="print the importer's protocol and assumptions")
    parser.add_argument("--no-check-images", dest="check_images", action="store_const", const=False,
                        help="do not drop rows whose image file is missing")
    parser.add_argument("--map", action="append", metavar="KEY=VALUE", default=None,
                        help="generic_csv: column mapping entries given inline (override --mapping); "
                             "emotionet: label file → split, e.g. --map 'dataFile_1000.txt=test' (globs allowed)")
    for flag, option, kind, text in _VALUE_FLAGS:
        parser.add_argument(flag, dest=f"opt_{option}", metavar=option.upper(), type=kind, default=None, help=text)
    for flag, option, text in _SWITCHES:
        parser.add_argument(flag, dest=f"opt_{option}", action="store_const", const=True, default=None, help=text)
    parser.set_defaults(func=run)


def run(args) -> int:
    from facebehavior.data.importers import IMPORTERS, import_database
    from facebehavior.errors import ConfigError

    if args.describe:
        print(IMPORTERS[args.database].describe())
        return 0
    if not args.root or not args.out:
        raise ConfigError("--root and --out are required (or use --describe)")
    options = {option: getattr(args, f"opt_{option}") for _, option, _, _ in _VALUE_FLAGS}
    options.update({option: getattr(args, f"opt_{option}") for _, option, _ in _SWITCHES})
    options["check_images"] = args.check_images
    if args.map:
        options["map"] = _parse_map(args.map)
    report = import_database(args.database, args.root, args.out, **options)
    print(report.summary())
    return 0


def _parse_map(items: list[str]) -> dict[str, str]:
    from facebehavior.errors import ConfigError

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--map {item!r}: use KEY=VALUE, e.g. --map path=image")
        out[key.strip()] = value.strip()
    return out
