"""`import_database`: run one importer, validate its frame, write the manifest and the report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from facebehavior.data.importers.base import COMMON_OPTIONS, ImportContext, Importer, ImportReport, \
    read_lines, split_counts
from facebehavior.data.manifest import OPTIONAL, REQUIRED, encode_labels, sample_keys, task_presence, \
    validate_frame, write_manifest
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import TaskSpec

FORMATS = {"csv": ".csv", "parquet": ".parquet"}
REPORT_NAME = "import_report.json"


def resolve_options(importer: Importer, options: dict[str, Any]) -> dict[str, Any]:
    """Defaults overlaid with the given options (None = not given); unknown names are an error."""
    merged = {**COMMON_OPTIONS, **importer.defaults}
    unknown = sorted(k for k, v in options.items() if v is not None and k not in merged)
    if unknown:
        raise ConfigError(f"option(s) {unknown} do not apply to database {importer.name!r}; "
                          f"its options are {sorted(merged)}")
    merged.update({k: v for k, v in options.items() if v is not None})
    if merged["format"] not in FORMATS:
        raise ConfigError(f"format {merged['format']!r}: use one of {sorted(FORMATS)}")
    for name in ("val_fraction", "test_fraction"):
        if name in merged and not 0 <= float(merged[name]) < 1:
            raise ConfigError(f"{name} {merged[name]} must lie in [0, 1)")
    for name in ("subsample",):
        if name in merged and (not str(merged[name]).isdigit() or int(merged[name]) < 1):
            raise ConfigError(f"{name} {merged[name]!r} must be a positive integer")
    return merged


def run_import(importer: Importer, root: str | Path, out: str | Path, **options) -> ImportReport:
    opts = resolve_options(importer, options)
    root, out = Path(root).expanduser().resolve(), Path(out).expanduser()
    if not root.is_dir():
        raise DataFormatError(f"--root {root} is not a folder; point it at the unpacked {importer.title} files")
    report = ImportReport(importer.name, str(root), {k: _jsonable(v) for k, v in opts.items()})
    report.note(f"split protocol: {importer.split_protocol}")
    for assumption in importer.assumptions:
        # Unconfirmed format details are stated in every report, not only in --describe.
        report.note(f"assumes: {assumption}")
    ctx = ImportContext(root, opts, report)
    frame = importer.load(ctx)
    if opts["split_file"]:
        frame = apply_split_file(frame, Path(opts["split_file"]), report)
    tasks = importer.tasks(frame)
    frame = _normalise(frame, importer.name, tasks)
    frame = _drop_repeats(frame, report)
    _check_balance(report, len(frame))
    out.mkdir(parents=True, exist_ok=True)
    report_path = out / REPORT_NAME
    report.rows_kept = len(frame)
    if frame.empty:
        report.write_json(report_path)
        hint = (f"; no image was found, e.g. {ctx.missing_example} — check --root and the image options"
                if ctx.images_missing else "")
        raise DataFormatError(f"{importer.name}: no row was kept out of {report.rows_read} read{hint}. "
                              f"Details in {report_path}")
    frame = validate_frame(frame, tasks, source=f"{importer.name} import", is_csv=False)
    manifest_path = write_manifest(frame, out / f"{importer.name}{FORMATS[opts['format']]}")
    report.splits = split_counts(frame["split"])
    report.labelled = _labelled_counts(frame, tasks, importer.label_tasks)
    report.outputs = [str(manifest_path), str(report_path)]
    report.write_json(report_path)
    return report


def _jsonable(value):
    return value if isinstance(value, (str, int, float, bool, type(None))) else str(value)


def _check_balance(report: ImportReport, kept: int) -> None:
    # Every row read is either kept or dropped with a reason; a mismatch is an importer bug.
    if report.rows_read != kept + report.rows_dropped:
        raise RuntimeError(f"{report.database} importer: read {report.rows_read} rows but kept {kept} and "
                           f"dropped {report.rows_dropped}; please report this bug")


def _normalise(frame: pd.DataFrame, name: str, tasks: list[TaskSpec]) -> pd.DataFrame:
    """Integer label columns as nullable Int64, columns in a stable order."""
    frame = frame.reset_index(drop=True)
    if "database" not in frame:
        frame.insert(0, "database", name)
    label_cols: list[str] = []
    for task in tasks:
        for col in task.columns:
            if col in frame and task.kind in ("multiclass", "multilabel"):
                frame[col] = pd.to_numeric(frame[col]).astype("Int64")
            elif col in frame:
                frame[col] = pd.to_numeric(frame[col]).astype(float)
        label_cols += [c for c in task.columns + task.soft_columns if c in frame]
    head = [c for c in REQUIRED + OPTIONAL if c in frame]
    rest = [c for c in frame.columns if c not in head and c not in label_cols]
    return frame[head + label_cols + rest]


def _drop_repeats(frame: pd.DataFrame, report: ImportReport) -> pd.DataFrame:
    """A row repeated exactly is kept once; an image (with its box) listed again with other labels
    or in another split is not kept at all (which row is right cannot be told; in two splits it
    would leak). Every row not kept is counted in the report, at its image."""
    if frame.empty:
        return frame
    exact = frame.duplicated(keep="first").to_numpy()
    for path in frame["path"][exact]:
        report.drop("duplicate row: the same image, split and labels as an earlier row", str(path))
    frame = frame[~exact]
    conflict = sample_keys(frame).duplicated(keep=False).to_numpy()
    for path in frame["path"][conflict]:
        report.drop("image listed more than once with different labels or splits: none of its rows kept", str(path))
    return frame[~conflict].reset_index(drop=True)


def _labelled_counts(frame: pd.DataFrame, tasks: list[TaskSpec], names: tuple[str, ...]) -> dict[str, int]:
    labels = encode_labels(frame, tasks)
    present = task_presence(labels, tasks)
    out: dict[str, int] = {}
    for t in tasks:
        if t.name in names or any(c in frame for c in t.columns):
            out[t.name] = int(present[t.name].sum())
            if t.kind == "multiclass" and any(c in frame for c in t.soft_columns):
                out[f"{t.name} (hard label)"] = int((labels[t.name] >= 0).sum())
    return out


def apply_split_file(frame: pd.DataFrame, path: Path, report: ImportReport) -> pd.DataFrame:
    """Override splits by subject: lines ``<subject> <split>`` (comma or whitespace separated).

    Rows of subjects the file does not list are dropped (counted), so a published split list
    (e.g. GFT's official train/test subjects) is reproduced exactly.
    """
    if "subject" not in frame or frame["subject"].isna().all():
        raise ConfigError(f"--split-file {path}: this database has no subject ids to match against")
    mapping: dict[str, str] = {}
    for number, line in read_lines(path):
        text = line.split("#", 1)[0].replace(",", " ").split()
        if not text:
            continue
        if len(text) != 2 or text[1] not in ("train", "val", "test"):
            raise DataFormatError(f"{path}:{number}: expected '<subject> <train|val|test>', got {line!r}")
        mapping[text[0]] = text[1]
    new_split = frame["subject"].astype(str).map(mapping)
    unlisted = new_split.isna()
    if unlisted.any():
        for subject, count in frame.loc[unlisted, "subject"].astype(str).value_counts().items():
            report.drop("subject not listed in --split-file", f"subject {subject}", int(count))
    report.note(f"splits taken from {path} ({len(mapping)} subjects)")
    frame = frame.loc[~unlisted].copy()
    frame["split"] = new_split[~unlisted].to_numpy()
    return frame
