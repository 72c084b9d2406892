"""Aff-Wild (Kollias et al., IJCV 2019; the CVPR 2017 challenge): per-frame valence/arousal.

Native annotation layout (as released)::

    <root>/annotations/train/valence/<video>.txt   one value in [-1, 1] per line, line k = frame k
    <root>/annotations/train/arousal/<video>.txt
    <root>/annotations/test/valence/<video>.txt    (test labels, released after the challenge)

Aff-Wild ships videos, not frames: extract frames yourself and give their location with
``image_pattern`` (default ``frames/{video}/{frame:05d}.jpg``, relative to root; ``frame`` is
1-based like the annotation lines). This frame naming is our assumption, not part of the release.

Split: annotations/test → test; annotations/train videos → train/val by video (seeded,
``val_fraction``). ``subsample`` 5 reproduces the paper's §4.3 (one frame kept, four skipped).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, group_split, read_lines, to_float, where
from facebehavior.data.importers.video import video_rows
from facebehavior.errors import DataFormatError

PARTS = {"train": "train", "test": "test"}


def read_values(ctx: ImportContext, path: Path) -> np.ndarray:
    """One float in [-1, 1] per line; a malformed line becomes NaN and is reported."""
    values = []
    for number, line in read_lines(path):
        value = to_float(line.strip())
        if value is None or not -1 <= value <= 1:
            ctx.report.issue(f"malformed {path.parent.name} line: label ignored", where(path, number))
            value = np.nan
        values.append(value)
    return np.array(values, dtype=float)


class AffWildImporter(Importer):
    name = "affwild"
    title = "Aff-Wild (valence/arousal)"
    split_protocol = "annotations/test → test; annotations/train → train/val by video (seeded; val_fraction)"
    assumptions = (
        "frames were extracted from the videos numbered from 1, line k → image_pattern with frame k "
        "(default frames/{video}/{frame:05d}.jpg)",
    )
    defaults = {"subsample": 1, "image_pattern": "frames/{video}/{frame:05d}.jpg"}
    label_tasks = ("va",)

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        videos = self._videos(ctx.root)
        train_videos = [v for v, part in videos if part == "train"]
        by_video = group_split(train_videos, {"val": ctx.option("val_fraction")}, ctx.option("seed"))
        pattern = ctx.option("image_pattern")
        frames = []
        for video, part in videos:
            folder = ctx.root / "annotations" / part
            valence = read_values(ctx, folder / "valence" / f"{video}.txt")
            arousal_file = folder / "arousal" / f"{video}.txt"
            arousal = read_values(ctx, arousal_file) if arousal_file.is_file() else np.array([])
            if len(valence) != len(arousal):
                ctx.report.issue("valence and arousal files differ in length: missing values null",
                                 str(arousal_file), abs(len(valence) - len(arousal)))
            n = max(len(valence), len(arousal))
            valence, arousal = _pad(valence, n), _pad(arousal, n)
            both = np.isnan(valence) | np.isnan(arousal)  # VA is used as a pair
            valence[both], arousal[both] = np.nan, np.nan
            split = "test" if part == "test" else by_video[video]
            frames.append(video_rows(
                ctx, video=video, subject=video, split=split, frames=np.arange(1, n + 1),
                labels={"valence": valence, "arousal": arousal},
                image_path=lambda k, v=video: ctx.root / pattern.format(video=v, frame=k)))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _videos(self, root: Path) -> list[tuple[str, str]]:
        found = []
        for part in PARTS:
            folder = root / "annotations" / part / "valence"
            found += [(p.stem, part) for p in sorted(folder.glob("*.txt"))] if folder.is_dir() else []
        if not found:
            raise DataFormatError(f"{root}: no annotations/train/valence/*.txt or annotations/test/valence/*.txt; "
                                  "is --root the Aff-Wild folder?")
        return found


def _pad(values: np.ndarray, n: int) -> np.ndarray:
    return np.concatenate([values.astype(float), np.full(n - len(values), np.nan)])
