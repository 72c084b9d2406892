"""CelebA (Liu et al., ICCV 2015): 40 binary attributes and 10,177 identities, aligned images.

Native layout (files in root, ``Anno/`` or ``Eval/``)::

    list_attr_celeba.txt      202599 / header of 40 names / "000001.jpg  -1  1  1 ..." (-1/1 → 0/1)
    identity_CelebA.txt       "000001.jpg 2880"
    list_eval_partition.txt   "000001.jpg 0"   (0 train, 1 val, 2 test)
    list_landmarks_align_celeba.txt  (optional) count / header / "000001.jpg 69 109 106 113 ..."
    img_align_celeba/000001.jpg   (or Img/img_align_celeba; aligned 178×218 crops)

Columns: one per attribute (named as in `CELEBA_ATTRIBUTES`), ``identity`` = index of the
identity id among the sorted ids of identity_CelebA.txt, ``subject`` = the original id, and the 5
aligned landmarks when the landmark file is present. Every line of list_attr_celeba.txt is a row.

Split: by default the released partition (subject-independent). ``resplit`` gives the paper's
subject-dependent split (§4.1): the images of every identity with ≥ 3 images are shuffled (seeded)
and cut so that about 10% (at least one) go to test, 10% (at least one) to val and the rest to
train; identities with fewer than 3 images stay in train.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, format_numbers, read_lines, to_int, where
from facebehavior.errors import DataFormatError
from facebehavior.labels import CELEBA_ATTRIBUTES, TaskSpec

FOLDERS = (".", "Anno", "Eval")
IMAGE_DIRS = ("img_align_celeba", "Img/img_align_celeba")
PARTITIONS = {0: "train", 1: "val", 2: "test"}
LANDMARK_HEADER = ("lefteye_x lefteye_y righteye_x righteye_y nose_x nose_y leftmouth_x leftmouth_y "
                   "rightmouth_x rightmouth_y").split()
ATTRIBUTES_TASK = TaskSpec("attributes", "multilabel", CELEBA_ATTRIBUTES)


def resplit(frame: pd.DataFrame, seed: int, fraction: float = 0.1) -> np.ndarray:
    """The paper's subject-dependent split: every identity with ≥ 3 images is in train, val and test."""
    split = np.full(len(frame), "train", dtype=object)
    rng = np.random.default_rng(seed)
    for _, index in sorted(frame.groupby("identity").indices.items()):
        index = np.sort(index)
        if len(index) < 3:
            continue
        order = index[rng.permutation(len(index))]
        n_held = max(1, int(round(fraction * len(index))))
        n_held = min(n_held, (len(index) - 1) // 2)
        split[order[:n_held]] = "test"
        split[order[n_held:2 * n_held]] = "val"
    return split


class CelebAImporter(Importer):
    name = "celeba"
    title = "CelebA (attributes and identities)"
    split_protocol = ("released partition (0 train, 1 val, 2 test; subject-independent); with resplit, the "
                      "paper's subject-dependent split (seeded; ~80/10/10 per identity with >= 3 images)")
    assumptions = ("list files carry a count line and, for attributes/landmarks, a header line",)
    defaults = {"resplit": False, "images_dir": None}
    label_tasks = ("identity", "attributes")

    def tasks(self, frame=None) -> list[TaskSpec]:
        count = int(frame["identity"].max()) + 1 if frame is not None and "identity" in frame \
            and frame["identity"].notna().any() else 1
        return [TaskSpec("identity", "multiclass", tuple(f"id{i}" for i in range(count))), ATTRIBUTES_TASK]

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        attr_file = self._find(ctx.root, "list_attr_celeba.txt", required=True)
        images = self._images_dir(ctx)
        rows = self._read_attributes(ctx, attr_file, images)
        frame = pd.DataFrame(rows)
        identities = self._read_pairs(ctx, self._find(ctx.root, "identity_CelebA.txt"), "identity")
        partition = self._read_pairs(ctx, self._find(ctx.root, "list_eval_partition.txt",
                                                     required=not ctx.option("resplit")), "partition")
        landmarks = self._read_landmarks(ctx, self._find(ctx.root, "list_landmarks_align_celeba.txt"))
        if frame.empty:
            return frame
        names = frame.pop("_name")
        where_col = frame.pop("_where")
        ids = names.map(identities)
        order = {ident: i for i, ident in enumerate(sorted(set(identities.values())))}
        frame["identity"] = ids.map(order)
        frame["subject"] = ids.map(lambda v: None if pd.isna(v) else str(int(v)))
        if landmarks:
            frame["landmarks"] = names.map(landmarks)
        if not ctx.option("resplit"):  # with resplit these rows are dropped instead
            for at in where_col[ids.isna()]:
                ctx.report.issue("no entry in identity_CelebA.txt: identity null", at)
        return self._split(ctx, frame, names.map(partition), where_col)

    def _split(self, ctx: ImportContext, frame: pd.DataFrame, partition: pd.Series, where_col) -> pd.DataFrame:
        if ctx.option("resplit"):
            ctx.report.note("resplit: subject-dependent split of the paper (every identity with >= 3 images in "
                            "train, val and test)")
            missing = frame["identity"].isna()
            for at in where_col[missing]:
                ctx.report.drop("no identity (resplit needs one)", at)
            frame = frame[~missing].reset_index(drop=True)
            frame["split"] = resplit(frame, int(ctx.option("seed")))
            return frame
        missing = partition.isna()
        for at in where_col[missing]:
            ctx.report.drop("no entry in list_eval_partition.txt", at)
        frame = frame[~missing].copy()
        frame["split"] = partition[~missing].map(PARTITIONS).to_numpy()
        return frame.reset_index(drop=True)

    def _find(self, root: Path, name: str, required: bool = False) -> Path | None:
        for folder in FOLDERS:
            if (root / folder / name).is_file():
                return root / folder / name
        if required:
            raise DataFormatError(f"{name} not found in {[str(root / f) for f in FOLDERS]}; "
                                  "is --root the CelebA folder?")
        return None

    def _images_dir(self, ctx: ImportContext) -> Path:
        if ctx.option("images_dir"):
            return ctx.root / ctx.option("images_dir")
        return next((ctx.root / d for d in IMAGE_DIRS if (ctx.root / d).is_dir()), ctx.root / IMAGE_DIRS[0])

    def _read_attributes(self, ctx: ImportContext, path: Path, images: Path) -> list[dict]:
        lines = read_lines(path)
        _, count_line = next(lines, (1, ""))
        _, header = next(lines, (2, ""))
        if to_int(count_line.strip()) is None or tuple(header.split()) != CELEBA_ATTRIBUTES:
            raise DataFormatError(f"{path}:1-2: expected a count line then the 40 attribute names "
                                  f"({' '.join(CELEBA_ATTRIBUTES[:3])} ...), got {count_line[:20]!r} / {header[:60]!r}")
        rows = []
        for number, line in lines:
            if not line.strip():
                continue
            ctx.report.rows_read += 1
            at = where(path, number)
            tokens = line.split()
            if len(tokens) != 41 or any(t not in ("-1", "1") for t in tokens[1:]):
                ctx.report.drop("malformed line: expected a name and 40 values of -1/1", at)
                continue
            if not ctx.keep_image(images / tokens[0], at):
                continue
            row = {"path": str(images / tokens[0]), "aligned": True, "_name": tokens[0], "_where": at}
            row.update({a: int(t == "1") for a, t in zip(CELEBA_ATTRIBUTES, tokens[1:])})
            rows.append(row)
        if to_int(count_line.strip()) != ctx.report.rows_read:
            ctx.report.note(f"{path.name} announces {count_line.strip()} rows but has {ctx.report.rows_read}")
        return rows

    def _read_pairs(self, ctx: ImportContext, path: Path | None, what: str) -> dict[str, int]:
        """name → integer from 'name value' lines (identity ids or partition codes)."""
        if path is None:
            ctx.report.note(f"no {what} file found: {what} not imported")
            return {}
        out: dict[str, int] = {}
        valid = set(PARTITIONS) if what == "partition" else None
        for number, line in read_lines(path):
            tokens = line.split()
            if not tokens:
                continue
            value = to_int(tokens[1]) if len(tokens) == 2 else None
            if value is None or (valid is not None and value not in valid) or (valid is None and value < 0):
                ctx.report.issue(f"malformed {path.name} line: ignored", where(path, number))
                continue
            out[tokens[0]] = value
        return out

    def _read_landmarks(self, ctx: ImportContext, path: Path | None) -> dict[str, str]:
        if path is None:
            return {}
        lines = read_lines(path)
        next(lines, None)
        _, header = next(lines, (2, ""))
        if header.split() != LANDMARK_HEADER:
            raise DataFormatError(f"{path}:2: header {header[:60]!r} is not the CelebA aligned-landmark header")
        out = {}
        for number, line in lines:
            tokens = line.split()
            values = [to_int(t) for t in tokens[1:]]
            if len(tokens) != 11 or any(v is None for v in values):
                ctx.report.issue(f"malformed {path.name} line: landmarks empty", where(path, number))
                continue
            out[tokens[0]] = format_numbers(values)
        return out
