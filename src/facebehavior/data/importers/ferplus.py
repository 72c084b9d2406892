"""FER+ (FER2013 images with the FERPlus crowd votes; Barsoum et al., ICMI 2016).

Native layout (as distributed by microsoft/FERPlus after `generate_training_data.py`)::

    <root>/FER2013Train/label.csv   fer0000000.png,"(0, 0, 48, 48)",4,0,0,1,3,2,0,0,0,0
    <root>/FER2013Train/fer0000000.png
    <root>/FER2013Valid/...   <root>/FER2013Test/...

No header; columns: image name, face box ``(x, y, w, h)``, then 10 vote counts in the order
neutral, happiness, surprise, sadness, anger, disgust, fear, contempt, unknown, NF (not a face).

Protocol:
- rows whose top vote is unknown or NF are dropped (counted per reason); when an emotion ties
  with unknown/NF for the top vote the row is kept (as in the reference reader, where the first
  index wins the argmax);
- soft label = the vote distribution over the 8 emotions (unknown/NF votes left out);
- hard label (``majority`` option):
  ``"barsoum"`` (default) — the reference reader's majority mode (microsoft/FERPlus
  ``src/ferplus.py``, ``_process_data``): single votes are removed as outliers, then the top
  emotion must hold more than half of the remaining votes. That rule cannot tie. Rows without
  such a majority keep their soft label and get no hard label (they are exactly the rows the
  reference majority mode discards, so accuracy over rows with a hard label follows the paper);
  ``"plurality"`` — the emotion with most votes; a tie for the top leaves the hard label empty.
- two label spaces are written: ``ferplus8`` (+ ``ferplus8_soft_<name>``) in FER+ order with
  contempt, and our canonical 7-class ``expr`` (+ ``expr_soft_<name>``): contempt has no
  canonical class, so a row whose majority is contempt has no ``expr``, and the 7-class soft
  vector is the vote distribution renormalised without the contempt votes (empty when all
  emotion votes were contempt).
- splits: FER2013Train → train, FER2013Valid → val, FER2013Test → test. Images are 48×48
  grayscale crops (``aligned`` true).
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, format_box, where
from facebehavior.data.importers.labelspaces import FERPLUS8
from facebehavior.errors import DataFormatError
from facebehavior.labels import EXPRESSIONS, TaskSpec

SPLIT_FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
VOTE_NAMES = FERPLUS8 + ("unknown", "NF")
TO_CANONICAL = {i: EXPRESSIONS.index(name) for i, name in enumerate(FERPLUS8) if name in EXPRESSIONS}
CONTEMPT = FERPLUS8.index("contempt")
_BOX = re.compile(r"^\(\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$")


def barsoum_majority(votes: np.ndarray) -> int | None:
    """Index (0..9) holding > 50% of the votes once single votes are removed, else None."""
    kept = np.where(votes > 1, votes, 0)
    total = kept.sum()
    if total == 0:
        return None
    top = int(np.argmax(kept))
    return top if kept[top] > 0.5 * total else None


def plurality(emotion_votes: np.ndarray) -> int | None:
    """Index (0..7) of the most-voted emotion, None when the top is tied."""
    top = emotion_votes.max()
    winners = np.flatnonzero(emotion_votes == top)
    return int(winners[0]) if top > 0 and len(winners) == 1 else None


class FerPlusImporter(Importer):
    name = "ferplus"
    title = "FER+ (FER2013 with FERPlus crowd votes)"
    split_protocol = "the released folders: FER2013Train → train, FER2013Valid → val, FER2013Test → test"
    assumptions = (
        "label.csv has no header and 12 columns: name, \"(x, y, w, h)\", 10 vote counts",
        "rows with an emotion tied with unknown/NF for the top vote are kept (first index wins)",
    )
    defaults = {"majority": "barsoum"}
    extra_tasks = (TaskSpec("ferplus8", "multiclass", FERPLUS8),)
    label_tasks = ("expr", "ferplus8")

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        mode = ctx.option("majority")
        if mode not in ("barsoum", "plurality"):
            raise DataFormatError(f"majority {mode!r}: use 'barsoum' or 'plurality'")
        present = {f: s for f, s in SPLIT_FOLDERS.items() if (ctx.root / f / "label.csv").is_file()}
        if not present:
            raise DataFormatError(f"{ctx.root}: none of {[f + '/label.csv' for f in SPLIT_FOLDERS]} exists; "
                                  "point --root at the folder holding FER2013Train/Valid/Test")
        for folder in SPLIT_FOLDERS.keys() - present.keys():
            ctx.report.note(f"{folder}/label.csv not found: split {SPLIT_FOLDERS[folder]!r} is empty")
        ctx.report.note(f"hard label rule: {mode}")
        rows: list[dict] = []
        for folder, split in present.items():
            rows += self._read_split(ctx, ctx.root / folder, split, mode)
        return pd.DataFrame(rows)

    def _read_split(self, ctx: ImportContext, folder: Path, split: str, mode: str) -> list[dict]:
        label_file = folder / "label.csv"
        rows = []
        with open(label_file, encoding="utf-8-sig", newline="") as handle:
            for number, fields in enumerate(csv.reader(handle), 1):
                if not fields or fields == [""]:
                    continue
                ctx.report.rows_read += 1
                at = where(label_file, number)
                parsed = _parse_row(fields)
                if isinstance(parsed, str):
                    if number == 1 and not any(ch.isdigit() for ch in "".join(fields[2:])):
                        raise DataFormatError(f"{at}: looks like a header ({fields[:4]}...); FER+ label.csv "
                                              "has none — is this the FERPlus label file?")
                    ctx.report.drop(f"malformed line: {parsed}", at)
                    continue
                name, box, votes = parsed
                row = self._labels(ctx, votes, mode, at)
                if row is None or not ctx.keep_image(folder / name, at):
                    continue
                row.update(path=str(folder / name), split=split, box=format_box(*box), aligned=True)
                rows.append(row)
        return rows

    def _labels(self, ctx: ImportContext, votes: np.ndarray, mode: str, at: str) -> dict | None:
        emotion_votes = votes[:8]
        if votes.sum() == 0:
            ctx.report.drop("no votes", at)
            return None
        if votes[8:].max() > emotion_votes.max():
            reason = "top vote is unknown" if votes[8] >= votes[9] else "top vote is NF (not a face)"
            ctx.report.drop(reason, at)
            return None
        if mode == "barsoum":
            hard = barsoum_majority(votes)
            hard = hard if hard is not None and hard < 8 else None
            if hard is None:
                ctx.report.issue("no Barsoum majority (> 50% after removing single votes): hard labels null", at)
        else:
            hard = plurality(emotion_votes)
            if hard is None:
                ctx.report.issue("tied top vote: hard labels null", at)
        row: dict = {"ferplus8": hard}
        soft8 = emotion_votes / emotion_votes.sum()
        row.update({f"ferplus8_soft_{n}": float(p) for n, p in zip(FERPLUS8, soft8)})
        row["expr"] = TO_CANONICAL.get(hard) if hard is not None else None
        if hard == CONTEMPT:
            ctx.report.issue("majority is contempt: no canonical expression", at)
        seven = np.delete(emotion_votes, CONTEMPT)
        if seven.sum() > 0:
            soft7 = np.zeros(len(EXPRESSIONS))
            for i, p in enumerate(emotion_votes / seven.sum()):
                if i != CONTEMPT:
                    soft7[TO_CANONICAL[i]] = p
            row.update({f"expr_soft_{n}": float(p) for n, p in zip(EXPRESSIONS, soft7)})
        else:
            ctx.report.issue("all emotion votes are contempt: no 7-class soft label", at)
        return row


def _parse_row(fields: list[str]) -> tuple[str, tuple[int, ...], np.ndarray] | str:
    """(name, box, votes) or a short description of what is wrong."""
    if len(fields) != 12:
        return f"{len(fields)} fields, expected 12"
    name = fields[0].strip()
    if not name or "/" in name or "\\" in name:
        return f"bad image name {name!r}"
    match = _BOX.match(fields[1].strip())
    if not match:
        return f"face box {fields[1]!r} is not '(x, y, w, h)'"
    try:
        votes = np.array([int(v) for v in fields[2:]], dtype=np.int64)
    except ValueError:
        return f"vote counts {fields[2:]} are not all integers"
    if (votes < 0).any():
        return "negative vote count"
    return name, tuple(int(g) for g in match.groups()), votes
