"""RAF-DB (Li et al., CVPR 2017): the basic (7 classes) and compound (11 classes) sets.

Native layout of each set (``basic/`` or ``compound/`` of the release; point --root at it)::

    <root>/EmoLabel/list_patition_label.txt    lines "train_00001.jpg 5" / "test_0001.jpg 7"
    <root>/Image/aligned/train_00001_aligned.jpg

Basic codes: 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger, 7 Neutral → the
canonical ``expr``. Compound codes 1-11 (happily surprised … disgustedly surprised) → ``compound``
= code - 1 over `RAFDB_COMPOUND`. The aligned 100×100 images are used (``aligned`` true).

Split: the name prefix gives train/test; RAF-DB has no subject ids, so val is drawn from train
per image (a hash of seed and name; ``val_fraction``).
"""

from __future__ import annotations

import re

import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, find_first, hashed_split, read_lines, \
    relative_keys, where
from facebehavior.data.importers.labelspaces import RAFDB_COMPOUND
from facebehavior.errors import DataFormatError
from facebehavior.labels import EXPRESSIONS, TaskSpec

LABEL_FILE = "EmoLabel/list_patition_label.txt"
ALIGNED_DIR = "Image/aligned"
BASIC_CODES = {1: "surprise", 2: "fear", 3: "disgust", 4: "happiness", 5: "sadness", 6: "anger", 7: "neutral"}
_LINE = re.compile(r"^(?P<name>(?P<split>train|test)_\d+\.jpg)\s+(?P<code>\S+)$")


class _RafdbImporter(Importer):
    codes: int = 0
    column: str = ""

    split_protocol = "the name prefix (train_/test_) gives train/test; val is a per-image hash of train"
    assumptions = ("aligned images are Image/aligned/<stem>_aligned.jpg",
                   "the label file is EmoLabel/list_patition_label.txt (RAF-DB's spelling)")

    def label_value(self, code: int) -> int:
        raise NotImplementedError

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        label_file = find_first(ctx.root, [LABEL_FILE], f"{self.title} label list")
        rows = []
        for number, line in read_lines(label_file):
            if not line.strip():
                continue
            ctx.report.rows_read += 1
            at = where(label_file, number)
            match = _LINE.match(line.strip())
            code = int(match["code"]) if match and match["code"].isdigit() else None
            if match is None or code is None or not 1 <= code <= self.codes:
                if number == 1 and match is None and len(line.split()) != 2:
                    raise DataFormatError(f"{at}: {line!r} is not '<train|test>_<n>.jpg <code>'; is this "
                                          f"the {self.title} list_patition_label.txt?")
                ctx.report.drop(f"malformed line: expected '<train|test>_<n>.jpg <1..{self.codes}>'", at)
                continue
            image = ctx.root / ALIGNED_DIR / match["name"].replace(".jpg", "_aligned.jpg")
            if not ctx.keep_image(image, at):
                continue
            rows.append({"path": str(image), "split": match["split"], "aligned": True,
                         self.column: self.label_value(code)})
        frame = pd.DataFrame(rows)
        if not frame.empty:
            train = frame["split"] == "train"
            frame.loc[train, "split"] = hashed_split(relative_keys(frame.loc[train, "path"], ctx.root),
                                                     ctx.option("val_fraction"), ctx.option("seed"))
        return frame


class RafdbBasicImporter(_RafdbImporter):
    name = "rafdb"
    title = "RAF-DB basic emotions"
    codes = 7
    column = "expr"
    label_tasks = ("expr",)

    def label_value(self, code: int) -> int:
        return EXPRESSIONS.index(BASIC_CODES[code])


class RafdbCompoundImporter(_RafdbImporter):
    name = "rafdb_compound"
    title = "RAF-DB compound emotions"
    codes = len(RAFDB_COMPOUND)
    column = "compound"
    extra_tasks = (TaskSpec("compound", "multiclass", RAFDB_COMPOUND),)
    label_tasks = ("compound",)

    def label_value(self, code: int) -> int:
        return code - 1
