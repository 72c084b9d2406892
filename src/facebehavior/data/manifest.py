"""Manifests: one row per image, one column per label, null = no label.

Required columns: ``path`` (image file, relative to the manifest's folder unless absolute, or a
shard key), ``database``, ``split`` (``train``/``val``/``test``). Optional: ``subject``, ``video``,
``frame``, ``timestamp``, ``box`` (``"x y w h"`` in pixels), ``landmarks`` (``"x1 y1 ... x5 y5"``),
``aligned`` (the image is already a 112×112-style aligned crop). Label columns follow from the
task declarations (`facebehavior.labels.TaskSpec.columns`); a task whose columns are absent is
unlabelled for every row. Reading validates every row and reports all problems at once.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.errors import ManifestError
from facebehavior.labels import TaskSpec

REQUIRED = ("path", "database", "split")
OPTIONAL = ("subject", "video", "frame", "timestamp", "box", "landmarks", "aligned", "key", "det_score",
            "source_path")
SPLITS = ("train", "val", "test")
# Ids stay text: "0105" must not become 105 (pandas would guess a number).
TEXT_COLUMNS = ("path", "database", "split", "subject", "video", "box", "landmarks", "key", "source_path")
SOFT_TOLERANCE = 1e-3


@dataclass
class Manifest:
    """A validated table of samples and the folder its relative paths start from."""

    frame: pd.DataFrame
    root: Path
    source: str = "<memory>"

    def __len__(self) -> int:
        return len(self.frame)

    def split(self, name: str) -> "Manifest":
        return Manifest(self.frame[self.frame["split"] == name].reset_index(drop=True), self.root, self.source)

    def where(self, mask) -> "Manifest":
        return Manifest(self.frame[np.asarray(mask)].reset_index(drop=True), self.root, self.source)

    def image_paths(self) -> list[Path]:
        root = self.root
        return [p if p.is_absolute() else root / p for p in map(Path, self.frame["path"].astype(str))]


def _row_ref(source: str, index: int, is_csv: bool) -> str:
    # CSV line numbers count the header as line 1.
    return f"{source}, line {index + 2}" if is_csv else f"{source}, row {index}"


def _shown(value) -> str:
    """A cell as the user wrote it: `2.0`, not NumPy's `np.float64(2.0)`."""
    return repr(value.item() if isinstance(value, np.generic) else value)


def _check_task(frame: pd.DataFrame, task: TaskSpec, ref, problems: list[str]) -> None:
    if task.kind == "multiclass":
        if task.name in frame:
            raw = frame[task.name]
            col = pd.to_numeric(raw, errors="coerce")
            if not pd.api.types.is_numeric_dtype(raw):  # class names (object or str dtype) are mapped
                names = {n: i for i, n in enumerate(task.labels)}
                mapped = raw.map(lambda v: names.get(v.strip(), v) if isinstance(v, str) else v)
                col = pd.to_numeric(mapped, errors="coerce")
                frame[task.name] = col
            raw_bad = col.isna() & raw.notna()
            out_of_range = col.notna() & ((col < 0) | (col >= task.size) | (col != col.round()))
            for i in np.flatnonzero(raw_bad | out_of_range):
                problems.append(f"{ref(i)}, column {task.name!r}: {_shown(raw.iloc[i])} is not a class "
                                f"index in 0..{task.size - 1} or one of {list(task.labels)[:10]}")
        soft = [c for c in task.soft_columns if c in frame]
        if soft and len(soft) != task.size:
            problems.append(f"{frame.attrs.get('source')}: soft-label columns for {task.name!r} are incomplete; "
                            f"need all of {list(task.soft_columns)}")
        elif soft:
            values = frame[soft].apply(pd.to_numeric, errors="coerce").to_numpy(float)
            some = ~np.isnan(values)
            partial = some.any(1) & ~some.all(1)
            full = some.all(1)
            bad_sum = full & ((np.abs(values.sum(1, where=some) - 1) > SOFT_TOLERANCE) | (values < 0).any(1))
            for i in np.flatnonzero(partial):
                problems.append(f"{ref(i)}, columns '{task.name}_soft_*': soft label for {task.name!r} has some "
                                "values missing")
            for i in np.flatnonzero(bad_sum):
                problems.append(f"{ref(i)}, columns '{task.name}_soft_*': soft label for {task.name!r} is not a "
                                f"probability vector (sum {values[i].sum():.4f})")
        return
    for col_name in task.columns:
        if col_name not in frame:
            continue
        col = pd.to_numeric(frame[col_name], errors="coerce")
        nonnum = col.isna() & frame[col_name].notna()
        if task.kind == "multilabel":
            bad = nonnum | (col.notna() & ~col.isin([0, 1]))
            why = "must be 0, 1 or empty"
        else:
            lo, hi = task.extra.get("range", (-np.inf, np.inf))
            bad = nonnum | (col.notna() & ((col < lo) | (col > hi) | ~np.isfinite(col)))
            why = f"must be a number in [{lo}, {hi}] or empty"
        for i in np.flatnonzero(bad):
            problems.append(f"{ref(i)}, column {col_name!r}: {_shown(frame[col_name].iloc[i])} {why}")
        frame[col_name] = col


