"""SynthFace generation speed: sampling, rendering, PNG encoding, files, and whole presets end to end.

    .venv/bin/python benchmarks/bench_synth.py [--images 1000] [--scale 1.0] [--no-cli]
        [--out benchmarks/results/bench_synth.json]

Stage rows are CPU time of one process (`time.process_time`, best of 3 rounds, so other load on
a shared machine distorts them least). The end-to-end rows are wall time of `generate_preset`
(sample, render, PNG, manifests, preset.json; starting its workers included) writing into a new
temporary folder, of the same call again into that folder (`force`: regenerating a cache), and
of the `facebehavior synth` command as a user runs it (Python start-up and imports included).
Their `cpu_s` is the CPU time of the parent and its workers together.

File creation is part of the cost: the "create 8 KiB files" row measures it alone. On this
project's VM (ext4 without a journal) it jumps from ~0.1 ms to ~1 ms a file for a few minutes
after many files were deleted (ext4 then skips recently freed inodes), so the benchmark deletes
nothing until it ends; do not run it right after deleting a generated preset. On a shared 2-core
machine the numbers move with other load (the JSON records the load average), so compare rows of
one run, not runs.
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

from benchlib import machine, write_result  # benchmarks/benchlib.py

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))


def _synthface():
    """SynthFace's modules, imported on first use: workers are spawned and re-import this script
    as their main module, which must stay light (as `facebehavior synth` is) or it would load
    pandas into every worker."""
    from facebehavior.synthface import generate, png, presets, render, sample

    return SimpleNamespace(generate_preset=generate.generate_preset, preset_total=generate.preset_total,
                           version=generate.SYNTHFACE_VERSION, encode_png=png.encode_png,
                           preset_databases=presets.preset_databases, make_sample=sample.make_sample,
                           render_face=render.render_face,
                           clear_identities=sample.subject_identity.cache_clear,
                           # None in older versions (run this script from an older checkout to compare):
                           # render_faces before 2.0, sample_batch and encode_pngs before 3.0
                           render_faces=getattr(render, "render_faces", None),
                           sample_batch=getattr(sample, "sample_batch", None),
                           encode_pngs=getattr(png, "encode_pngs", None),
                           compressor="isal" if getattr(png, "isal_zlib", None) is not None else "zlib")


def cpu_rate(work, count: int, rounds: int = 3) -> float:
    """Items per CPU second of `work()` (which handles `count` items), best of `rounds`."""
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        work()
        best = min(best, time.process_time() - started)
    return count / best


def stage_rows(images: int, scratch: Path) -> list[dict]:
    sf = _synthface()
    specs = sf.preset_databases("affect")
    indices = [(specs[i % len(specs)], i // len(specs)) for i in range(images)]  # every database's look

    def sample():
        sf.clear_identities()  # every round samples its subjects' identities, as a new preset does
        return [sf.make_sample(spec, 0, i) for spec, i in indices]

    params = [s.params for s in sample()]
    rows = [{"stage": "make_sample (parameters + ground truth, one image)", "size": "-",
             "images_per_s": cpu_rate(sample, images)}]
    if sf.sample_batch is not None:
        per_db = -(-images // len(specs))

        def sample_chunks():  # as the generator does: chunks of 200 images of one database
            sf.clear_identities()
            return [sf.sample_batch(spec, 0, a, min(a + 200, per_db)) for spec in specs for a in range(0, per_db, 200)]

        rows.append({"stage": "sample_batch (chunks of 200)", "size": "-",
                     "images_per_s": cpu_rate(sample_chunks, per_db * len(specs))})
    for size in (64, 112):
        if sf.render_faces is not None:
            rows.append({"stage": "render_faces (batched)", "size": size,
                         "images_per_s": cpu_rate(lambda: sf.render_faces(params, size), images)})
    few = params[: max(1, images // 4)]
    rows.append({"stage": "render_face (one call per face)", "size": 64,
                 "images_per_s": cpu_rate(lambda: [sf.render_face(p, 64) for p in few], len(few))})
    faces = [sf.render_face(p, 64) for p in params[:200]]
    rows.append({"stage": f"encode_png (one image; {sf.compressor})", "size": 64,
                 "images_per_s": cpu_rate(lambda: [sf.encode_png(f) for f in faces], len(faces))})
    if sf.encode_pngs is not None:
        stacked = np.stack(faces)
        rows.append({"stage": f"encode_pngs (a batch of 200; {sf.compressor})", "size": 64,
                     "images_per_s": cpu_rate(lambda: sf.encode_pngs(stacked), len(faces))})
    rows.append({"stage": "create 8 KiB files in a new folder (this disk)", "size": "-",
                 "images_per_s": _file_rate(scratch / "files", len(faces), len(sf.encode_png(faces[0])))})
    return rows


def _file_rate(folder: Path, count: int, nbytes: int) -> float:
    folder.mkdir()
    data = b"\0" * nbytes
    started = time.process_time()
    for i in range(count):
        (folder / f"{i:06d}.png").write_bytes(data)
    return count / (time.process_time() - started)


def _cpu_now() -> float:
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime


def preset_row(scale: float, workers: int, out: Path, label: str) -> dict:
    sf = _synthface()
    started, cpu = time.perf_counter(), _cpu_now()
    sf.generate_preset("affect", out, size=64, seed=0, scale=scale, workers=workers, force=True)
    seconds, cpu = time.perf_counter() - started, _cpu_now() - cpu
    total = sf.preset_total("affect", scale)
    sizes = [p.stat().st_size for p in out.glob("*/images/*.png")]
    return {"stage": f"generate_preset affect ×{scale:g}, {label} ({total} images)", "size": 64,
            "workers": workers, "images_per_s": total / seconds, "seconds": seconds, "cpu_s": cpu,
            "png_kib": sum(sizes) / len(sizes) / 1024}


def cli_row(scale: float, workers: int, out: Path) -> dict:
    command = [sys.executable, "-m", "facebehavior", "synth", "--out", str(out), "--scale", str(scale),
               "--workers", str(workers), "--force"]
    env = {**os.environ, "PYTHONPATH": str(REPO / "src")}
    started, cpu = time.perf_counter(), _cpu_now()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds, cpu = time.perf_counter() - started, _cpu_now() - cpu
    total = _synthface().preset_total("affect", scale)
    return {"stage": f"`facebehavior synth` ×{scale:g}, new folder (incl. Python start)", "size": 64,
            "workers": workers, "images_per_s": total / seconds, "seconds": seconds, "cpu_s": cpu}


def _print(result: dict, loads: list[float]) -> None:
    print(f"SynthFace {result['generator_version']}; {os.cpu_count()} CPUs; 1-min load average during the run: "
          + " → ".join(f"{x:.1f}" for x in loads))
    print(f"{'stage':66s} {'size':>4s} {'workers':>7s} {'images/s':>9s} {'seconds':>8s} {'cpu_s':>6s} {'PNG KiB':>7s}")
    for row in result["rows"]:
        print(f"{row['stage']:66s} {row['size']!s:>4s} {row.get('workers', 1):7d} {row['images_per_s']:9.1f} "
              f"{row.get('seconds', ''):>8} {row.get('cpu_s', ''):>6} {row.get('png_kib', ''):>7}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=1000, help="faces for the per-stage rows")
    parser.add_argument("--scale", type=float, default=1.0, help="preset scale of the end-to-end rows "
                        "(1 = the demo's preset, 27,400 images; 0.2 = `--quick`, 5,480)")
    parser.add_argument("--no-cli", action="store_true", help="skip the `facebehavior synth` rows")
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "bench_synth.json"))
    args = parser.parse_args()
    loads = [os.getloadavg()[0]]
    with tempfile.TemporaryDirectory(prefix="bench_synth_") as tmp:  # deleted only at the end (see above)
        scratch = Path(tmp)
        rows = stage_rows(args.images, scratch)
        loads.append(os.getloadavg()[0])
        for workers in (1, 2):
            rows.append(preset_row(args.scale, workers, scratch / f"api_w{workers}", "new folder"))
            loads.append(os.getloadavg()[0])
        rows.append(preset_row(args.scale, 2, scratch / "api_w1", "again into it"))
        loads.append(os.getloadavg()[0])
        if not args.no_cli:
            for workers in (1, 2):
                rows.append(cli_row(args.scale, workers, scratch / f"cli_w{workers}"))
                loads.append(os.getloadavg()[0])
    for row in rows:
        for key in ("images_per_s", "seconds", "cpu_s", "png_kib"):
            if key in row:
                row[key] = round(row[key], 1 if key == "images_per_s" else 2)
    result = {
        "generator_version": _synthface().version, "png_compressor": _synthface().compressor,
        "images": args.images, "scale": args.scale, "rows": rows,
        "machine": machine(numpy=np.__version__, load_average_1min_during=[round(x, 2) for x in loads]),
    }
    _print(result, loads)
    write_result(args.out, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
