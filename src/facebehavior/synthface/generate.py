"""`generate_preset`: render a preset's databases to PNG images, manifests and `preset.json`.

Layout under OUT: ``<database>/images/<index>.png``, ``<database>/manifest.csv`` (labels only,
null where a database does not annotate), ``<database>/truth.csv`` (the full ground truth:
latent expression, AU intensities, VA, attributes, nuisance) and ``preset.json``. The JSON is
written last, so an interrupted run is never mistaken for a finished one. A database's
manifests are written as soon as its last chunk is in, while the workers render
the next databases.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
from collections import deque
from pathlib import Path
from typing import Callable

from facebehavior import atomic
from facebehavior.synthface import affect as affect_process
from facebehavior.synthface.params import SYNTH_ATTRIBUTES
from facebehavior.synthface.presets import DatabaseSpec, preset_databases
from facebehavior.synthface.render import MAX_SIZE, MIN_SIZE
from facebehavior.synthface.worker import init_process, render_chunk_csv
from facebehavior.errors import ConfigError, FaceBehaviorError
from facebehavior.labels import AU_NAMES, EXPRESSIONS, TaskSpec, affect_tasks

SYNTHFACE_VERSION = "3.0"      # 3.0: vectorised sampling on counter-based per-image streams (same process, new draws)
CHUNK = 200                   # images per worker job
MIN_PARALLEL = 800            # fewer images than this render in-process (spawning costs ~1 s)
PRESET_FILE = "preset.json"


def task_specs(spec: DatabaseSpec) -> list[TaskSpec]:
    """The task declarations a database's manifest is read with."""
    if spec.role == "identity":
        ids = spec.subjects["train"]
        return [TaskSpec("identity", "multiclass", tuple(f"id{i}" for i in range(ids))),
                TaskSpec("attributes", "multilabel", SYNTH_ATTRIBUTES)]
    tasks = affect_tasks()
    if spec.role == "compound":
        tasks.append(TaskSpec("compound", "multiclass", affect_process.COMPOUND_CLASSES))
    return tasks


def _task_labels(spec: DatabaseSpec) -> dict:
    named = {"expr": "@expressions", "au": "@aus", "va": "@va", "attributes": list(SYNTH_ATTRIBUTES),
             "compound": list(affect_process.COMPOUND_CLASSES),
             "identity": {"count": spec.subjects.get("train", 0), "prefix": "id"}}
    kinds = {"expr": "multiclass", "au": "multilabel", "va": "regression", "attributes": "multilabel",
             "compound": "multiclass", "identity": "multiclass"}
    return {t: {"kind": kinds[t], "labels": named[t]} for t in spec.tasks}


def _describe(spec: DatabaseSpec) -> dict:
    return {
        "name": spec.name, "role": spec.role, "mirrors": spec.mirrors, "tasks": list(spec.tasks),
        "task_specs": _task_labels(spec), "metrics": dict(spec.metrics),
        "au_subset": [f"au{a}" for a in spec.au_subset] if spec.au_subset else
        (list(AU_NAMES) if "au" in spec.tasks else None),
        "sizes": dict(spec.sizes), "subjects": dict(spec.subjects),
        "manifest": f"{spec.name}/manifest.csv", "truth": f"{spec.name}/truth.csv",
        "expression_prior": dict(zip(EXPRESSIONS, (round(p, 4) for p in spec.prior))),
        "test_expression_prior": dict(zip(EXPRESSIONS, (round(p, 4) for p in spec.test_prior)))
        if spec.test_prior else None,
        "nuisance": spec.nuisance.describe(), "note": spec.note,
    }


def preset_key(name: str, size: int, seed: int, scale: float) -> dict:
    """What must match for an existing output to be reused."""
    return {"preset": name, "size": int(size), "seed": int(seed), "scale": float(scale),
            "version": SYNTHFACE_VERSION}


def read_preset(path: str | Path) -> dict:
    """The preset description (`preset.json`, or a folder holding it)."""
    path = Path(path)
    path = path / PRESET_FILE if path.is_dir() else path
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FaceBehaviorError(f"{path}: cannot read the SynthFace preset description ({exc}); "
                                "generate it with `facebehavior synth`") from exc


def cached_preset(name: str, out: str | Path, size: int = 64, seed: int = 0, scale: float = 1.0) -> Path | None:
    """`OUT/preset.json` if it was generated with the same preset, size, seed, scale and version."""
    path = Path(out) / PRESET_FILE
    if not path.is_file():
        return None
    try:
        meta = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None
    same = all(meta.get(k) == v for k, v in preset_key(name, size, seed, scale).items())
    manifests = all((Path(out) / db["manifest"]).is_file() for db in meta.get("databases", []))
    return path if same and manifests else None


def preset_total(name: str, scale: float = 1.0) -> int:
    return sum(sum(db.sizes.values()) for db in preset_databases(name, scale))


def _jobs(specs: list[DatabaseSpec], seed: int, size: int, out: Path) -> list[tuple]:
    jobs = []
    for spec in specs:
        total = sum(spec.sizes.values())
        jobs += [(spec, seed, size, str(out / spec.name), i, min(i + CHUNK, total)) for i in range(0, total, CHUNK)]
    return jobs


def _run(jobs: list[tuple], workers: int, progress: Callable[[int], None] | None):
    """Render every job; yield each chunk's result as it is done (in no fixed order)."""
    for result in _results(jobs, workers):
        if progress:
            progress(result[2])
        yield result


