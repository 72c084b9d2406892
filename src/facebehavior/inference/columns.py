"""The columns of an analysis table: one row per face per image or video frame.

Names are fixed and documented in docs/analyze.md. Task columns follow from the checkpoint's tasks:
- multiclass task ``expr``: ``expr_<label>`` (probability) for each label and ``expr_top`` (label);
- multilabel task ``au``: ``<label>`` (probability, e.g. ``au12``) and ``<label>_on`` (decision with
  the checkpoint's per-label threshold);
- regression task ``va``: ``<label>`` (``valence``, ``arousal``).
A head the checkpoint never trained leaves its columns null; ``untrained_heads`` names it. Within a
trained head, an AU or regression label without training annotations is null too, and
``untrained_labels`` names its column (multiclass classes never seen in training keep their
probability, which the softmax learned to keep low, and are named there as well).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import TaskSpec

LANDMARK_NAMES = ("left_eye", "right_eye", "nose", "mouth_left", "mouth_right")  # "left" = the image's left
BOX_COLUMNS = ("box_x", "box_y", "box_w", "box_h")
LANDMARK_COLUMNS = tuple(f"{name}_{axis}" for name in LANDMARK_NAMES for axis in ("x", "y"))

# Column -> pandas dtype, in output order, before the task columns.
META_SCHEMA: dict[str, str] = {
    "source": "string",        # the input file (absolute path)
    "media": "string",         # "image" or "video"
    "frame": "Int64",          # video frame index in the file (0-based); null for images
    "timestamp": "float64",    # seconds from the start of the video; null for images
    "face_index": "Int64",     # 0, 1, ... within the image/frame; null when no face was found
    "track_id": "Int64",       # video: the same face across frames; null for images
    "status": "string",        # "ok" or "no_face"
    "face_from": "string",     # "detector", "tracked" (optical flow between detections) or "aligned_input"
    **{c: "float64" for c in BOX_COLUMNS},       # face box in source pixels (x, y, width, height)
    **{c: "float64" for c in LANDMARK_COLUMNS},  # the five alignment landmarks in source pixels
    "det_score": "float64",    # detector confidence; null when no detector ran on this frame
}
NOTE_COLUMN = "untrained_heads"  # comma-separated names of heads without training labels ("" = none)
LABELS_NOTE_COLUMN = "untrained_labels"  # output columns of labels never annotated in training ("" = none,
                                         # null = the checkpoint did not record it)


def task_columns(task: TaskSpec) -> dict[str, str]:
    """Output columns (name -> dtype) of one task."""
    if task.kind == "multiclass":
        cols = {f"{task.name}_{label}": "float64" for label in task.labels}
        cols[f"{task.name}_top"] = "string"
        return cols
    if task.kind == "multilabel":
        return {**{label: "float64" for label in task.labels}, **{f"{label}_on": "boolean" for label in task.labels}}
    return {label: "float64" for label in task.labels}


def schema(tasks: list[TaskSpec], extra: dict[str, str] | None = None) -> dict[str, str]:
    """Every column of an analysis table, in order, with its pandas dtype."""
    out = dict(META_SCHEMA)
    for task in tasks:
        out.update(task_columns(task))
    out.update(extra or {})
    out[NOTE_COLUMN] = "string"
    out[LABELS_NOTE_COLUMN] = "string"
    return out


def label_column(task: TaskSpec, label: str) -> str:
    """The output column of one label's value."""
    return f"{task.name}_{label}" if task.kind == "multiclass" else label


def untrained_label_columns(tasks: list[TaskSpec], untrained: dict[str, list[str]], multiclass: bool = True) -> str:
    """Comma-separated output columns of labels without training annotations."""
    return ",".join(label_column(t, label) for t in tasks for label in untrained.get(t.name, [])
                    if multiclass or t.kind != "multiclass")


def blank_labels(task: TaskSpec, values: np.ndarray, untrained: list[str], fill: float = np.nan) -> np.ndarray:
    """`values` with the columns of untrained AU / regression labels set to `fill` (their numbers
    come from weights no loss ever reached). Multiclass probabilities are kept: they sum to one."""
    if task.kind == "multiclass" or not untrained:
        return values
    out = values.copy()
    out[:, [task.labels.index(label) for label in untrained]] = fill
    return out


def task_frame(task: TaskSpec, values: np.ndarray | None, threshold: np.ndarray | None, n: int) -> dict:
    """Column arrays of one task for `n` rows.

    `values` (n, K) with NaN rows where there is no face, or None for a head that was never trained.
    """
    cols = task_columns(task)
    if values is None:
        return {c: nulls(n, d) for c, d in cols.items()}
    values = np.asarray(values, np.float64)
    valid = ~np.isnan(values).any(1)
    out: dict = {}
    if task.kind == "multiclass":
        for k, label in enumerate(task.labels):
            out[f"{task.name}_{label}"] = values[:, k]
        top = np.asarray(task.labels, object)[np.nan_to_num(values, nan=-1.0).argmax(1)]
        out[f"{task.name}_top"] = pd.array(np.where(valid, top, None), dtype="string")
    elif task.kind == "multilabel":
        for k, label in enumerate(task.labels):
            out[label] = values[:, k]
        for k, label in enumerate(task.labels):
            decision = pd.array(values[:, k] >= threshold[k], dtype="boolean")
            decision[np.isnan(values[:, k])] = pd.NA  # no face, or an untrained label
            out[f"{label}_on"] = decision
    else:
        for k, label in enumerate(task.labels):
            out[label] = values[:, k]
    return out


def nulls(n: int, dtype: str):
    """`n` missing values of a column type (NaN for floats, <NA> for the nullable types)."""
    return np.full(n, np.nan) if dtype == "float64" else pd.array([None] * n, dtype=dtype)


def thresholds_for(task: TaskSpec, thresholds: dict) -> np.ndarray:
    """Per-label decision thresholds from checkpoint metadata (0.5 where none was tuned)."""
    value = np.asarray(thresholds.get(task.name, 0.5), np.float64).ravel()
    if value.size not in (1, task.size):
        raise FaceBehaviorError(f"checkpoint thresholds for task {task.name!r}: {value.size} values for "
                                f"{task.size} labels")
    return np.full(task.size, value[0]) if value.size == 1 else value


def coerce(frame: pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    """`frame` with exactly `columns`, in order, each with its dtype (text from CSV included)."""
    out = {}
    for name, dtype in columns.items():
        col = frame[name] if name in frame else pd.Series(nulls(len(frame), dtype), index=frame.index)
        if dtype == "boolean" and col.dtype != "boolean":
            col = col.map(_parse_bool, na_action="ignore")
        elif dtype in ("float64", "Int64") and not pd.api.types.is_numeric_dtype(col):
            col = pd.to_numeric(col, errors="coerce")
        out[name] = col.astype(dtype)
    return pd.DataFrame(out, index=frame.index)


def _parse_bool(value):
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    text = str(value).strip().lower()
    if text in ("true", "1", "1.0"):
        return True
    if text in ("false", "0", "0.0"):
        return False
    return pd.NA
