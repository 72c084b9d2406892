"""GPU readiness: every GPU path of the project once, in under 8 minutes on one GPU, into one JSON.

Parts (each in its own process, with its own time limit; one failing does not stop the others):
  amp               bf16 and fp16 AMP training steps of the paper model (fbn preset paper, 112 px, half
                    the paper's batch) through the trainer's own step: ms/step, images/s, finite losses,
                    peak memory, fp16's loss scale
  bench_step        benchmarks/bench_step.py --device cuda (augmentation on the device): step/bare
  ddp_nccl          DDP over NCCL at world size 1 under torchrun (DDP wrapper, SyncBatchNorm, the
                    global-batch all-gathers): 5 steps, equal to the same 5 steps without DDP
  analyze_video     `facebehavior analyze` on a video with --device cuda, and on the CPU: rows and
                    the largest difference between the two
  onnxruntime_cuda  an exported model on ONNX Runtime's CUDA provider against its CPU provider
                    (skipped, and said so, when onnxruntime-gpu is not installed)
  ferplus_gpu       `facebehavior recipe ferplus --gpu` (configs/ferplus_gpu.yaml) for a bounded number
                    of steps, on the FER+ data when found (FACEBEHAVIOR_SHARED, shared/, ../shared), else
                    on a synthetic folder in FER+'s layout (the plumbing, not the accuracy)
Without a CUDA GPU it says so, writes {"gpu": false, ...} and exits 0.
Run: bash benchmarks/gpu_check.sh [--out FILE] [--only PART ...] [--budget SECONDS] [--ferplus DIR]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# name → seconds it may take (the whole run must stay under 8 minutes on one GPU)
PARTS = {"amp": 100, "bench_step": 130, "ddp_nccl": 60, "analyze_video": 80, "onnxruntime_cuda": 50,
         "ferplus_gpu": 130}
BUDGET = 450  # seconds for all parts together (8 min less start-up and margin)
DEVICE = "cuda"  # "cpu" only with --dry-run-on-cpu (development: the plumbing without a GPU)


def environment() -> dict:
    info = {"python": platform.python_version(), "machine": platform.machine(), "cpus": os.cpu_count()}
    try:
        import torch
    except ImportError as exc:
        return {**info, "torch": None, "cuda": False, "reason": f"torch cannot be imported: {exc}"}
    info.update(torch=torch.__version__, torch_cuda=torch.version.cuda, cuda=torch.cuda.is_available())
    if not info["cuda"]:
        built = "a CPU-only torch build" if torch.version.cuda is None else "no CUDA device visible"
        return {**info, "reason": f"torch.cuda.is_available() is False ({built})"}
    props = torch.cuda.get_device_properties(0)
    info.update(gpu=torch.cuda.get_device_name(0), gpus=torch.cuda.device_count(),
                capability=f"{props.major}.{props.minor}", memory_gb=round(props.total_memory / 2**30, 1),
                bf16=torch.cuda.is_bf16_supported(), nccl=_nccl_version(torch), cudnn=torch.backends.cudnn.version())
    return info


def _nccl_version(torch) -> str | None:
    try:
        version = torch.cuda.nccl.version()
        return ".".join(map(str, version)) if isinstance(version, tuple) else str(version)
    except Exception:  # noqa: BLE001 - a torch without NCCL
        return None


# ---- the driver ------------------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "gpu_check.json"))
    parser.add_argument("--only", nargs="*", choices=sorted(PARTS), help="parts to run (default: all)")
    parser.add_argument("--budget", type=float, default=BUDGET, help=f"seconds for all parts (default {BUDGET})")
    parser.add_argument("--ferplus", help="FER+ folder (FER2013Train/Valid/Test); default: searched, else synthetic")
    parser.add_argument("--part", help=argparse.SUPPRESS)  # internal: run one part in this process
    parser.add_argument("--work", help=argparse.SUPPRESS)
    # development only: the parts' plumbing on the CPU, small (fp16 and NCCL need CUDA: bf16 and gloo)
    parser.add_argument("--dry-run-on-cpu", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    global DEVICE
    DEVICE = "cpu" if args.dry_run_on_cpu else "cuda"
    if args.part:
        return run_part(args.part, Path(args.work), args)

    started = time.time()
    env = environment()
    report = {"gpu": bool(env.get("cuda")), "environment": env, "parts": {}}
    if args.dry_run_on_cpu:
        report["dry_run_on_cpu"] = True
    elif not env.get("cuda"):
        print(f"no CUDA GPU here: {env.get('reason')}; nothing to check (exit 0)")
        _write(args.out, report)
        return 0
    if env.get("cuda"):
        print(f"GPU: {env['gpu']} ({env['memory_gb']} GiB, capability {env['capability']}), torch {env['torch']}, "
              f"CUDA {env['torch_cuda']}, NCCL {env['nccl']}")
    deadline = started + args.budget
    with tempfile.TemporaryDirectory(prefix="gpu_check_") as tmp:
        for name, limit in PARTS.items():
            if args.only and name not in args.only:
                continue
            left = deadline - time.time()
            if left < min(limit, 30):
                report["parts"][name] = {"status": "skipped", "reason": f"time budget: {left:.0f} s left"}
            else:
                limit *= 5 if args.dry_run_on_cpu else 1  # this project's 2-core test machine
                report["parts"][name] = _run_part_process(name, Path(tmp) / name, min(limit, left), args)
            _print_part(name, report["parts"][name])
            _write(args.out, report)  # after every part: a check cut short still leaves what it found
    report["seconds"] = round(time.time() - started, 1)
    statuses = [p["status"] for p in report["parts"].values()]
    report["ok"] = all(s in ("ok", "skipped") for s in statuses)
    _write(args.out, report)
    print(f"{statuses.count('ok')} of {len(statuses)} parts ok in {report['seconds']:.0f} s -> {args.out}")
    return 0 if report["ok"] else 1


def _run_part_process(name: str, work: Path, limit: float, args) -> dict:
    work.mkdir(parents=True)
    cmd = [sys.executable, str(Path(__file__).resolve()), "--part", name, "--work", str(work)]
    if args.ferplus:
        cmd += ["--ferplus", args.ferplus]
    if args.dry_run_on_cpu:
        cmd += ["--dry-run-on-cpu"]
    env = dict(os.environ, PYTHONUNBUFFERED="1", PYTHONPATH=os.pathsep.join(
        [str(REPO / "src"), str(REPO), str(REPO / "benchmarks"), os.environ.get("PYTHONPATH", "")]))
    started = time.time()
    try:
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=limit)
    except subprocess.TimeoutExpired as exc:
        tail = (exc.stdout or "")[-2000:] if isinstance(exc.stdout, str) else ""
        return {"status": "timeout", "seconds": round(time.time() - started, 1), "limit_s": round(limit),
                "output_tail": tail}
    result = {}
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            result = json.loads(line[len("RESULT "):])
    ok = done.returncode == 0 and result.get("ok", False)
    status = "skipped" if ok and result.get("skipped") else "ok" if ok else "failed"
    out = {"status": status, "seconds": round(time.time() - started, 1), **result}
    if status == "failed":
        out["returncode"] = done.returncode
        out["output_tail"] = (done.stdout + done.stderr)[-3000:]
    return out


def _print_part(name: str, part: dict) -> None:
    shown = {k: v for k, v in part.items() if k not in ("status", "seconds", "output_tail")}
    print(f"[{part['status']:>7}] {name} ({part.get('seconds', 0)} s): {json.dumps(shown)[:600]}")
    if part["status"] in ("failed", "timeout") and part.get("output_tail"):
        print("    " + part["output_tail"][-1200:].replace("\n", "\n    "))


def _write(path: str, report: dict) -> None:
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(path).with_name(Path(path).name + ".tmp")
    tmp.write_text(json.dumps(report, indent=1, default=str))
    tmp.replace(path)


# ---- the parts (each runs in its own process) -----------------------------------------------------------

def run_part(name: str, work: Path, args) -> int:
    func = {"amp": part_amp, "bench_step": part_bench_step, "ddp_nccl": part_ddp_nccl, "ddp_worker": part_ddp_worker,
            "analyze_video": part_analyze_video, "onnxruntime_cuda": part_onnxruntime_cuda,
            "ferplus_gpu": part_ferplus_gpu}[name]
    result = func(work, args)
    if result is not None:
        print("RESULT " + json.dumps(result, default=str))
    return 0


def part_amp(work: Path, args) -> dict:
    import torch
    from bench_step import Rig, clock, experiment, write_dataset

    from facebehavior.training.step import optimisation_step

    dry = DEVICE == "cpu"
    size, preset, share = (32, "tiny", 0.1) if dry else (112, "paper", 0.5)
    manifest = write_dataset(work / f"data{size}", size)
    out = {"ok": True, "model": f"fbn {preset} preset, {size} px, {share:g} of the paper's batch"}
    for amp in ("bf16",) if dry else ("bf16", "fp16"):
        cfg = experiment(manifest, size, preset, share, {}, DEVICE)
        cfg.train.amp = amp
        if not dry:
            torch.cuda.reset_peak_memory_stats()
        rig = Rig(cfg)
        batches = rig.batches()
        times, losses = [], []
        for step in range(4 if dry else 10):
            images, idx = next(batches)
            started = clock(rig.device)
            result = optimisation_step(rig.parts, images, idx, step)
            times.append(clock(rig.device) - started)
            losses.append(float(result.losses["total"]))
        ms = statistics.median(times[1:] if dry else times[3:]) * 1000
        batch = sum(s.batch_size for s in rig.data.sampler.sets)
        entry = {"ms_per_step": round(ms, 1), "images_per_s": round(batch / ms * 1000, 1),
                 "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)],
                 "finite": all(v == v and abs(v) != float("inf") for v in losses),
                 "peak_memory_gb": None if dry else round(torch.cuda.max_memory_allocated() / 2**30, 2),
                 "logits_dtype": str(result.logits["expr"].dtype)}
        if amp == "fp16":
            entry["loss_scale"] = rig.parts.scaler.get_scale()
        out[amp] = entry
        out["ok"] = out["ok"] and entry["finite"]
        del rig, batches
        if not dry:
            torch.cuda.empty_cache()
    return out


def part_bench_step(work: Path, args) -> dict:
    out_file = work / "bench_step_cuda.json"
    cases = ["tiny@64"] if DEVICE == "cpu" else ["paper@112", "tiny@64"]
    cmd = [sys.executable, str(REPO / "benchmarks" / "bench_step.py"), "--device", DEVICE,
           "--repeats", "2" if DEVICE == "cpu" else "6", "--only", *cases, "--out", str(out_file)]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        print(done.stdout[-2000:], done.stderr[-2000:])
        return {"ok": False, "error": f"bench_step.py exited {done.returncode}"}
    results = json.loads(out_file.read_text())["results"]
    return {"ok": True, "cases": {r["name"]: {"step_over_bare": r["step_over_bare"],
                                              "quartiles": r["step_over_bare_quartiles"],
                                              "best_ms": {k: r["best_ms"][k] for k in ("augment", "forward", "backward",
                                                                                       "optimizer", "step", "bare")},
                                              "coupling_share": r["coupling_share"],
                                              "images_per_s": r["train_images_per_s"]} for r in results}}


def _tiny_run_config(work: Path, device: str, steps: int, n: int = 240) -> dict:
    """A tiny three-database affect run on random 32-px images (as tests/training/conftest.py makes)."""
    import numpy as np
    import pandas as pd
    from PIL import Image

    rng = np.random.default_rng(0)
    (work / "data" / "img").mkdir(parents=True)
    rows = []
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (32, 32, 3), dtype=np.uint8)).save(work / "data" / "img" / f"{i}.png")
        row = {"path": f"img/{i}.png", "split": "train" if i < int(n * 0.75) else "val"}
        if i % 3 == 0:
            row.update(database="db_expr", expr=int(rng.integers(7)))
        elif i % 3 == 1:
            row.update(database="db_au", **{f"au{a}": int(rng.integers(2)) for a in (1, 2, 4, 6, 12, 25)})
        else:
            row.update(database="db_va", valence=float(rng.uniform(-1, 1)), arousal=float(rng.uniform(-1, 1)))
        rows.append(row)
    pd.DataFrame(rows).to_csv(work / "data" / "manifest.csv", index=False)
    return {
        "name": "gpu_check", "out_dir": str(work / "run"),
        "tasks": [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
                  {"name": "au", "kind": "multilabel", "labels": "@aus"},
                  {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]}],
        "data": {"train": [str(work / "data" / "manifest.csv")], "image_size": 32, "batch_size": 30,
                 "num_workers": 0, "cache": "memory"},
        "model": {"backbone": "fbn", "preset": "tiny", "widths": [8, 16, 16, 16]},
        "coupling": [{"multiclass": "expr", "multilabel": "au", "relatedness": "du2014",
                      "soft_coannotation": {"enabled": True}, "distribution_matching": {"enabled": True}}],
        "train": {"epochs": 1, "max_steps": steps, "lr": 0.01, "progress": False, "log_every": 1, "device": device},
    }


def part_ddp_nccl(work: Path, args) -> dict:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "1",
           str(Path(__file__).resolve()), "--part", "ddp_worker", "--work", str(work)]
    cmd += ["--dry-run-on-cpu"] if DEVICE == "cpu" else []
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    for line in done.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    print(done.stdout[-3000:], done.stderr[-3000:])
    return {"ok": False, "error": f"torchrun exited {done.returncode} without a result"}


def part_ddp_worker(work: Path, args) -> dict:
    """Under torchrun (world size 1): 5 DDP steps over NCCL, then the same 5 steps without DDP."""
    import torch
    import torch.distributed as dist

    from facebehavior.config import load_config
    from facebehavior.training.coupling_setup import build_couplings
    from facebehavior.training.data import build_training_data, label_arrays_numpy
    from facebehavior.training.step import build_step_parts, optimisation_step

    expected = "gloo" if DEVICE == "cpu" else "nccl"
    dist.init_process_group(expected)
    if DEVICE == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    cfg = load_config(base=_tiny_run_config(work, DEVICE, 5))
    tasks = cfg.task_specs()
    device = torch.device("cuda", torch.cuda.current_device()) if DEVICE == "cuda" else torch.device("cpu")
    weights, losses, grads = {}, {}, {}
    for distributed in (True, False):
        data = build_training_data(cfg, tasks, dist.get_rank(), dist.get_world_size())
        couplings, _ = build_couplings(cfg, tasks, label_arrays_numpy(data.train))
        parts = build_step_parts(cfg, tasks, data.train, couplings, device, 5, distributed=distributed,
                                 batch_rows=data.sampler.rank_rows() if distributed else None)
        parts.net.train()
        data.sampler.set_epoch(0)
        run = []
        for step, (images, idx) in enumerate(data.loader):
            run.append(float(optimisation_step(parts, images, idx, step).losses["total"]))
            if step == 0:  # same weights, same batch: DDP's averaged gradient must be the one process's
                grads[distributed] = {n: p.grad.detach().float().cpu() for n, p in parts.model.named_parameters()
                                      if p.grad is not None}
            if step == 4:
                break
        losses[distributed] = run
        weights[distributed] = {k: v.detach().float().cpu() for k, v in parts.model.state_dict().items()}
        kinds = sorted({type(m).__name__ for m in parts.model.modules() if "BatchNorm" in type(m).__name__})
        if distributed:
            sync_bn, wrapper = kinds, type(parts.net).__name__
    worst = max(float((weights[True][k] - weights[False][k]).abs().max()) for k in weights[False])
    grad_gap = _relative_gap(grads[True], grads[False])
    loss_gap = max(abs(a - b) / max(abs(b), 1e-6) for a, b in zip(losses[True], losses[False]))
    backend = dist.get_backend()
    dist.destroy_process_group()
    # Why relative gaps, not equal weights: on a GPU, SyncBatchNorm's kernels and cuDNN's algorithm choice
    # round differently from plain BatchNorm, and 5 steps amplify those last bits (seen on an H200: losses
    # equal to 5 decimals for 2 steps, weights 2e-3 apart after 5). The first step's gradient, from the
    # same weights on the same batch, is where DDP's averaging must agree to float precision.
    return {"ok": backend == expected and grad_gap < 1e-4 and loss_gap < 1e-3 and all(v == v for v in losses[True]),
            "backend": backend, "world_size": 1, "wrapper": wrapper, "batchnorm": sync_bn,
            "first_step_gradient_relative_gap": grad_gap, "loss_relative_gap_5_steps": loss_gap,
            "losses_ddp": [round(v, 5) for v in losses[True]], "losses_single": [round(v, 5) for v in losses[False]],
            "max_weight_difference_ddp_vs_single": worst}


def _relative_gap(got: dict, want: dict) -> float:
    """‖got − want‖ / ‖want‖ over all parameters' gradients, as one vector (inf when the names differ)."""
    import torch

    if got.keys() != want.keys():
        return float("inf")
    diff = torch.sqrt(sum(((got[k] - want[k]) ** 2).sum() for k in want))
    norm = torch.sqrt(sum((want[k] ** 2).sum() for k in want))
    return float(diff / norm.clamp_min(1e-12))