def _results(jobs: list[tuple], workers: int):
    if workers <= 1 or len(jobs) == 1 or sum(j[5] - j[4] for j in jobs) < MIN_PARALLEL:
        yield from map(render_chunk_csv, jobs)
        return
    # This process is one of the `workers`: it renders chunks from the end of the queue while
    # workers - 1 spawned processes (safe even when the caller has threads, e.g. torch) take
    # them from the front, so one process fewer is started and none sits idle waiting.
    queue = deque(jobs)
    with multiprocessing.get_context("spawn").Pool(workers - 1, initializer=init_process) as pool:
        running: deque = deque()
        while queue or running:
            while queue and len(running) < 4 * (workers - 1):  # keep a few chunks queued per worker
                running.append(pool.apply_async(render_chunk_csv, (queue.popleft(),)))
            while running and running[0].ready():
                yield running.popleft().get()
            if queue:
                yield render_chunk_csv(queue.pop())
            elif running:
                yield running.popleft().get()


def _write_database(spec: DatabaseSpec, out: Path, chunks: dict[int, tuple]) -> None:
    """Join a database's chunks (by start index, i.e. by path) into manifest.csv and truth.csv."""
    for k, name in ((0, "manifest.csv"), (1, "truth.csv")):
        parts = [chunks[start][k] for start in sorted(chunks)]
        atomic.write_text(out / spec.name / name, parts[0][0] + "".join(body for _, body in parts))


def _clear_previous(out: Path, specs: list[DatabaseSpec]) -> None:
    """Remove an earlier generation's preset.json, the image folders of its databases that this
    preset lacks, and any of our databases' images beyond our sizes (SynthFace's own only).

    Our images are then rewritten in place: on some file systems (this project's VM: ext4
    without a journal) deleting many files makes creating new ones slow for minutes, and
    creating a file can cost more than rendering it; rewriting one does not.
    """
    names = {s.name for s in specs}
    previous = out / PRESET_FILE
    if previous.is_file():
        try:
            names |= {db["name"] for db in json.loads(previous.read_text(encoding="utf-8"))["databases"]}
        except (ValueError, KeyError, TypeError):
            pass  # unreadable: its databases are unknown, ours are still cleared
        previous.unlink()
    counts = {s.name: sum(s.sizes.values()) for s in specs}
    for name in names:
        images = out / name / "images"
        if not images.is_dir():
            continue
        if name not in counts:
            shutil.rmtree(images)
            continue
        ours = {f"{i:06d}.png" for i in range(counts[name])}
        for entry in os.scandir(images):
            if entry.name not in ours:
                shutil.rmtree(entry.path) if entry.is_dir(follow_symlinks=False) else os.unlink(entry.path)


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def generate_preset(name: str, out: str | Path, size: int = 64, seed: int = 0, scale: float = 1.0,
                    workers: int | None = None, force: bool = False,
                    progress: Callable[[int], None] | None = None) -> Path:
    """Generate (or reuse) a SynthFace preset under `out`; return the path of `preset.json`.

    `progress` is called with the number of images finished after every chunk.
    """
    if not MIN_SIZE <= int(size) <= MAX_SIZE:
        raise ConfigError(f"SynthFace image size {size} is outside {MIN_SIZE}..{MAX_SIZE}")
    out = Path(out)
    specs = preset_databases(name, scale)
    cached = None if force else cached_preset(name, out, size, seed, scale)
    if cached:
        return cached
    out.mkdir(parents=True, exist_ok=True)
    _clear_previous(out, specs)
    workers = workers or _default_workers()
    jobs = _jobs(specs, seed, int(size), out)
    by_name = {s.name: s for s in specs}
    waiting = {s.name: sum(1 for j in jobs if j[0].name == s.name) for s in specs}
    chunks: dict[str, dict[int, tuple]] = {s.name: {} for s in specs}
    for db, start, _, manifest_csv, truth_csv in _run(jobs, workers, progress):
        chunks[db][start] = (manifest_csv, truth_csv)
        waiting[db] -= 1
        if not waiting[db]:
            _write_database(by_name[db], out, chunks.pop(db))
    if chunks:  # every database has at least one chunk; this would be a bug in _jobs
        raise FaceBehaviorError(f"SynthFace: no images were rendered for {sorted(chunks)}")
    meta = {**preset_key(name, size, seed, scale), "generator": "synthface",
            "au_table": affect_process.AU_TABLE, "compound_table": affect_process.COMPOUND_TABLE,
            "spurious_rate": affect_process.SPURIOUS_RATE, "va_centroids": affect_process.VA_CENTROIDS,
            "va_spread": affect_process.VA_SPREAD, "compound_classes": list(affect_process.COMPOUND_CLASSES),
            "attributes": list(SYNTH_ATTRIBUTES), "databases": [_describe(s) for s in specs]}
    return atomic.write_text(out / PRESET_FILE, json.dumps(meta, indent=2))


def pack_preset_shards(path: str | Path, shard_size: int = 1000, progress: bool = False) -> dict[str, dict]:
    """Pack every database of a generated preset (`preset.json` or its folder) into WebDataset
    shards under ``<database>/shards/`` (see `facebehavior.data.shards`); return each index."""
    from facebehavior.data.manifest import read_manifest  # pandas and torch: only when packing
    from facebehavior.data.shards import pack_shards

    meta = read_preset(path)
    root = Path(path).parent if Path(path).is_file() else Path(path)
    specs = {s.name: s for s in preset_databases(meta["preset"], meta["scale"])}
    indexes = {}
    for db in meta["databases"]:
        tasks = task_specs(specs[db["name"]])
        manifest = read_manifest(root / db["manifest"], tasks)
        indexes[db["name"]] = pack_shards(manifest, root / db["name"] / "shards", tasks, shard_size, progress)
    return indexes
