"""The per-process job of preset generation: render a range of images to PNG.

Kept apart from `generate` so that spawned workers import only NumPy, Pillow and the
renderer (not pandas), which halves their start-up time.
"""

from __future__ import annotations

from pathlib import Path

from facebehavior.data.synthface import affect as affect_process
from facebehavior.data.synthface.png import write_png
from facebehavior.data.synthface.presets import DatabaseSpec
from facebehavior.data.synthface.render import render_face
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
    row.update({f"{name}_intensity": round(float(a.aus[j]), 4) for j, name in enumerate(AU_NAMES)})
    row.update(valence=round(a.valence, 4), arousal=round(a.arousal, 4), **s.attributes)
    row.update(roll=round(nz.roll, 2), yaw=round(nz.yaw, 3), scale=round(nz.scale, 3),
               brightness=round(nz.brightness, 3), contrast=round(nz.contrast, 3), light=round(nz.light, 3),
               blur=round(nz.blur, 3), noise=round(nz.noise, 3), occluded=int(nz.occluder is not None))
    return row


def render_chunk(job: tuple) -> tuple[str, list[dict], list[dict]]:
    """Render images [start, stop) of one database to PNG; return their manifest and truth rows."""
    spec, seed, size, folder, start, stop = job
    (Path(folder) / "images").mkdir(parents=True, exist_ok=True)
    rows, truths = [], []
    for index in range(start, stop):
        s = make_sample(spec, seed, index)
        rel = f"images/{index:06d}.png"
        write_png(Path(folder) / rel, render_face(s.params, size))
        head = {"path": rel, "database": spec.name, "split": s.split, "subject": f"{spec.name}/s{s.subject:04d}"}
        rows.append({**head, **labels(spec, s)})
        truths.append({**head, **truth(s)})
    return spec.name, rows, truths