def sample_keys(frame: pd.DataFrame, paths=None) -> pd.Series:
    """What makes a row one sample: its image (normalised path) and, where given, the face in it
    (box or landmarks: one photo may hold several faces)."""
    paths = frame["path"] if paths is None else pd.Series([str(p) for p in paths], index=frame.index)
    keys = paths.fillna("").astype(str).str.strip().map(lambda p: os.path.normpath(p) if p else p)
    for column in ("box", "landmarks"):
        if column in frame:
            keys = keys + "|" + frame[column].fillna("").astype(str).str.split().str.join(" ")
    return keys


def _check_repeats(frame: pd.DataFrame, ref, problems: list[str]) -> None:
    """A sample listed twice in one split (training would weigh it double) is a problem, per repeat."""
    empty = frame["path"].isna() | (frame["path"].astype(str).str.strip() == "")  # reported as empty
    keys = sample_keys(frame) + "|" + frame["split"].astype(str)
    repeated = keys.duplicated(keep="first") & ~empty
    if not repeated.any():
        return
    first = {k: i for i, k in reversed(list(enumerate(keys)))}
    for i in np.flatnonzero(repeated):
        box = "".join(f" and {c}" for c in ("box", "landmarks") if c in frame and pd.notna(frame[c].iloc[i]))
        problems.append(f"{ref(i)}, column 'path': {_shown(frame['path'].iloc[i])} repeats the image{box} of "
                        f"{ref(first[keys.iloc[i]]).rsplit(', ', 1)[-1]} in split {frame['split'].iloc[i]!r}; "
                        "list each sample once")


def check_split_overlap(train: Manifest, others: dict[str, Manifest | None], allow: bool = False) -> list[str]:
    """Images in the training rows and also in another split (train/test leakage): a ManifestError
    naming them, unless `allow` (then their descriptions are returned, to be said as a note)."""
    train_keys = set(sample_keys(train.frame, train.image_paths()))
    found = []
    for split, other in others.items():
        if other is None:
            continue
        keys = sample_keys(other.frame, other.image_paths())
        for i in np.flatnonzero(keys.isin(train_keys)):
            found.append(f"{other.image_paths()[i]}: in the training rows ({train.source}) and in {split} "
                         f"({other.source})")
    if found and not allow:
        raise ManifestError(f"{len(found)} image(s) are both training and evaluation samples (train/test "
                            "leakage); remove them from one split, or set data.allow_split_overlap: true if "
                            "this is intended", found)
    return found


def validate_frame(frame: pd.DataFrame, tasks: list[TaskSpec], source: str = "<memory>",
                   is_csv: bool = True) -> pd.DataFrame:
    """Check columns and every row; return a normalised copy or raise `ManifestError`."""
    frame = frame.copy()
    frame.attrs["source"] = source
    missing = [c for c in REQUIRED if c not in frame]
    if missing:
        raise ManifestError(f"{source}: missing required column(s) {missing}; found {list(frame.columns)}")
    known = set(REQUIRED) | set(OPTIONAL)
    for t in tasks:
        known |= set(t.columns) | set(t.soft_columns)
    problems: list[str] = []

    def ref(i: int) -> str:
        return _row_ref(source, i, is_csv)

    for i in np.flatnonzero(frame["path"].isna() | (frame["path"].astype(str).str.strip() == "")):
        problems.append(f"{ref(i)}, column 'path': empty")
    for i in np.flatnonzero(frame["database"].isna() | (frame["database"].astype(str).str.strip() == "")):
        problems.append(f"{ref(i)}, column 'database': empty (each row names its database: protocols, label sets "
                        "and reports go by it)")
    _check_repeats(frame, ref, problems)
    bad_split = ~frame["split"].isin(SPLITS)
    for i in np.flatnonzero(bad_split):
        problems.append(f"{ref(i)}, column 'split': {frame['split'].iloc[i]!r} is not one of {SPLITS}")
    for task in tasks:
        _check_task(frame, task, ref, problems)
    if problems:
        raise ManifestError(f"{source}: {len(problems)} problem(s); fix them and load again", problems)
    unknown = [c for c in frame.columns if c not in known]
    frame.attrs["unknown_columns"] = unknown  # kept (e.g. extra metadata), but reported by the CLI
    return frame.reset_index(drop=True)


