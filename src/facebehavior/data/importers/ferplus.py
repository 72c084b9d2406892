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

from facebehavior.data.importers.base import ImportContext, Importer, format_box, open_text, where
from facebehavior.data.importers.labelspaces import FERPLUS8
from facebehavior.errors import DataFormatError
from facebehavior.labels import EXPRESSIONS, TaskSpec

SPLIT_FOLDERS = {"FER2013Train": "train", "FER2013Valid": "val", "FER2013Test": "test"}
VOTE_NAMES = FERPLUS8 + ("unknown", "NF")
TO_CANONICAL = {i: EXPRESSIONS.index(name) for i, name in enumerate(FERPLUS8) if name in EXPRESSIONS}
CONTEMPT = FERPLUS8.index("contempt")
_BOX = re.compile(r"^\(\s*(-?\d+)\s*,\s*(-?\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*\)$")


def barsoum_majority_all(votes: np.ndarray) -> np.ndarray:
    """Per row of (N, 10) votes: the index holding > 50% of the votes once single votes are removed
    (the reference reader's majority mode), or -1 when no emotion does. This rule cannot tie."""
    kept = np.where(votes > 1, votes, 0)
    top = kept.argmax(1)
    ok = kept[np.arange(len(kept)), top] > 0.5 * kept.sum(1)
    return np.where(ok & (top < 8), top, -1)


def plurality_all(emotion_votes: np.ndarray) -> np.ndarray:
    """Per row of (N, 8) emotion votes: the most-voted emotion, or -1 when the top is tied or empty."""
    top = emotion_votes.max(1)
    unique = (emotion_votes == top[:, None]).sum(1) == 1
    return np.where(unique & (top > 0), emotion_votes.argmax(1), -1)


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
        frames = [self._read_split(ctx, ctx.root / folder, split, mode) for folder, split in present.items()]
        return pd.concat(frames, ignore_index=True)

    def _read_split(self, ctx: ImportContext, folder: Path, split: str, mode: str) -> pd.DataFrame:
        label_file = folder / "label.csv"
        names, boxes, votes, places = [], [], [], []
        with open_text(label_file, report=ctx.report) as handle:
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
                names.append(parsed[0])
                boxes.append(format_box(*parsed[1]))
                votes.append(parsed[2])
                places.append(at)
        if not names:
            return pd.DataFrame()
        labels, keep = self._labels(ctx, np.array(votes), mode, places)
        for i in np.flatnonzero(keep):
            keep[i] = ctx.keep_image(folder / names[i], places[i])
        frame = pd.DataFrame({"path": [str(folder / n) for n in names], "split": split, "box": boxes,
                              "aligned": True, **labels})
        return frame[keep]

    def _labels(self, ctx: ImportContext, votes: np.ndarray, mode: str, places: list[str]):
        """Label columns for all rows (vectorised) and which rows the protocol keeps."""
        emotion = votes[:, :8]
        top_other = votes[:, 8:].max(1) > emotion.max(1)
        no_votes = votes.sum(1) == 0
        for i in np.flatnonzero(no_votes):
            ctx.report.drop("no votes", places[i])
        for i in np.flatnonzero(top_other & ~no_votes):
            reason = "top vote is unknown" if votes[i, 8] >= votes[i, 9] else "top vote is NF (not a face)"
            ctx.report.drop(reason, places[i])
        keep = ~(no_votes | top_other)
        hard = barsoum_majority_all(votes) if mode == "barsoum" else plurality_all(emotion)
        reason = ("no Barsoum majority (> 50% after removing single votes): hard labels null" if mode == "barsoum"
                  else "tied top vote: hard labels null")
        for i in np.flatnonzero(keep & (hard < 0)):
            ctx.report.issue(reason, places[i])
        for i in np.flatnonzero(keep & (hard == CONTEMPT)):
            ctx.report.issue("majority is contempt: no canonical expression", places[i])
        total = np.maximum(emotion.sum(1, keepdims=True), 1)
        columns: dict[str, object] = {"ferplus8": pd.array(np.where(hard >= 0, hard, None), dtype="Int64")}
        columns.update({f"ferplus8_soft_{n}": emotion[:, j] / total[:, 0] for j, n in enumerate(FERPLUS8)})
        canonical = np.array([TO_CANONICAL.get(int(h), -1) if h >= 0 else -1 for h in hard])
        columns["expr"] = pd.array(np.where(canonical >= 0, canonical, None), dtype="Int64")
        seven_total = emotion.sum(1) - emotion[:, CONTEMPT]
        for i in np.flatnonzero(keep & (seven_total == 0)):
            ctx.report.issue("all emotion votes are contempt: no 7-class soft label", places[i])
        with np.errstate(invalid="ignore", divide="ignore"):
            for j, name in enumerate(FERPLUS8):
                if j != CONTEMPT:
                    columns[f"expr_soft_{name}"] = np.where(seven_total > 0, emotion[:, j] / seven_total, np.nan)
        return columns, keep


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