def _checkpoint_for_analyze(work: Path) -> tuple[str | None, str]:
    """The shipped model when the package has one, else a tiny network trained here on the GPU."""
    from facebehavior.models.pretrained import shipped_models

    if shipped_models():
        return None, "shipped default model"
    from facebehavior.config import load_config
    from facebehavior.training.trainer import train

    result = train(load_config(base=_tiny_run_config(work / "train", DEVICE, 5)), say=lambda *_: None)
    return str(result.best_checkpoint), f"tiny network trained here for 5 steps on {DEVICE} (no shipped model)"


def part_analyze_video(work: Path, args) -> dict:
    import pandas as pd

    from facebehavior.cli.main import main
    from facebehavior.inference.output import read_results
    from tests.inference.media import write_face_video

    checkpoint, which = _checkpoint_for_analyze(work)
    video = write_face_video(work / "clip.mp4", seconds=3.0, fps=10.0, width=640, height=480)
    tables, seconds = {}, {}
    for device in ("cuda", "cpu"):
        out = work / f"results_{device}.csv"
        device = DEVICE if device == "cuda" else device
        argv = ["analyze", str(video), "--device", device, "--out", str(out), "--no-progress"]
        argv += ["--checkpoint", checkpoint] if checkpoint else []
        started = time.time()
        code = main(argv)
        seconds[device] = round(time.time() - started, 2)
        if code != 0:
            return {"ok": False, "error": f"analyze --device {device} exited {code}"}
        tables[device] = read_results(out)
    gpu, cpu = tables[DEVICE], tables["cpu"]
    numbers = [c for c in gpu.columns if pd.api.types.is_float_dtype(gpu[c]) and not c.startswith(("box_", "det_"))
               and not c.endswith(("_x", "_y")) and c != "timestamp"]
    same_rows = len(gpu) == len(cpu) and gpu["frame"].tolist() == cpu["frame"].tolist()
    worst = float((gpu[numbers] - cpu[numbers]).abs().max().max()) if same_rows and numbers else None
    return {"ok": same_rows and len(gpu) >= 30 and (worst is None or worst < 2e-2), "model": which,
            "rows": len(gpu), "frames": int(gpu["frame"].nunique()), "faces": int((gpu["status"] == "ok").sum()),
            "seconds_cuda_cpu": [seconds[DEVICE], seconds["cpu"]], "max_output_difference_cuda_vs_cpu": worst}


