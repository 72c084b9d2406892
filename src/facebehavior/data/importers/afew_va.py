"""AFEW-VA (Kossaifi et al., 2017): 600 film clips with per-frame valence/arousal and 68 landmarks.

Native layout::

    <root>/001/001.json   {"actor": "...", "video_id": "001",
                           "frames": {"00000": {"valence": 2, "arousal": -1,
                                                "landmarks": [[x, y], ... 68 pairs]}, ...}}
    <root>/001/00000.png

Valence/arousal are integers in [-10, 10], divided by 10 to lie in [-1, 1]; landmarks are reduced
to the 5-point layout. The ``actor`` field, when present, is the subject (else the clip).

Split: the paper uses AFEW-VA only as an unseen test database, so by default every row is
``test`` (``protocol: test``). ``protocol: split`` makes a subject-independent train/val/test
split by actor (seeded; ``val_fraction``, ``test_fraction``).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, five_from_68, format_numbers, group_split, \
    where
from facebehavior.data.importers.video import video_rows
from facebehavior.errors import ConfigError, DataFormatError

SCALE = 10.0


class AfewVaImporter(Importer):
    name = "afew_va"
    title = "AFEW-VA"
    split_protocol = ("protocol 'test' (default, the paper's unseen-database test): all rows test; "
                      "'split': train/val/test by actor (seeded)")
    assumptions = ("the optional 'actor' field names the subject (else the clip is the subject)",)
    defaults = {"protocol": "test", "test_fraction": 0.2, "subsample": 1}
    label_tasks = ("va",)

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        if ctx.option("protocol") not in ("test", "split"):
            raise ConfigError(f"protocol {ctx.option('protocol')!r}: use 'test' or 'split'")
        clips = [d for d in sorted(ctx.root.iterdir()) if (d / f"{d.name}.json").is_file()]
        if not clips:
            raise DataFormatError(f"{ctx.root}: no <clip>/<clip>.json found; is --root the AFEW-VA folder?")
        documents = {clip.name: _load_json(clip / f"{clip.name}.json") for clip in clips}
        subjects = {name: str(doc.get("actor") or name) for name, doc in documents.items()}
        splits = self._splits(ctx, subjects)
        frames = [self._clip_rows(ctx, clip, documents[clip.name], subjects[clip.name], splits[clip.name])
                  for clip in clips]
        return pd.concat(frames, ignore_index=True)

    def _splits(self, ctx: ImportContext, subjects: dict[str, str]) -> dict[str, str]:
        if ctx.option("protocol") == "test":
            return {clip: "test" for clip in subjects}
        fractions = {"test": float(ctx.option("test_fraction")), "val": float(ctx.option("val_fraction"))}
        by_subject = group_split(subjects.values(), fractions, ctx.option("seed"))
        return {clip: by_subject[s] for clip, s in subjects.items()}

    def _clip_rows(self, ctx: ImportContext, clip, document: dict, subject: str, split: str) -> pd.DataFrame:
        json_path = clip / f"{clip.name}.json"
        keys = sorted(document["frames"])
        valence, arousal, marks = np.full(len(keys), np.nan), np.full(len(keys), np.nan), []
        for i, key in enumerate(keys):
            entry = document["frames"][key]
            v, a = _scaled(entry, "valence"), _scaled(entry, "arousal")
            if v is None or a is None:
                ctx.report.issue("frame entry without valence/arousal integers in [-10, 10]: VA null",
                                 f"{json_path} frame {key}")
            else:
                valence[i], arousal[i] = v, a
            marks.append(_five(entry.get("landmarks") if isinstance(entry, dict) else None))
        frame_numbers = np.array([int(k) if k.isdigit() else -1 for k in keys])
        if (frame_numbers < 0).any():
            raise DataFormatError(f"{json_path}: frame keys must be digits like '00000', got "
                                  f"{[k for k in keys if not k.isdigit()][:3]}")
        width = len(keys[0]) if keys else 5
        return video_rows(ctx, video=clip.name, subject=subject, split=split, frames=frame_numbers,
                          labels={"valence": valence, "arousal": arousal},
                          image_path=lambda k: clip / f"{k:0{width}d}.png", extra={"landmarks": marks})


def _load_json(path) -> dict:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataFormatError(f"{where(path)}: not readable JSON ({exc})") from exc
    if not isinstance(document, dict) or not isinstance(document.get("frames"), dict):
        raise DataFormatError(f"{path}: expected an object with a 'frames' object, as in AFEW-VA clip files")
    return document


def _scaled(entry, key: str) -> float | None:
    value = entry.get(key) if isinstance(entry, dict) else None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not -SCALE <= value <= SCALE:
        return None
    return float(value) / SCALE


def _five(landmarks) -> str | None:
    try:
        points = np.asarray(landmarks, dtype=float)
    except (TypeError, ValueError):
        return None
    if points.shape != (68, 2) or not np.isfinite(points).all():
        return None
    return format_numbers(five_from_68(points))
