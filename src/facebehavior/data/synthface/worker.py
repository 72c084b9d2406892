"""The per-process job of preset generation: render a range of images to PNG.

Kept apart from `generate` so that spawned workers import only NumPy, OpenCV and the
renderer (not pandas), which halves their start-up time. A chunk's faces are rendered as one
batch (`render_faces`), and its manifest and truth rows come back as CSV text, so that the
parent process only joins text (building DataFrames of every row cost it more than a worker's
share of the rendering).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from facebehavior.data.synthface import affect as affect_process
from facebehavior.data.synthface.png import write_png
from facebehavior.data.synthface.presets import DatabaseSpec
from facebehavior.data.synthface.render import render_faces
from facebehavior.data.synthface.sample import SynthSample, make_sample
from facebehavior.labels import AU_NAMES, AUS, EXPRESSIONS


def labels(spec: DatabaseSpec, s: SynthSample) -> dict:
    """Manifest label columns: what this database annotates, null elsewhere."""
    a = s.affect
    if spec.role == "identity":
        return {"identity": s.subject, **s.attributes}
    annotated = set(spec.au_subset or AUS) if "au" in spec.tasks else set()
    row = {"expr": a.expr if "expr" in spec.tasks else None}
    if spec.role == "compound":
        row["compound"] = a.compound
    for j, au in enumerate(AUS):
        row[AU_NAMES[j]] = int(a.aus[j] > 0) if au in annotated else None
    va = "va" in spec.tasks
    row.update(valence=round(a.valence, 4) if va else None, arousal=round(a.arousal, 4) if va else None)
    return row


def truth(s: SynthSample) -> dict:
    """Everything known about an image: latent expression, AU intensities, VA, attributes, nuisance."""
    a, nz = s.affect, s.params.nuisance
    row = {"latent_expr": EXPRESSIONS[a.expr] if a.expr >= 0 else "",
           "compound_name": affect_process.COMPOUND_CLASSES[a.compound] if a.compound >= 0 else "",
           "strength": round(a.strength, 4)}
    row.update({f"{name}_intensity": round(v, 4) for name, v in zip(AU_NAMES, a.aus.tolist())})
    row.update(valence=round(a.valence, 4), arousal=round(a.arousal, 4), **s.attributes)
    row.update(roll=round(nz.roll, 2), yaw=round(nz.yaw, 3), scale=round(nz.scale, 3),
               brightness=round(nz.brightness, 3), contrast=round(nz.contrast, 3), light=round(nz.light, 3),
               blur=round(nz.blur, 3), noise=round(nz.noise, 3), occluded=int(nz.occluder is not None))
    return row


def _render(spec: DatabaseSpec, seed: int, size: int, folder: str, start: int, stop: int) -> list[SynthSample]:
    """Sample images [start, stop), write their PNGs under `folder`/images; return the samples."""
    images = Path(folder) / "images"
    images.mkdir(parents=True, exist_ok=True)
    samples = [make_sample(spec, seed, index) for index in range(start, stop)]
    faces = render_faces([s.params for s in samples], size)
    for index, face in zip(range(start, stop), faces):
        write_png(images / f"{index:06d}.png", face)
    return samples


def _rows(spec: DatabaseSpec, samples: list[SynthSample], start: int) -> tuple[list[dict], list[dict]]:
    rows, truths = [], []
    for index, s in enumerate(samples, start):
        head = {"path": f"images/{index:06d}.png", "database": spec.name, "split": s.split,
                "subject": f"{spec.name}/s{s.subject:04d}"}
        rows.append({**head, **labels(spec, s)})
        truths.append({**head, **truth(s)})
    return rows, truths


def render_chunk(job: tuple) -> tuple[str, list[dict], list[dict]]:
    """Render images [start, stop) of one database to PNG; return their manifest and truth rows."""
    spec, seed, size, folder, start, stop = job
    return (spec.name, *_rows(spec, _render(spec, seed, size, folder, start, stop), start))


def _csv(rows: list[dict]) -> tuple[str, str]:
    """(header line, body lines) as pandas' `to_csv` writes them: None empty, floats by repr."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(rows[0].keys())
    header = text.getvalue()
    writer.writerows(row.values() for row in rows)
    return header, text.getvalue()[len(header):]


def render_chunk_csv(job: tuple) -> tuple[str, int, int, tuple[str, str], tuple[str, str]]:
    """`render_chunk` with the rows as CSV: (database, start, count, (manifest header, lines),
    (truth header, lines))."""
    spec, seed, size, folder, start, stop = job
    rows, truths = _rows(spec, _render(spec, seed, size, folder, start, stop), start)
    return spec.name, start, len(rows), _csv(rows), _csv(truths)


def init_process() -> None:
    """Pool initializer: one OpenCV thread per worker (the pool already uses every core)."""
    import cv2

    cv2.setNumThreads(1)