def read_manifest(path: str | Path, tasks: list[TaskSpec], root: str | Path | None = None) -> Manifest:
    """Read and validate a CSV or Parquet manifest."""
    path = Path(path)
    if not path.is_file():
        raise ManifestError(f"manifest {path} does not exist")
    is_csv = path.suffix.lower() != ".parquet"
    try:
        frame = pd.read_csv(path, dtype={c: str for c in TEXT_COLUMNS}) if is_csv \
            else pd.read_parquet(path)
    except Exception as exc:  # pandas raises many types for malformed files
        raise ManifestError(f"{path}: cannot be read as {'CSV' if is_csv else 'Parquet'}: {exc}") from exc
    frame = validate_frame(frame, tasks, str(path), is_csv)
    return Manifest(frame, Path(root) if root else path.parent, str(path))


def write_manifest(frame: pd.DataFrame, path: str | Path) -> Path:
    """Write CSV or Parquet (by suffix), atomically."""
    path = Path(path)
    with atomic.replacing(path) as tmp:
        if path.suffix.lower() == ".parquet":
            frame.to_parquet(tmp, index=False)
        else:
            frame.to_csv(tmp, index=False)
    return path


def concat_manifests(manifests: list[Manifest]) -> Manifest:
    """Join manifests; relative paths are made absolute so the result has one root."""
    frames = []
    for m in manifests:
        f = m.frame.copy()
        # absolute() so that a manifest given by a relative path keeps pointing at its images
        # (the joined manifest's root is "/")
        f["path"] = [str(p.absolute()) for p in m.image_paths()]
        frames.append(f)
    joined = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(REQUIRED))
    return Manifest(joined, Path("/"), "+".join(m.source for m in manifests))


def encode_labels(frame: pd.DataFrame, tasks: list[TaskSpec]) -> dict[str, np.ndarray]:
    """Label arrays for a validated frame.

    multiclass ``name``: int64 (N,), -1 = none; ``name_soft``: float32 (N, C), NaN rows = none
    (present only when the frame has the soft-label columns).
    multilabel / regression ``name``: float32 (N, K), NaN = not annotated.
    """
    n = len(frame)
    out: dict[str, np.ndarray] = {}
    for t in tasks:
        if t.kind == "multiclass":
            hard = frame[t.name].to_numpy(float) if t.name in frame else np.full(n, np.nan)
            out[t.name] = np.where(np.isnan(hard), -1, hard).astype(np.int64)
            soft_cols = [c for c in t.soft_columns if c in frame]
            if len(soft_cols) == t.size:  # absent otherwise: rows × 10,177 NaNs would cost GBs for identities
                out[f"{t.name}_soft"] = frame[soft_cols].to_numpy(np.float32)
        else:
            arr = np.full((n, t.size), np.nan, np.float32)
            for j, c in enumerate(t.columns):
                if c in frame:
                    arr[:, j] = frame[c].to_numpy(np.float32)
            out[t.name] = arr
    return out


def task_presence(labels: dict[str, np.ndarray], tasks: list[TaskSpec]) -> dict[str, np.ndarray]:
    """Per task, a bool (N,) saying whether the sample carries any label of it."""
    out = {}
    for t in tasks:
        if t.kind == "multiclass":
            soft = labels.get(f"{t.name}_soft")
            out[t.name] = labels[t.name] >= 0
            if soft is not None:
                out[t.name] |= ~np.isnan(soft).all(1)
        else:
            out[t.name] = ~np.isnan(labels[t.name]).all(1)
    return out


def load_split(paths: list[str], tasks: list[TaskSpec], split: str, root: str | None,
               databases: list[str] | None = None) -> Manifest | None:
    """Rows of `split` from every listed manifest (optionally only some databases), joined."""
    parts = [read_manifest(p, tasks, root).split(split) for p in paths]
    joined = concat_manifests([p for p in parts if len(p)])
    if databases:
        joined = joined.where(joined.frame["database"].isin(databases).to_numpy())
    return joined if len(joined) else None
