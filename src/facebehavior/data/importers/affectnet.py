"""AffectNet (Mollahosseini et al., 2017): manually annotated expressions and valence/arousal.

Native layout::

    <root>/Manually_Annotated_file_lists/training.csv   (or <root>/training.csv)
    <root>/Manually_Annotated_file_lists/validation.csv (or <root>/validation.csv)
    <root>/Manually_Annotated_Images/<subDirectory_filePath>   (or set images_dir)

Header ``subDirectory_filePath,face_x,face_y,face_width,face_height,facial_landmarks,
expression,valence,arousal``; landmarks are 68 ``x;y`` pairs joined by ``;``. Expression codes:
0 Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7 Contempt, 8 None,
9 Uncertain, 10 Non-Face; valence/arousal lie in [-1, 1] with -2 meaning "not annotated".

Mapping: codes 0-6 → the canonical expression; contempt/none/uncertain keep the row for its
valence/arousal when valid and are dropped (per code) otherwise; non-face rows are always dropped
(a non-face image is no training sample for any face task, whatever its VA says). The face box
becomes ``box``; the 68 landmarks are reduced to the 5-point layout (eye centres, nose tip,
mouth corners). Any other code or an out-of-range VA value makes the line malformed (dropped).

Split (paper §4.1): validation.csv is the test set; training.csv is split into train/val. AffectNet
has no subject ids, so that split is per image (a hash of seed and path; ``val_fraction``), not
subject-independent: one person may appear in both.

``clean`` applies the paper's §4.3 rules to train/val (``clean_test`` also to test): neutral needs
a VA radius < 0.15; sadness, disgust and fear need valence < 0; anger needs valence < 0 and
arousal > 0; happiness needs valence > 0. Rows without valid VA cannot be checked and are kept.
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, five_from_68, format_box, \
    format_numbers, hashed_split, open_text, relative_keys, to_float, to_int, where
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import EXPRESSIONS

HEADER = ("subdirectory_filepath", "face_x", "face_y", "face_width", "face_height", "facial_landmarks",
          "expression", "valence", "arousal")
TO_CANONICAL = {0: "neutral", 1: "happiness", 2: "sadness", 3: "surprise", 4: "fear", 5: "disgust", 6: "anger"}
NO_CLASS = {7: "contempt", 8: "none", 9: "uncertain"}
NON_FACE = 10
VA_INVALID = -2.0
LIST_DIRS = ("Manually_Annotated_file_lists", ".")
IMAGE_DIRS = ("Manually_Annotated_Images", "Manually_Annotated/Manually_Annotated_Images", ".")


def clean_rule(expr: str, valence: float, arousal: float) -> str | None:
    """The §4.3 rule a row breaks (its description), or None when it passes or cannot be checked."""
    if expr == "neutral" and np.hypot(valence, arousal) >= 0.15:
        return "--clean: neutral needs VA radius < 0.15"
    if expr in ("sadness", "disgust", "fear") and not valence < 0:
        return f"--clean: {expr} needs valence < 0"
    if expr == "anger" and not (valence < 0 and arousal > 0):
        return "--clean: anger needs valence < 0 and arousal > 0"
    if expr == "happiness" and not valence > 0:
        return "--clean: happiness needs valence > 0"
    return None


class AffectNetImporter(Importer):
    name = "affectnet"
    title = "AffectNet (manually annotated part)"
    split_protocol = ("validation.csv → test; training.csv → train/val by a per-image hash (no subject ids, "
                      "so not subject-independent)")
    assumptions = (
        "facial_landmarks holds 68 x;y pairs in iBUG order; an unreadable landmark field is reported and left empty",
        "the automatically annotated part is not imported",
    )
    defaults = {"clean": False, "clean_test": False, "images_dir": None}

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        if ctx.option("clean_test") and not ctx.option("clean"):
            raise ConfigError("clean_test only makes sense together with clean")
        lists = {name: _find(ctx.root, name) for name in ("training.csv", "validation.csv")}
        if not any(lists.values()):
            raise DataFormatError(f"{ctx.root}: neither training.csv nor validation.csv found (looked in "
                                  f"{[str(ctx.root / d) for d in LIST_DIRS]})")
        images = self._images_dir(ctx)
        frames = []
        for name, split in (("training.csv", "train"), ("validation.csv", "test")):
            if lists[name] is None:
                ctx.report.note(f"{name} not found: no {split} rows from it")
                continue
            frames.append(self._read_list(ctx, lists[name], images, split))
        frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
        if not frame.empty:
            train = frame["split"] == "train"
            keys = relative_keys(frame.loc[train, "path"], ctx.root)
            frame.loc[train, "split"] = hashed_split(keys, ctx.option("val_fraction"), ctx.option("seed"))
        return self._clean(ctx, frame)

    def _images_dir(self, ctx: ImportContext) -> Path:
        if ctx.option("images_dir"):
            folder = Path(ctx.option("images_dir"))
            return folder if folder.is_absolute() else ctx.root / folder
        return next((ctx.root / d for d in IMAGE_DIRS if (ctx.root / d).is_dir()), ctx.root)

    def _read_list(self, ctx: ImportContext, path: Path, images: Path, split: str) -> pd.DataFrame:
        rows = []
        with open_text(path, report=ctx.report) as handle:
            reader = csv.reader(handle)
            header = tuple(h.strip().lower() for h in next(reader, []))
            if header != HEADER:
                raise DataFormatError(f"{path}:1: header {list(header)} is not the AffectNet header {list(HEADER)}")
            for number, fields in enumerate(reader, 2):
                if not fields:
                    continue
                ctx.report.rows_read += 1
                at = where(path, number)
                row = self._parse(ctx, fields, at)
                if row is None or not ctx.keep_image(images / row["path"], at):
                    continue
                row.update(path=str(images / row["path"]), split=split, aligned=False)
                rows.append(row)
        return pd.DataFrame(rows)

    def _parse(self, ctx: ImportContext, fields: list[str], at: str) -> dict | None:
        if len(fields) != len(HEADER):
            ctx.report.drop(f"malformed line: {len(fields)} fields, expected {len(HEADER)}", at)
            return None
        rel, x, y, w, h, marks, code, valence, arousal = (f.strip() for f in fields)
        box = [to_float(v) for v in (x, y, w, h)]
        code_int, v, a = to_int(code), to_float(valence), to_float(arousal)
        problem = _problem(rel, box, code_int, v, a)
        if problem:
            ctx.report.drop(f"malformed line: {problem}", at)
            return None
        if code_int == NON_FACE:
            ctx.report.drop("non-face (code 10)", at)
            return None
        va_valid = v != VA_INVALID and a != VA_INVALID
        if code_int in NO_CLASS and not va_valid:
            ctx.report.drop(f"{NO_CLASS[code_int]} (code {code_int}) has no canonical expression and no valid VA", at)
            return None
        row = {"path": rel, "box": format_box(*box),
               "expr": EXPRESSIONS.index(TO_CANONICAL[code_int]) if code_int in TO_CANONICAL else None,
               "valence": v if va_valid else None, "arousal": a if va_valid else None,
               "landmarks": _five_points(marks)}
        if row["landmarks"] is None:
            ctx.report.issue("facial_landmarks unreadable: landmarks left empty", at)
        if not va_valid:
            ctx.report.issue("valence/arousal -2 (not annotated): VA null", at)
        if code_int in NO_CLASS:
            ctx.report.issue(f"{NO_CLASS[code_int]} (code {code_int}): expression null, VA kept", at)
        row["_where"] = at
        return row

    def _clean(self, ctx: ImportContext, frame: pd.DataFrame) -> pd.DataFrame:
        if frame.empty:
            return frame
        splits = {"train", "val"} | ({"test"} if ctx.option("clean_test") else set())
        if ctx.option("clean"):
            ctx.report.note(f"--clean (paper §4.3) applied to {sorted(splits)}")
            keep = np.ones(len(frame), dtype=bool)
            for i, (expr, v, a, split, at) in enumerate(
                    zip(frame["expr"], frame["valence"], frame["arousal"], frame["split"], frame["_where"])):
                if split not in splits or pd.isna(expr) or pd.isna(v) or pd.isna(a):
                    continue
                rule = clean_rule(EXPRESSIONS[int(expr)], float(v), float(a))
                if rule:
                    ctx.report.drop(rule, at)
                    keep[i] = False
            frame = frame[keep]
        return frame.drop(columns="_where")


def _find(root: Path, name: str) -> Path | None:
    return next((root / d / name for d in LIST_DIRS if (root / d / name).is_file()), None)


def _problem(rel: str, box: list, code: int | None, v: float | None, a: float | None) -> str | None:
    if not rel:
        return "empty subDirectory_filePath"
    if any(b is None for b in box) or box[2] <= 0 or box[3] <= 0:
        return "face box is not four numbers with positive size"
    if code is None or not 0 <= code <= 10:
        return "expression code is not an integer in 0..10"
    for name, value in (("valence", v), ("arousal", a)):
        if value is None or (value != VA_INVALID and not -1 <= value <= 1):
            return f"{name} is not in [-1, 1] or -2"
    return None


def _five_points(text: str) -> str | None:
    try:
        values = np.array([float(t) for t in text.split(";") if t.strip()], dtype=float)
    except ValueError:
        return None
    if values.size != 136 or not np.isfinite(values).all():
        return None
    return format_numbers(five_from_68(values.reshape(68, 2)))
