"""The per-process job of preset generation: render a range of images to PNG.

Kept apart from `generate` so that spawned workers import only NumPy, OpenCV and the
renderer (not pandas), which halves their start-up time. A chunk's faces are rendered as one
batch (`sample_batch`, `render_faces`), and its manifest and truth columns come back as CSV
text, so that the parent process only joins text (building DataFrames of every row cost it more
than a worker's share of the rendering).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np

from facebehavior.synthface.affect import COMPOUND_CLASSES
from facebehavior.synthface.params import SYNTH_ATTRIBUTES
from facebehavior.synthface.png import encode_pngs, write_file
from facebehavior.synthface.presets import DatabaseSpec
from facebehavior.synthface.render import render_faces
from facebehavior.synthface.sample import SampleBatch, sample_batch
from facebehavior.labels import AU_NAMES, AUS, EXPRESSIONS


def _rounded(values, digits: int) -> list[float]:
    return np.round(np.asarray(values, float), digits).tolist()


def _head(spec: DatabaseSpec, batch: SampleBatch) -> dict[str, list]:
    n = len(batch)
    return {"path": [f"images/{i:06d}.png" for i in range(batch.start, batch.start + n)],
            "database": [spec.name] * n, "split": batch.split,
            "subject": [f"{spec.name}/s{s:04d}" for s in batch.subject.tolist()]}


def label_columns(spec: DatabaseSpec, batch: SampleBatch) -> dict[str, list]:
    """Manifest label columns: what this database annotates, None (empty) elsewhere."""
    n, a = len(batch), batch.affect
    if spec.role == "identity":
        return {"identity": batch.subject.tolist(), **dict(zip(SYNTH_ATTRIBUTES, batch.attributes.T.tolist()))}
    missing = [None] * n
    columns = {"expr": a.expr.tolist() if "expr" in spec.tasks else missing}
    if spec.role == "compound":
        columns["compound"] = a.compound.tolist()
    annotated = set(spec.au_subset or AUS) if "au" in spec.tasks else set()
    on = (a.aus > 0).astype(np.int8).T.tolist()
    columns.update({name: on[j] if au in annotated else missing for j, (au, name) in enumerate(zip(AUS, AU_NAMES))})
    va = "va" in spec.tasks
    columns.update(valence=_rounded(a.valence, 4) if va else missing, arousal=_rounded(a.arousal, 4) if va else missing)
    return columns


def truth_columns(batch: SampleBatch) -> dict[str, list]:
    """Everything known about the images: latent expression, AU intensities, VA, attributes, nuisance."""
    a, nz = batch.affect, batch.nuisance
    columns = {"latent_expr": [EXPRESSIONS[e] if e >= 0 else "" for e in a.expr.tolist()],
               "compound_name": [COMPOUND_CLASSES[c] if c >= 0 else "" for c in a.compound.tolist()],
               "strength": _rounded(a.strength, 4)}
    intensities = np.round(a.aus.T.astype(float), 4).tolist()
    columns.update({f"{name}_intensity": col for name, col in zip(AU_NAMES, intensities)})
    columns.update(valence=_rounded(a.valence, 4), arousal=_rounded(a.arousal, 4),
                   **dict(zip(SYNTH_ATTRIBUTES, batch.attributes.T.tolist())))
    conditions = ("yaw", "scale", "brightness", "contrast", "light", "blur", "noise")
    columns.update(roll=_rounded(nz.roll, 2), **{k: _rounded(getattr(nz, k), 3) for k in conditions},
                   occluded=nz.occluded.astype(np.int8).tolist())
    return columns


def _render(spec: DatabaseSpec, seed: int, size: int, folder: str, start: int, stop: int) -> SampleBatch:
    """Sample images [start, stop), write their PNGs under `folder`/images; return the samples."""
    images = Path(folder) / "images"
    images.mkdir(parents=True, exist_ok=True)
    batch = sample_batch(spec, seed, start, stop)
    faces = render_faces([batch.params(i) for i in range(len(batch))], size)
    for index, data in zip(range(start, stop), encode_pngs(faces)):
        write_file(images / f"{index:06d}.png", data)
    return batch


def render_chunk(job: tuple) -> tuple[dict[str, list], dict[str, list]]:
    """Render images [start, stop) of one database to PNG; return their manifest and truth columns."""
    spec, seed, size, folder, start, stop = job
    batch = _render(spec, seed, size, folder, start, stop)
    head = _head(spec, batch)
    return {**head, **label_columns(spec, batch)}, {**head, **truth_columns(batch)}


def _csv(columns: dict[str, list]) -> tuple[str, str]:
    """(header line, body lines) as pandas' `to_csv` writes them: None empty, floats by repr."""
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(columns)
    header = text.getvalue()
    writer.writerows(zip(*columns.values()))
    return header, text.getvalue()[len(header):]


def render_chunk_csv(job: tuple) -> tuple[str, int, int, tuple[str, str], tuple[str, str]]:
    """`render_chunk` with the columns as CSV: (database, start, count, (manifest header, lines),
    (truth header, lines))."""
    spec, _, _, _, start, stop = job
    manifest, truth = render_chunk(job)
    return spec.name, start, stop - start, _csv(manifest), _csv(truth)


def init_process() -> None:
    """Pool initializer: one OpenCV thread per worker (the pool already uses every core)."""
    import cv2

    cv2.setNumThreads(1)
