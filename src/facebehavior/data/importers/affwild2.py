"""Aff-Wild2 in the ABAW annotation format: one text file per video per task.

Native layout (folder names as in the ABAW releases; only the ``*_Set`` folder names matter)::

    <root>/<any>/<VA task>/Train_Set/<video>.txt        header "valence,arousal"
    <root>/<any>/<EXPR task>/Validation_Set/<video>.txt header "Neutral,Anger,Disgust,Fear,
                                                          Happiness,Sadness,Surprise,Other"
    <root>/<any>/<AU task>/Train_Set/<video>.txt        header "AU1,AU2,AU4,...,AU26"
    <root>/cropped_aligned/<video>/00001.jpg   (or cropped_aligned/cropped_aligned/<video>/...)

Each file's task is recognised from its header line, not from its folder. Data line k (1-based,
after the header) is video frame k and its image is ``cropped_aligned/<video>/<k:05d>.jpg`` (the
pairing public ABAW loaders use; frames numbered from 0 stop the import, see `check_frame_naming`).
Invalid codes: VA -5, EXPR -1, AU -1 (→ null); EXPR 7 (Other) has no canonical class (→ null).
Frames of all tasks are merged into one row per (video, frame); a frame without any valid label,
or without a cropped-aligned image (no face was found), is dropped and counted.

Split: the test labels are not public, so (as the paper does for AffectNet/BP4D/BP4D+) videos in
any ``Validation_Set`` are the test set, and the ``Train_Set``/``Training_Set`` videos are split
into train/val by video (``val_fraction``; the ``_left``/``_right`` faces of one video stay
together). A video listed under Train_Set for one task and Validation_Set for another goes to
test, so no image is both trained and tested on (the report counts such videos).

``subsample`` N keeps frame 1, N+1, 2N+1, … of each video (paper §4.3 uses 5 for Aff-Wild).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, group_split, read_lines, where
from facebehavior.data.importers.video import video_rows
from facebehavior.errors import DataFormatError
from facebehavior.labels import AU_NAMES, AUS, EXPRESSIONS

SPLIT_DIRS = {"train_set": "train", "training_set": "train", "validation_set": "validation"}
EXPR_HEADER = tuple(e.lower() for e in EXPRESSIONS) + ("other",)
OTHER = 7
VA_INVALID, EXPR_INVALID, AU_INVALID = -5.0, -1, -1
_AU = re.compile(r"^au(\d+)$")
_SIDE = re.compile(r"_(left|right)$")


@dataclass
class VideoLabels:
    """Per-video label arrays (NaN = no valid label) and which task files list which frames."""

    va: np.ndarray | None = None
    expr: np.ndarray | None = None
    au: dict[str, np.ndarray] = field(default_factory=dict)
    lines: int = 0
    split_sources: set = field(default_factory=set)


def detect_task(header: str, path: Path) -> tuple[str, list[int]]:
    """('va' | 'expr' | 'au', AU numbers) from a header line; anything else is a format error."""
    tokens = [t.strip().lower() for t in header.split(",")]
    if tokens == ["valence", "arousal"]:
        return "va", []
    if tuple(tokens) == EXPR_HEADER:
        return "expr", []
    numbers = [_AU.match(t.replace(" ", "")) for t in tokens]
    if tokens and all(numbers):
        return "au", [int(m.group(1)) for m in numbers]
    raise DataFormatError(f"{path}:1: header {header!r} is none of 'valence,arousal', "
                          f"'{','.join(EXPRESSIONS)},Other' (any case) or 'AU1,AU2,...'")


class AffWild2Importer(Importer):
    name = "affwild2"
    title = "Aff-Wild2 (ABAW annotations)"
    split_protocol = ("Validation_Set videos → test; Train_Set videos → train/val by video "
                      "(seeded; val_fraction)")
    assumptions = (
        "a video is one subject (the _left/_right faces of a video are split together)",
        "every release uses the three checked headers (any other header stops the import)",
    )
    defaults = {"subsample": 1, "images_dir": "cropped_aligned"}

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        images = ctx.root / ctx.option("images_dir")
        files = self._annotation_files(ctx.root, images)
        if (images / images.name).is_dir():
            # Some copies unzip to cropped_aligned/cropped_aligned/<video>/ (seen in public loaders).
            images = images / images.name
            ctx.report.note(f"frames read from the nested folder {images}")
        videos: dict[str, VideoLabels] = {}
        au_ignored: set[int] = set()
        for path, split in files:
            labels = videos.setdefault(path.stem, VideoLabels())
            labels.split_sources.add(split)
            au_ignored |= self._read_file(ctx, path, labels)
        if au_ignored:
            ctx.report.note(f"AUs outside the 17 canonical ones ignored: {sorted(au_ignored)}")
        splits = self._video_splits(ctx, videos)
        frames = [self._rows(ctx, video, labels, splits[video], images) for video, labels in sorted(videos.items())]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    def _annotation_files(self, root: Path, images: Path) -> list[tuple[Path, str]]:
        found = []
        for folder, dirs, names in os.walk(root):
            # The image tree holds millions of frames: never walk it.
            dirs[:] = sorted(d for d in dirs if Path(folder, d) != images)
            split = SPLIT_DIRS.get(Path(folder).name.lower())
            if split:
                found += [(Path(folder, n), split) for n in sorted(names) if n.endswith(".txt")]
        if not found:
            raise DataFormatError(f"{root}: no annotation .txt files in any folder named "
                                  f"{sorted(set(SPLIT_DIRS))} (any case); is --root the Aff-Wild2 folder?")
        return found

    def _read_file(self, ctx: ImportContext, path: Path, labels: VideoLabels) -> set[int]:
        lines = read_lines(path)
        header = next(lines, (1, ""))[1]
        if not header.strip():
            ctx.report.issue("empty annotation file skipped", str(path))
            return set()
        task, au_numbers = detect_task(header, path)
        values, invalid, malformed = [], 0, 0
        parse = {"va": _parse_va, "expr": _parse_expr, "au": lambda t: _parse_au(t, len(au_numbers))}[task]
        for number, text in lines:
            parsed = parse(text.strip())
            if parsed is None:
                malformed += 1
                ctx.report.issue(f"malformed {task.upper()} line: label ignored", where(path, number))
                parsed = [np.nan] * max(len(au_numbers), 2 if task == "va" else 1)
            values.append(parsed)
        array = np.array(values, dtype=float).reshape(len(values), -1) if values else np.zeros((0, 1))
        labels.lines = max(labels.lines, len(array))
        if task == "va":
            invalid = int(np.isnan(array).any(1).sum()) - malformed
            labels.va = _merge(labels.va, array)
        elif task == "expr":
            other = int((array[:, 0] == OTHER).sum())
            if other:
                ctx.report.issue("EXPR 7 (Other): no canonical expression, expr null", str(path), other)
            invalid = int(np.isnan(array[:, 0]).sum()) - malformed
            array[array[:, 0] == OTHER, 0] = np.nan
            labels.expr = _merge(labels.expr, array[:, :1])
        else:
            invalid = int(np.isnan(array).any(1).sum()) - malformed
            for j, au in enumerate(au_numbers):
                if au in AUS:
                    labels.au[f"au{au}"] = _merge(labels.au.get(f"au{au}"), array[:, j:j + 1])
        if invalid:
            code = {"va": "-5", "expr": "-1", "au": "-1"}[task]
            ctx.report.issue(f"{task.upper()} {code} (not annotated): label null", str(path), invalid)
        return {au for au in au_numbers if au not in AUS}

    def _video_splits(self, ctx: ImportContext, videos: dict[str, VideoLabels]) -> dict[str, str]:
        both = [v for v, lab in videos.items() if len(lab.split_sources) > 1]
        if both:
            ctx.report.note(f"{len(both)} video(s) listed under Train_Set for one task and Validation_Set for "
                            f"another went to test, e.g. {both[0]}")
        test = {v for v, lab in videos.items() if "validation" in lab.split_sources}
        train_groups = {_SIDE.sub("", v) for v in videos if v not in test}
        by_group = group_split(train_groups, {"val": ctx.option("val_fraction")}, ctx.option("seed"))
        return {v: "test" if v in test else by_group[_SIDE.sub("", v)] for v in videos}

    def _rows(self, ctx: ImportContext, video: str, labels: VideoLabels, split: str, images: Path) -> pd.DataFrame:
        n = labels.lines
        cols: dict[str, np.ndarray] = {}
        if labels.va is not None:
            va = _pad(labels.va, n)
            cols["valence"], cols["arousal"] = va[:, 0], va[:, 1]
        if labels.expr is not None:
            cols["expr"] = _pad(labels.expr, n)[:, 0]
        for name in AU_NAMES:
            if name in labels.au:
                cols[name] = _pad(labels.au[name], n)[:, 0]
        folder = str(images / video)  # plain strings: millions of Path objects are slow
        return video_rows(ctx, video=video, subject=video, split=split, frames=np.arange(1, n + 1), labels=cols,
                          image_path=lambda k: f"{folder}/{k:05d}.jpg", aligned=True)


def _parse_va(text: str) -> list[float] | None:
    parts = text.split(",")
    if len(parts) != 2:
        return None
    try:
        values = [float(p) for p in parts]
    except ValueError:
        return None
    if any(v != v or (v != VA_INVALID and not -1 <= v <= 1) for v in values):
        return None
    return [np.nan if v == VA_INVALID else v for v in values]


def _parse_expr(text: str) -> list[float] | None:
    try:
        value = int(text)
    except ValueError:
        return None
    if not EXPR_INVALID <= value <= OTHER:
        return None
    return [np.nan if value == EXPR_INVALID else float(value)]


_AU_CODES = {"-1": np.nan, "0": 0.0, "1": 1.0}


def _parse_au(text: str, count: int) -> list[float] | None:
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != count or any(p not in _AU_CODES for p in parts):
        return None
    return [_AU_CODES[p] for p in parts]


def _merge(current: np.ndarray | None, new: np.ndarray) -> np.ndarray:
    """Labels of one task for one video from several files (e.g. Train and Validation): first wins."""
    if current is None:
        return new
    n = max(len(current), len(new))
    out = _pad(current, n)
    fill = np.isnan(out) & ~np.isnan(_pad(new, n))
    out[fill] = _pad(new, n)[fill]
    return out


def _pad(array: np.ndarray, n: int) -> np.ndarray:
    if len(array) >= n:
        return array[:n].astype(float)
    pad = np.full((n - len(array), array.shape[1]), np.nan)
    return np.vstack([array.astype(float), pad])