def part_onnxruntime_cuda(work: Path, args) -> dict:
    import numpy as np

    try:
        import onnxruntime as ort
    except ImportError:
        return {"ok": True, "skipped": "onnxruntime is not installed"}
    providers = ort.get_available_providers()
    device_provider = "CPUExecutionProvider" if DEVICE == "cpu" else "CUDAExecutionProvider"
    if device_provider not in providers:
        return {"ok": True, "skipped": f"onnxruntime {ort.__version__} has no CUDA provider (providers: {providers}); "
                                       "install onnxruntime-gpu to check it", "providers": providers}
    from facebehavior.cli.main import main

    checkpoint, which = _checkpoint_for_analyze(work)
    model = work / "model.onnx"
    if main(["export", *([checkpoint] if checkpoint else []), "--out", str(model)]) != 0:
        return {"ok": False, "error": "facebehavior export failed"}
    cuda = ort.InferenceSession(str(model), providers=[device_provider, "CPUExecutionProvider"])
    cpu = ort.InferenceSession(str(model), providers=["CPUExecutionProvider"])
    spec = cuda.get_inputs()[0]
    shape = [64 if not isinstance(d, int) else d for d in spec.shape]
    dtype = np.uint8 if "uint8" in spec.type else np.float32
    batch = np.random.default_rng(0).integers(0, 256, shape).astype(dtype)
    a, b = cuda.run(None, {spec.name: batch}), cpu.run(None, {spec.name: batch})
    worst = max(float(np.abs(x.astype(np.float64) - y).max()) for x, y in zip(a, b))
    started = time.time()
    for _ in range(20):
        cuda.run(None, {spec.name: batch})
    ms = (time.time() - started) / 20 * 1000
    used = cuda.get_providers()
    return {"ok": used[0] == device_provider and worst < 1e-2, "onnxruntime": ort.__version__,
            "model": which, "providers_used": used, "batch": shape, "ms_per_batch": round(ms, 2),
            "max_output_difference_cuda_vs_cpu": worst}


