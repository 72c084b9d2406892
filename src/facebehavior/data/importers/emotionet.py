"""EmotioNet (Benitez-Quiroz et al.): AU occurrence and the challenge's emotion categories.

Two kinds of label files are read from root (see docs/databases.md for the sources):

- **challenge text files** (``dataFile_1000.txt`` … of ``emotioNet_challenge_files_server_challenge_*``;
  any ``*.txt`` in root): one image per line, tab-separated, no header: the image URL, a second
  field that is not a label (public readers skip it), then AU1, AU2, … AUn by position (field
  k + 1 holds AU k), each 1 = present, 0 = absent, 999 = not annotated (→ null). Confirmed from
  three public readers; a second field that is a number would mean the AUs start earlier, so it
  stops the import naming the file and line.
- **CSV files** (**assumed** layout, for exports of the manual-annotation sheet and the
  basic/compound category set, whose released columns we could not confirm): a header with an
  image column (path/file/filename/image/url/name, else the first column) and AU columns
  (``AU1``, ``AU 1``, ``AU01``) and/or a ``category`` (or ``emotion``) column with names such as
  ``happy``, ``sadly fearful`` or ``happily_surprised``.

URLs map to ``images_dir/<last part of the URL>``, paths to ``images_dir/<path>``.

Split: option ``map`` ({file name or glob: split}, CLI ``--map 'dataFile_1000.txt=test'``) first;
else a split word in the file name (``test`` → test; ``val``/``valid``/``validation``/
``verification``/``optimization`` → val; ``train`` → train). A file matching neither stops the
import: the release's file names do not say which file is which part of the challenge. Images of
train files are split train/val by a per-image hash (``val_fraction``; no subject ids).

AUs outside the 17 canonical ones (e.g. AU43) are ignored and noted. Categories go to
``emotionet_category`` over `EMOTIONET_CATEGORIES` (6 basic + 11 compound; the paper says the
challenge used 10 compound classes — we could not confirm which one is absent, the unused one
simply has no samples); the six basic ones also set the canonical ``expr``.
"""

from __future__ import annotations

import csv
import fnmatch
import re
from pathlib import Path

import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, hashed_split, open_text, read_lines, \
    relative_keys, to_float, to_int, where
from facebehavior.data.importers.labelspaces import EMOTIONET_CATEGORIES
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import AUS, EXPRESSIONS, TaskSpec

NOT_ANNOTATED = 999
SPLITS = ("train", "val", "test")
_AU = re.compile(r"^au\s*0*(\d+)$", re.IGNORECASE)
IMAGE_COLUMNS = ("path", "file", "filename", "image", "url", "name")
SPLIT_WORDS = (("test", "test"), ("validation", "val"), ("verification", "val"), ("optimization", "val"),
               ("valid", "val"), ("val", "val"), ("train", "train"))
BASIC_NAMES = {"happy": "happiness", "sad": "sadness", "fearful": "fear", "afraid": "fear", "angry": "anger",
               "surprised": "surprise", "disgusted": "disgust"}
TXT_FIRST_AU_FIELD = 2  # field 0 = URL, field 1 = not a label


def category_index(name: str) -> int | None:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    key = BASIC_NAMES.get(key, key)
    return EMOTIONET_CATEGORIES.index(key) if key in EMOTIONET_CATEGORIES else None


def split_of(path: Path, mapping: dict[str, str] | None = None) -> str:
    """A label file's split: option ``map`` (exact name, stem, then globs in order), else its name."""
    mapping = mapping or {}
    for key in (path.name, path.stem):
        if key in mapping:
            return _checked_split(mapping[key], key)
    for pattern, split in mapping.items():
        if fnmatch.fnmatch(path.name, pattern):
            return _checked_split(split, pattern)
    words = re.split(r"[^a-z]+", path.stem.lower())
    for word, split in SPLIT_WORDS:
        if word in words:
            return split
    raise DataFormatError(f"{path}: cannot tell its split from the name; map it, e.g. --map '{path.name}=test' "
                          "(globs work too: --map '*.txt=train'), or include train, val or test in the name")


def _checked_split(split: str, key: str) -> str:
    if split not in SPLITS:
        raise ConfigError(f"map {key}={split!r}: the split must be one of {list(SPLITS)}")
    return split


