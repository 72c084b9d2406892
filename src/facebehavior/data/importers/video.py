"""Rows of one video: subsampling, 'no valid label' and missing-image drops, the frame table."""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext


def video_rows(ctx: ImportContext, *, video: str, subject: str, split: str, frames: np.ndarray,
               labels: dict[str, np.ndarray], image_path: Callable[[int], str | Path],
               extra: dict[str, list] | None = None, aligned: bool = False) -> pd.DataFrame:
    """Manifest rows of one video; every frame is counted as read, each one not kept as dropped.

    `frames` are frame numbers in video order; `labels` maps a manifest column to one float value
    per frame (NaN = no label); `extra` adds per-frame columns (e.g. landmarks). With option
    ``subsample`` N, frames at positions 0, N, 2N, … are kept (one kept, N-1 skipped).
    """
    frames = np.asarray(frames)
    n = len(frames)
    ctx.report.rows_read += n
    step = int(ctx.options.get("subsample", 1))
    keep = np.arange(n) % step == 0
    if (~keep).any():
        ctx.report.drop(f"skipped by subsample {step}", f"video {video}", int((~keep).sum()))
    labelled = np.zeros(n, dtype=bool)
    for values in labels.values():
        labelled |= ~np.isnan(values)
    unlabelled = keep & ~labelled
    if unlabelled.any():
        ctx.report.drop("no valid label", f"video {video}", int(unlabelled.sum()))
    keep &= labelled
    paths = {}
    for i in np.flatnonzero(keep):
        path = image_path(int(frames[i]))
        keep[i] = ctx.keep_image(path, f"video {video} frame {frames[i]}")
        paths[i] = str(path)
    index = np.flatnonzero(keep)
    out = pd.DataFrame({"path": [paths[i] for i in index], "video": video, "subject": subject,
                        "frame": frames[index], "split": split, "aligned": aligned})
    for name, values in labels.items():
        out[name] = np.asarray(values, dtype=float)[index]
    for name, values in (extra or {}).items():
        out[name] = [values[i] for i in index]
    return out

