"""EmotioNet (Benitez-Quiroz et al.): manually annotated AUs and the challenge's emotion categories.

The manually annotated EmotioNet files are distributed on request and their exact column layout
could not be confirmed, so this importer reads what the release is described to contain and
states it:

- any ``*.csv`` directly in root whose header has AU columns (``AU1``, ``AU 1``, ``AU01``, any
  case) is an AU file: one row per image, 1 = present, 0 = absent, 999 = not annotated (→ null);
- any ``*.csv`` whose header has a ``category`` (or ``emotion``) column is an emotion file: the
  category is a name such as ``happy``, ``sadly fearful`` or ``happily_surprised``;
- the image column is the first column named path/file/filename/image/url/name (else the first
  column); a URL is mapped to ``images_dir/<last part of the URL>``, a path to ``images_dir/<path>``;
- the split comes from the file name: ``test`` → test, ``val``/``valid``/``validation``/
  ``verification``/``optimization`` → val, ``train`` → train (a file matching none is an error).

AUs outside the 17 canonical ones (e.g. AU43 of the 2018 challenge) are ignored. Categories go to
``emotionet_category`` over `EMOTIONET_CATEGORIES` (6 basic + 11 compound; the paper says the
challenge used 10 compound classes — we could not confirm which one is absent, the unused one
simply has no samples); the six basic ones also set the canonical ``expr``.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, to_int, where
from facebehavior.data.importers.labelspaces import EMOTIONET_CATEGORIES
from facebehavior.errors import DataFormatError
from facebehavior.labels import AUS, EXPRESSIONS, TaskSpec

NOT_ANNOTATED = 999
_AU = re.compile(r"^au\s*0*(\d+)$", re.IGNORECASE)
IMAGE_COLUMNS = ("path", "file", "filename", "image", "url", "name")
SPLIT_WORDS = (("test", "test"), ("validation", "val"), ("verification", "val"), ("optimization", "val"),
               ("valid", "val"), ("val", "val"), ("train", "train"))
BASIC_NAMES = {"happy": "happiness", "sad": "sadness", "fearful": "fear", "afraid": "fear", "angry": "anger",
               "surprised": "surprise", "disgusted": "disgust"}


def category_index(name: str) -> int | None:
    key = re.sub(r"[\s\-]+", "_", name.strip().lower())
    key = BASIC_NAMES.get(key, key)
    return EMOTIONET_CATEGORIES.index(key) if key in EMOTIONET_CATEGORIES else None


def split_of(path: Path) -> str:
    words = re.split(r"[^a-z]+", path.stem.lower())
    for word, split in SPLIT_WORDS:
        if word in words:
            return split
    raise DataFormatError(f"{path}: cannot tell its split from the name; include train, val or test in it")


class EmotioNetImporter(Importer):
    name = "emotionet"
    title = "EmotioNet (manual AU annotations and emotion categories)"
    split_protocol = "from each file's name (train / val / test); a file's rows all go to its split"
    assumptions = (
        "AU files: CSV with an image column and AU columns, values 0/1/999",
        "emotion files: CSV with an image column and a category name column",
        "images at images_dir/<URL basename or path> (default images_dir 'images')",
    )
    defaults = {"images_dir": "images"}
    extra_tasks = (TaskSpec("emotionet_category", "multiclass", EMOTIONET_CATEGORIES),)
    label_tasks = ("au", "expr", "emotionet_category")

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        files = sorted(ctx.root.glob("*.csv"))
        if not files:
            raise DataFormatError(f"{ctx.root}: no CSV files; see the emotionet importer's documented layout")
        rows: dict[str, dict] = {}
        for path in files:
            self._read(ctx, path, rows)
        if not rows:
            raise DataFormatError(f"{ctx.root}: no CSV with AU columns or a category column")
        kept = []
        for image, row in rows.items():
            ctx.report.rows_read += 1
            at = row.pop("_where")
            if len(row) == 1:  # only the split: every label was 999 or unreadable
                ctx.report.drop("no valid label", at)
            elif ctx.keep_image(Path(image), at):
                kept.append({"path": image, **row})
        return pd.DataFrame(kept)

    def _read(self, ctx: ImportContext, path: Path, rows: dict[str, dict]) -> None:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = [h.strip() for h in next(reader, [])]
            au_cols = {j: int(m.group(1)) for j, h in enumerate(header) if (m := _AU.match(h))}
            cat_col = next((j for j, h in enumerate(header) if h.lower() in ("category", "emotion")), None)
            if not au_cols and cat_col is None:
                ctx.report.note(f"{path.name}: no AU or category column, skipped")
                return
            split = split_of(path)
            image_col = next((j for j, h in enumerate(header) if h.lower() in IMAGE_COLUMNS), 0)
            ignored = sorted({au for au in au_cols.values() if au not in AUS})
            if ignored:
                ctx.report.note(f"{path.name}: AUs outside the canonical 17 ignored: {ignored}")
            for number, fields in enumerate(reader, 2):
                if not fields:
                    continue
                at = where(path, number)
                if len(fields) != len(header) or not fields[image_col].strip():
                    ctx.report.rows_read += 1
                    ctx.report.drop(f"malformed line: {len(fields)} fields, header has {len(header)}", at)
                    continue
                image = self._image(ctx, fields[image_col].strip())
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