def _find_ferplus(given: str | None) -> Path | None:
    candidates = [Path(given)] if given else []
    if os.environ.get("FACEBEHAVIOR_SHARED"):
        candidates.append(Path(os.environ["FACEBEHAVIOR_SHARED"]) / "data" / "ferplus")
    candidates += [REPO / "shared" / "data" / "ferplus", REPO.parent / "shared" / "data" / "ferplus"]
    return next((c for c in candidates if (c / "FER2013Train" / "label.csv").is_file()), None)


def synthetic_ferplus(root: Path, per_split: int = 400, seed: int = 0) -> Path:
    """Random 48×48 grey PNGs with random crowd votes, in FER+'s folder layout (FER2013Train/Valid/Test
    with a header-less label.csv each): the recipe's plumbing on a machine without the data."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    for folder in ("FER2013Train", "FER2013Valid", "FER2013Test"):
        (root / folder).mkdir(parents=True)
        lines = []
        for i in range(per_split):
            name = f"fer{folder[7:9].lower()}{i:07d}.png"
            Image.fromarray(rng.integers(0, 256, (48, 48), dtype=np.uint8)).save(root / folder / name)
            votes = np.zeros(10, int)
            votes[:8] = rng.multinomial(10, rng.dirichlet(np.full(8, 0.3)))
            lines.append(f'{name},"(0, 0, 48, 48)",' + ",".join(map(str, votes)))
        (root / folder / "label.csv").write_text("\n".join(lines) + "\n")
    return root


def part_ferplus_gpu(work: Path, args) -> dict:
    data = _find_ferplus(args.ferplus)
    source = "FER+" if data is not None else "synthetic (FER+ layout; accuracy meaningless)"
    if data is None:
        data = synthetic_ferplus(work / "ferplus_synthetic")
    out = work / "recipe"
    dry = DEVICE == "cpu"
    steps, subset = (3, 64) if dry else (60, 384)
    cmd = [sys.executable, "-m", "facebehavior", "recipe", "ferplus", "--gpu", "--data", str(data), "--out", str(out),
           "--subset", str(subset)]
    overrides = [f"train.max_steps={steps}", "train.epochs=20", "train.eval_every=10", "train.warmup_steps=2",
                 "train.checkpoint_every=0", "train.log_every=10", "data.num_workers=4"]
    if dry:  # the GPU config's paper network at 96 px is hours on a CPU: a tiny one, the same plumbing
        overrides += ["model.preset=tiny", "data.image_size=48", "data.batch_size=32", "data.num_workers=0"]
        cmd += ["--device", "cpu"]
    for override in overrides:
        cmd += ["--set", override]
    started = time.time()
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, env=dict(os.environ, PYTHONUNBUFFERED="1"))
    seconds = round(time.time() - started, 1)
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        return {"ok": False, "data": source, "error": f"recipe exited {done.returncode}", "seconds": seconds}
    results = json.loads((out / "results.json").read_text())
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    losses = [r["loss/total"] for r in log if "loss/total" in r]
    return {"ok": bool(losses) and all(v == v for v in losses), "data": source, "subset_per_split": subset,
            "max_steps": steps, "steps_logged": max((r.get("step", 0) for r in log), default=0),
            "loss_first_last": [round(losses[0], 4), round(losses[-1], 4)] if losses else None,
            "accuracy": {k: round(v["accuracy"], 4) for k, v in results["protocols"].items()},
            "recipe_seconds": seconds}


if __name__ == "__main__":
    sys.exit(main())
