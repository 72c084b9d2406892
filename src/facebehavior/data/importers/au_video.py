"""Lab AU databases coded per video frame: DISFA, BP4D (FERA 2015), BP4D+ (FERA 2017), GFT.

These databases ship videos (or frame folders whose naming differs between copies); the frames'
location is given by ``image_pattern`` (relative to root, with ``{subject}``, ``{task}``,
``{video}``, ``{part}``, ``{view}`` and ``{frame}`` fields). The defaults are our assumption,
stated per importer; when no image matches, the import fails naming the path it tried.

Occurrence CSVs (BP4D, BP4D+, GFT; FERA style): a header row whose first column is the frame
number and whose other columns are AU numbers (``1`` or ``AU1``/``AU01``), then one row per
frame with 0/1 occurrence; 9 means "unknown" (→ null). Columns of AUs the database does not
report (or outside the 17 canonical ones) are ignored.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, group_split, read_lines, to_int, where
from facebehavior.data.importers.video import video_rows
from facebehavior.errors import ConfigError, DataFormatError

_AU_COLUMN = re.compile(r"^(?:au)?\s*0*(\d+)$", re.IGNORECASE)
UNKNOWN = 9

# FERA 2015 partition of BP4D-Spontaneous's 41 subjects (Valstar et al. 2015).
FERA2015_TRAIN = tuple(f"F{i:03d}" for i in range(1, 24, 2)) + tuple(f"M{i:03d}" for i in range(1, 18, 2))
FERA2015_DEVEL = tuple(f"F{i:03d}" for i in range(2, 23, 2)) + tuple(f"M{i:03d}" for i in range(2, 19, 2))


def read_occurrence_csv(ctx: ImportContext, path: Path, aus: tuple[int, ...]):
    """(frame numbers, {"auN": values}) from a FERA-style occurrence CSV; NaN = unknown/invalid."""
    lines = read_lines(path)
    _, header = next(lines, (1, ""))
    names = [h.strip().strip('"') for h in header.split(",")]
    columns = {}
    for j, name in enumerate(names[1:], 1):
        match = _AU_COLUMN.match(name)
        if match and int(match.group(1)) in aus:
            columns[int(match.group(1))] = j
    if len(names) < 2 or not any(_AU_COLUMN.match(n) for n in names[1:]):
        raise DataFormatError(f"{path}:1: header {header[:80]!r} does not list AU columns after the frame column")
    for au in sorted(set(aus) - set(columns)):
        ctx.report.issue(f"AU{au} not in the file: null", str(path))
    frames, values, seen = [], [], set()
    unknown = 0
    for number, line in lines:
        if not line.strip():
            continue
        fields = [f.strip() for f in line.split(",")]
        frame = to_int(fields[0]) if fields else None
        if frame is None or len(fields) != len(names) or frame in seen:
            ctx.report.rows_read += 1
            why = "duplicate frame" if frame in seen else f"{len(fields)} fields, header has {len(names)}" \
                if frame is not None else "no integer frame number"
            ctx.report.drop(f"malformed line: {why}", where(path, number))
            continue
        seen.add(frame)
        row = []
        for au in aus:
            code = to_int(fields[columns[au]]) if au in columns else None
            if code in (0, 1):
                row.append(float(code))
                continue
            if code == UNKNOWN:
                unknown += 1
            elif au in columns:
                ctx.report.issue(f"AU{au} code {fields[columns[au]]!r} is not 0, 1 or 9: null", where(path, number))
            row.append(np.nan)
        frames.append(frame)
        values.append(row)
    if unknown:
        ctx.report.issue("AU code 9 (unknown): null", str(path), unknown)
    array = np.array(values, dtype=float).reshape(len(values), len(aus))
    return np.array(frames, dtype=int), {f"au{au}": array[:, j] for j, au in enumerate(aus)}


def _image_fn(ctx: ImportContext, **fields):
    """frame number → image path from option image_pattern; a bad pattern fails at once."""
    pattern = ctx.option("image_pattern")
    try:
        pattern.format(**fields, frame=0)
    except (KeyError, IndexError, ValueError) as exc:
        raise ConfigError(f"image_pattern {pattern!r}: unknown field {exc}; use {sorted(fields) + ['frame']}") from exc
    return lambda frame: ctx.root / pattern.format(**fields, frame=frame)


def _csv_files(folder: Path, name_re: str) -> list[Path]:
    return sorted(p for p in folder.glob("*.csv") if re.fullmatch(name_re, p.stem)) if folder.is_dir() else []


class _OccurrenceCsvImporter(Importer):
    aus: tuple[int, ...] = ()
    file_name_re = r".+"
    csv_dirs: tuple[str, ...] = ("AUCoding/AU_OCC", "AUCoding", "AU_OCC", ".")
    label_tasks = ("au",)

    def find_csvs(self, root: Path) -> list[Path]:
        for rel in self.csv_dirs:
            files = _csv_files(root / rel, self.file_name_re)
            if files:
                return files
        raise DataFormatError(f"{root}: no occurrence CSV named like {self.file_name_re!r}.csv in any of "
                              f"{[str(root / d) for d in self.csv_dirs]}")

    def video_frame(self, ctx: ImportContext, path: Path, split: str, fields: dict) -> pd.DataFrame:
        frames, labels = read_occurrence_csv(ctx, path, self.aus)
        return video_rows(ctx, video=fields["video"], subject=fields["subject"], split=split, frames=frames,
                          labels=labels, image_path=_image_fn(ctx, **fields))


class Bp4dImporter(_OccurrenceCsvImporter):
    name = "bp4d"
    title = "BP4D-Spontaneous (FERA 2015 occurrence codes)"
    aus = (1, 2, 4, 6, 7, 10, 12, 14, 15, 17, 23)
    file_name_re = r"[FM]\d{3}_T\d+"
    split_protocol = ("FERA 2015 partition: development subjects → test; training subjects → train/val by "
                      "subject (seeded; val_fraction)")
    assumptions = ("frames at image_pattern (default {subject}/{task}/{frame:04d}.jpg; copies differ in the "
                   "zero padding, check yours)",
                   "columns other than the benchmark AUs are ignored (OpenFace's reader treats the last column "
                   "as an occlusion flag; we do not use it)")
    defaults = {"subsample": 1, "image_pattern": "{subject}/{task}/{frame:04d}.jpg"}

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        files = self.find_csvs(ctx.root)
        by_subject = group_split(FERA2015_TRAIN, {"val": ctx.option("val_fraction")}, ctx.option("seed"))
        frames = []
        for path in files:
            subject, task = path.stem.split("_", 1)
            if subject in FERA2015_DEVEL:
                split = "test"
            elif subject in by_subject:
                split = by_subject[subject]
            else:
                count = max(sum(1 for _ in read_lines(path)) - 1, 0)
                ctx.report.rows_read += count
                ctx.report.drop("subject not in the FERA 2015 partition", str(path), count)
                continue
            fields = {"subject": subject, "task": task, "video": path.stem, "part": "", "view": ""}
            frames.append(self.video_frame(ctx, path, split, fields))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


class Bp4dPlusImporter(_OccurrenceCsvImporter):
    """BP4D+ as released for FERA 2017 (layout confirmed from public FERA 2017 readers, see docs).

    ``<part>/occ/FERA17_<TR|VA|TE>_<subject>_<task>.csv`` hold the occurrence codes (FERA style);
    the nine camera views are separate videos ``<part>/ims/FERA17_<key>_<subject>_<task>_<view>.mp4``
    sharing one CSV. The partition comes from the key in the file name, not from the folder name.
    The validation partition reuses subject codes of the training partition for other people
    (e.g. ``F007``), so its subjects are written ``VA_F007`` to keep the split subject-independent.
    """

    name = "bp4d_plus"
    title = "BP4D+ (FERA 2017 occurrence codes)"
    aus = (1, 4, 6, 7, 10, 12, 14, 15, 17, 23)
    file_name_re = r"FERA17_(TR|VA|TE)_(r?[FM]\d{3})_(T\d+)"
    split_protocol = ("FERA 2017 partitions from the file names: VA (validation) → test (the paper's protocol; TE, "
                      "if present, → test too); TR (training) → train/val by subject (seeded; val_fraction)")
    assumptions = ("the frame number in the CSV's first column is the frame number of the extracted image "
                   "(the FERA 2017 readers pair the i-th CSV row with the i-th decoded video frame)",
                   "frames were extracted from the videos to image_pattern (default "
                   "{part}/frames/{video}/{frame:05d}.jpg, {video} = FERA17_<key>_<subject>_<task>_<view>)")
    defaults = {"subsample": 1, "image_pattern": "{part}/frames/{video}/{frame:05d}.jpg",
                "views": "1,2,3,4,5,6,7,8,9"}
    ROLES = {"TR": "train", "VA": "test", "TE": "test"}

    def find_csvs(self, root: Path) -> list[Path]:
        # occ/ sits under a partition folder; only a few levels are searched so frame trees are never walked.
        folders = [root, root / "occ", *root.glob("*/occ"), *root.glob("*/*/occ")]
        files = sorted({p for folder in folders for p in _csv_files(folder, self.file_name_re)})
        if not files:
            raise DataFormatError(f"{root}: no FERA 2017 occurrence file (FERA17_TR_F001_T1.csv ...) in {root}, "
                                  f"{root}/occ or <partition>/occ; is --root the FERA 2017 BP4D+ folder?")
        return files

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        views = [v.strip() for v in str(ctx.option("views")).split(",") if v.strip()] or [""]
        pattern = ctx.option("image_pattern")
        if len(views) > 1 and "{view}" not in pattern and "{video}" not in pattern:
            raise ConfigError(f"image_pattern {pattern!r} names neither {{view}} nor {{video}}, so the {len(views)} "
                              "views would share one image; add one of them or pass a single view")
        listed = []
        for path in self.find_csvs(ctx.root):
            key, subject, task = re.fullmatch(self.file_name_re, path.stem).groups()
            subject = subject if key == "TR" else f"{key}_{subject}"
            part = path.parent.parent if path.parent.name == "occ" else path.parent
            listed.append((path, self.ROLES[key], subject, task, part.relative_to(ctx.root).as_posix()))
        train_subjects = {subject for _, role, subject, _, _ in listed if role == "train"}
        by_subject = group_split(train_subjects, {"val": ctx.option("val_fraction")}, ctx.option("seed"))
        frames = []
        for path, role, subject, task, part in listed:
            split = "test" if role == "test" else by_subject[subject]
            for view in views:
                video = f"{path.stem}_{view}" if view else path.stem
                fields = {"subject": subject, "task": task, "video": video, "part": part, "view": view}
                frames.append(self.video_frame(ctx, path, split, fields))
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


class GftImporter(_OccurrenceCsvImporter):
    name = "gft"
    title = "GFT (Sayette Group Formation Task)"
    aus = (1, 2, 4, 6, 10, 12, 14, 15, 23, 24)
    csv_dirs = ("AU_OCC", "AUs", ".")
    split_protocol = ("protocol 'test' (default; the paper tests on GFT as an unseen database): all rows test. "
                      "Use split_file with the official 78/18 subject lists to reproduce GFT's train/test; "
                      "'split': train/val/test by subject (seeded)")
    assumptions = ("one FERA-style occurrence CSV per subject video, <video>.csv in AU_OCC, AUs or root; the "
                   "file name is the subject id; 9 = unknown as in BP4D",
                   "frames at image_pattern (default frames/{video}/{frame:05d}.jpg)")
    defaults = {"subsample": 1, "image_pattern": "frames/{video}/{frame:05d}.jpg", "protocol": "test",
                "test_fraction": 0.2}

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        files = self.find_csvs(ctx.root)
        splits = _protocol_splits(ctx, [p.stem for p in files])
        frames = [self.video_frame(ctx, path, splits[path.stem],
                                   {"subject": path.stem, "task": "", "video": path.stem, "part": "", "view": ""})
                  for path in files]
        return pd.concat(frames, ignore_index=True)


def _protocol_splits(ctx: ImportContext, subjects: list[str]) -> dict[str, str]:
    protocol = ctx.option("protocol")
    if protocol == "test":
        return {s: "test" for s in subjects}
    if protocol != "split":
        raise ConfigError(f"protocol {protocol!r}: use 'test' or 'split'")
    fractions = {"test": float(ctx.option("test_fraction")), "val": float(ctx.option("val_fraction"))}
    return group_split(subjects, fractions, ctx.option("seed"))


class DisfaImporter(Importer):
    name = "disfa"
    title = "DISFA (AU intensities → occurrence)"
    aus = (1, 2, 4, 5, 6, 9, 12, 15, 17, 20, 25, 26)
    split_protocol = ("no official split: train/val/test by subject (seeded; val_fraction, test_fraction); "
                      "use split_file for published folds")
    assumptions = ("the frame numbers in the label files are those of the extracted images: frames at "
                   "image_pattern (default frames/{subject}/{frame:05d}.jpg; DISFA ships videos)",)
    defaults = {"subsample": 1, "image_pattern": "frames/{subject}/{frame:05d}.jpg", "threshold": 2,
                "protocol": "split", "test_fraction": 0.2}
    label_tasks = ("au",)

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        label_root = ctx.root / "ActionUnit_Labels"
        subjects = sorted(d.name for d in label_root.iterdir() if d.is_dir()) if label_root.is_dir() else []
        if not subjects:
            raise DataFormatError(f"{label_root}: no subject folders (SN001, ...); is --root the DISFA folder?")
        splits = _protocol_splits(ctx, subjects)
        ctx.report.note(f"occurrence = intensity >= {ctx.option('threshold')}")
        frames = []
        for subject in subjects:
            numbers, labels = self._read_subject(ctx, label_root / subject, subject)
            fields = {"subject": subject, "task": "", "video": subject, "part": "", "view": ""}
            frames.append(video_rows(ctx, video=subject, subject=subject, split=splits[subject], frames=numbers,
                                     labels=labels, image_path=_image_fn(ctx, **fields)))
        return pd.concat(frames, ignore_index=True)

    def _read_subject(self, ctx: ImportContext, folder: Path, subject: str):
        per_au: dict[int, dict[int, float]] = {}
        for au in self.aus:
            path = folder / f"{subject}_au{au}.txt"
            if not path.is_file():
                ctx.report.issue("AU label file missing: AU null for the subject", str(path))
                continue
            per_au[au] = self._read_au_file(ctx, path)
        numbers = sorted(set().union(*per_au.values())) if per_au else []
        labels = {f"au{au}": np.array([per_au.get(au, {}).get(f, np.nan) for f in numbers]) for au in self.aus}
        return np.array(numbers, dtype=int), labels

    def _read_au_file(self, ctx: ImportContext, path: Path) -> dict[int, float]:
        threshold = float(ctx.option("threshold"))
        values: dict[int, float] = {}
        for number, line in read_lines(path):
            if not line.strip():
                continue
            parts = [p.strip() for p in line.split(",")]
            frame = to_int(parts[0]) if len(parts) == 2 else None
            intensity = to_int(parts[1]) if len(parts) == 2 else None
            if frame is None or intensity is None or not 0 <= intensity <= 5 or frame in values:
                ctx.report.issue("malformed line 'frame,intensity' (0-5): AU null for that frame",
                                 where(path, number))
                if frame is not None and frame not in values:
                    values[frame] = np.nan
                continue
            values[frame] = float(intensity >= threshold)
        return values
