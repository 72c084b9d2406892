"""Rows of one video: subsampling, 'no valid label' and missing-image drops, the frame table."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext
from facebehavior.errors import DataFormatError


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
    checked = np.flatnonzero(keep)
    for i in checked:
        path = image_path(int(frames[i]))
        keep[i] = ctx.keep_image(path, f"video {video} frame {frames[i]}")
        paths[i] = str(path)
    if len(checked):
        check_frame_naming(ctx, video, frames, image_path, found=int(keep[checked].sum()))
    index = np.flatnonzero(keep)
    out = pd.DataFrame({"path": [paths[i] for i in index], "video": video, "subject": subject,
                        "frame": frames[index], "split": split, "aligned": aligned})
    for name, values in labels.items():
        out[name] = np.asarray(values, dtype=float)[index]
    for name, values in (extra or {}).items():
        out[name] = [values[i] for i in index]
    return out



def check_frame_naming(ctx: ImportContext, video: str, frames: np.ndarray,
                       image_path: Callable[[int], str | Path], found: int) -> None:
    """Fail when the frames on disk contradict the assumed frame naming, instead of mislabelling.

    Two checks, both on folders that exist: labels numbered from 1 but a frame 0 image present
    (frames extracted from 0: every label would sit one frame off), and a frame folder holding
    files of which none has the expected name (a different naming scheme: every row would be
    dropped as 'image file missing' although the frames are there).
    """
    if not ctx.options.get("check_images", True) or len(frames) == 0:
        return
    first = int(np.min(frames))
    expected = str(image_path(first))
    folder = os.path.dirname(expected)
    if first == 1:
        zero = str(image_path(0))
        if os.path.dirname(zero) == folder and ctx.file_listed(zero):
            raise DataFormatError(
                f"{zero}: exists, but the labels of video {video} number frames from 1 (the importer pairs label "
                f"frame k with {os.path.basename(expected)} for k=1), so these frames look numbered from 0 and every "
                "label would land one frame off. Re-extract the frames numbered from 1 (ffmpeg's default) or move "
                "them, then import again.")
    names = ctx.listing(folder)
    if found == 0 and names:
        example = sorted(names)[0]
        raise DataFormatError(
            f"{folder}: holds {len(names)} file(s), e.g. {example}, but none of the frames labelled for video "
            f"{video} (e.g. {os.path.basename(expected)}); the frames are named differently from the assumed "
            "pattern. Give the real naming with --image-pattern (or --images-dir) and import again.")