class EmotioNetImporter(Importer):
    name = "emotionet"
    title = "EmotioNet (AU annotations and emotion categories)"
    split_protocol = ("per label file: option map (file name/glob → split), else a split word in its name; "
                      "images of train files → train/val by a per-image hash (no subject ids; val_fraction)")
    assumptions = (
        "challenge .txt files: the second tab-separated field is not a label (AU k is field k+1)",
        "CSV files: an image column, AU columns named AU<k> (0/1/999) and/or a category name column",
        "images at images_dir/<URL basename or path> (default images_dir 'images')",
    )
    defaults = {"images_dir": "images", "map": None}
    extra_tasks = (TaskSpec("emotionet_category", "multiclass", EMOTIONET_CATEGORIES),)
    label_tasks = ("au", "expr", "emotionet_category")

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        files = sorted([*ctx.root.glob("*.csv"), *ctx.root.glob("*.txt")])
        if not files:
            raise DataFormatError(f"{ctx.root}: no .txt or .csv label files; see the emotionet importer's layout")
        rows: dict[str, dict] = {}
        ignored: set[int] = set()
        for path in files:
            reader = self._read_txt if path.suffix == ".txt" else self._read_csv
            ignored |= reader(ctx, path, rows)
        if ignored:
            ctx.report.note(f"AUs outside the canonical 17 ignored: {sorted(ignored)}")
        if not rows:
            raise DataFormatError(f"{ctx.root}: no label file with AU values or a category column")
        kept = []
        for image, row in rows.items():
            ctx.report.rows_read += 1
            at = row.pop("_where")
            if len(row) == 1:  # only the split: every label was 999 or unreadable
                ctx.report.drop("no valid label", at)
            elif ctx.keep_image(Path(image), at):
                kept.append({"path": image, **row})
        frame = pd.DataFrame(kept)
        if not frame.empty:  # no subject ids: val is a per-image hash of the train files' images
            train = frame["split"] == "train"
            frame.loc[train, "split"] = hashed_split(relative_keys(frame.loc[train, "path"], ctx.root),
                                                     ctx.option("val_fraction"), ctx.option("seed"))
        return frame

    def _read_txt(self, ctx: ImportContext, path: Path, rows: dict[str, dict]) -> set[int]:
        split, width = split_of(path, ctx.option("map")), None
        for number, line in read_lines(path):
            if not line.strip():
                continue
            fields = [f.strip() for f in line.split("\t")]
            at = where(path, number)
            if len(fields) > 1 and to_float(fields[1]) is not None:
                raise DataFormatError(f"{at}: the second field {fields[1]!r} is a number; the importer assumes "
                                      "'URL<TAB>not-a-label<TAB>AU1<TAB>AU2...' as in the challenge files. "
                                      "Is this an EmotioNet challenge file? Convert other layouts to CSV.")
            width = width or len(fields)
            if len(fields) <= TXT_FIRST_AU_FIELD or len(fields) != width or not fields[0]:
                ctx.report.rows_read += 1
                ctx.report.drop(f"malformed line: {len(fields)} tab-separated fields, the file's first line has "
                                f"{width}", at)
                continue
            au_cols = {j: j - TXT_FIRST_AU_FIELD + 1 for j in range(TXT_FIRST_AU_FIELD, len(fields))}
            self._add(ctx, rows, self._image(ctx, fields[0]), split, at, fields, au_cols, None)
        return {au for au in range(1, (width or 0) - TXT_FIRST_AU_FIELD + 1) if au not in AUS}

    def _read_csv(self, ctx: ImportContext, path: Path, rows: dict[str, dict]) -> set[int]:
        with open_text(path, report=ctx.report) as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            au_cols = {j: int(m.group(1)) for j, h in enumerate(header) if (m := _AU.match(h))}
            cat_col = next((j for j, h in enumerate(header) if h.lower() in ("category", "emotion")), None)
            if not au_cols and cat_col is None:
                raise DataFormatError(f"{path}:1: header {header[:6]} has no AU<k> column and no category column; "
                                      "move files that are not EmotioNet labels out of --root")
            split = split_of(path, ctx.option("map"))
            image_col = next((j for j, h in enumerate(header) if h.lower() in IMAGE_COLUMNS), 0)
            for number, fields in enumerate(reader, 2):
                if not fields:
                    continue
                at = where(path, number)
                if len(fields) != len(header) or not fields[image_col].strip():
                    ctx.report.rows_read += 1
                    ctx.report.drop(f"malformed line: {len(fields)} fields, header has {len(header)}", at)
                    continue
                self._add(ctx, rows, self._image(ctx, fields[image_col].strip()), split, at, fields, au_cols,
                          cat_col)
        return {au for au in au_cols.values() if au not in AUS}

    def _add(self, ctx, rows, image, split, at, fields, au_cols, cat_col) -> None:
        row = rows.setdefault(image, {"split": split, "_where": at})
        if row["split"] != split:
            ctx.report.issue(f"image listed in files of two splits: kept in {row['split']}", at)
        self._labels(ctx, fields, au_cols, cat_col, row, at)

    def _labels(self, ctx, fields, au_cols, cat_col, row, at) -> None:
        for j, au in au_cols.items():
            if au not in AUS:
                continue
            code = to_int(fields[j].strip())
            if code in (0, 1):
                row[f"au{au}"] = code
            elif code != NOT_ANNOTATED:
                ctx.report.issue(f"AU{au} value {fields[j]!r} is not 0, 1 or 999: null", at)
        if cat_col is not None:
            index = category_index(fields[cat_col])
            if index is None:
                ctx.report.issue(f"unknown category {fields[cat_col]!r}: null", at)
                return
            row["emotionet_category"] = index
            name = EMOTIONET_CATEGORIES[index]
            if name in EXPRESSIONS:
                row["expr"] = EXPRESSIONS.index(name)

    def _image(self, ctx: ImportContext, value: str) -> str:
        folder = ctx.root / ctx.option("images_dir")
        if "://" in value:
            value = value.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
        return str(folder / value)
