"""FER+ recipe: FaceBehaviorNet trained on FER+ train, selected on FER+ valid, reported on FER+ test.

1. Import (reused when already done): the FER+ importer writes ``<out>/data/ferplus.csv`` with the
   8-class FER+ columns (``ferplus8`` + vote shares) and our 7-class ones (``expr`` + shares
   without contempt); the recipe adds ``ferplus_majority.csv``, the same rows without the
   ``*_soft_*`` columns (hard majority labels only).
2. Train (`facebehavior.training.trainer.train`, resumable) in one of Barsoum et al.'s (2016) modes:
   ``soft`` — the vote distribution is the target (their "cross-entropy" mode; every kept image
   trains); ``majority`` — the majority label only (images without a majority do not train).
   Two heads learn jointly from the same images: ``ferplus8`` (the FER+ protocol, contempt
   included) and ``expr`` (the canonical 7 classes that ``facebehavior analyze`` reads). The model
   is selected on FER+ valid by 8-class accuracy against the majority label.
3. Evaluate the best checkpoint on FER+ test under both protocols (`ferplus_report`) and write
   ``results.json``, ``report.md`` and confusion-matrix PNGs into ``<out>``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.errors import ConfigError, FaceBehaviorError

MODES = ("soft", "majority")
DATABASE = "ferplus"


@dataclass
class RecipeData:
    full: Path      # hard and soft label columns
    majority: Path  # hard (majority) labels only


def resolve_config(config: str | Path | None, gpu: bool) -> Path:
    """An explicit config (path or packaged name), else the packaged ferplus[_gpu].yaml."""
    from facebehavior.config import resolve_config_path

    return resolve_config_path(config or ("ferplus_gpu" if gpu else "ferplus"))


def prepare_data(data_root: str | Path, data_dir: str | Path, subset: int | None = None, seed: int = 0,
                 say=print) -> RecipeData:
    """Import FER+ once into `data_dir`; write the hard-label copy (and a per-split subset if asked)."""
    from facebehavior.data.importers import import_database

    data_dir = Path(data_dir)
    imported, report = data_dir / "ferplus.csv", data_dir / "import_report.json"
    root = Path(data_root).resolve()
    if imported.is_file() and report.is_file() and json.loads(report.read_text()).get("root") == str(root):
        say(f"reusing the FER+ import in {imported}")
    else:
        if not root.is_dir():
            raise FaceBehaviorError(f"FER+ folder {data_root} not found; pass --data pointing at the folder that "
                                    "holds FER2013Train/Valid/Test (e.g. ../shared/data/ferplus)")
        say(import_database("ferplus", root, data_dir).summary())
    # Text in, text out: the copies keep every cell exactly as the importer wrote it.
    frame = pd.read_csv(imported, dtype=str, keep_default_na=False)
    full = imported
    if subset:
        frame = _subset(frame, subset, seed)
        full = data_dir / f"ferplus_subset{subset}.csv"
        _write_text_csv(frame, full)
    majority = full.with_name(full.stem + "_majority.csv")
    _write_text_csv(frame[[c for c in frame.columns if "_soft_" not in c]], majority)
    return RecipeData(full, majority)


def _subset(frame: pd.DataFrame, per_split: int, seed: int) -> pd.DataFrame:
    """`per_split` random rows of each split (for quick runs and tests)."""
    rng = np.random.default_rng(seed)
    parts = []
    for _, rows in frame.groupby("split", sort=True):
        parts.append(rows.iloc[np.sort(rng.permutation(len(rows))[:per_split])])
    return pd.concat(parts)


def _write_text_csv(frame: pd.DataFrame, path: Path) -> None:
    with atomic.replacing(path) as tmp:
        frame.to_csv(tmp, index=False)


def build_config(config_path: Path, run_dir: Path, data: RecipeData, mode: str, overrides=()):
    """The config with the recipe's data and output paths; checks it declares both FER+ heads."""
    from facebehavior.config import load_config
    from facebehavior.data.importers.labelspaces import FERPLUS8
    from facebehavior.labels import EXPRESSIONS

    if mode not in MODES:
        raise ConfigError(f"mode {mode!r}: use one of {list(MODES)}")
    cfg = load_config(config_path, list(overrides))
    specs = {t.name: t for t in cfg.task_specs()}
    for name, labels in (("ferplus8", FERPLUS8), ("expr", EXPRESSIONS)):
        if name not in specs or tuple(specs[name].labels) != tuple(labels) or specs[name].kind != "multiclass":
            raise ConfigError(f"{config_path}: the FER+ recipe needs task {name!r} (multiclass, labels "
                              f"{list(labels)}); found {[(t.name, t.kind) for t in specs.values()]}")
    # Validation and the plain `facebehavior evaluate` use majority labels only: the paper's protocol.
    cfg.data.train = [str(data.full if mode == "soft" else data.majority)]
    cfg.data.val = [str(data.majority)]
    cfg.data.test = [str(data.majority)]
    cfg.data.root = None
    cfg.out_dir = str(run_dir)
    return cfg


def _check_resume(cfg, resume: bool) -> None:
    from facebehavior.config import config_to_yaml

    run_dir = cfg.run_dir()
    saved = run_dir / "config.yaml"
    if not resume and saved.exists():
        raise FaceBehaviorError(f"{run_dir} already holds a run; pass --resume to continue it (or to re-evaluate "
                                "a finished one), or choose another --out")
    if resume and saved.is_file() and saved.read_text() != config_to_yaml(cfg):
        from facebehavior.config import config_from_yaml_text

        before, now = _flat(config_from_yaml_text(saved.read_text()).to_dict()), _flat(cfg.to_dict())
        changed = sorted(k for k in before.keys() | now.keys() if before.get(k) != now.get(k))
        raise FaceBehaviorError(f"--resume: the config differs from the one {run_dir} started with in {changed}; "
                                "resume with the same --mode/--config/--set, or start a new --out")


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def run_recipe(data_root: str | Path, out: str | Path, *, mode: str = "soft", gpu: bool = False,
               config: str | Path | None = None, resume: bool = False, overrides=(), subset: int | None = None,
               device: str | None = None, command: str | None = None, teachers=(), distill_alpha: float = 0.5,
               say=print) -> dict:
    """Import, train (or resume), evaluate both protocols; returns the results written to
    ``<out>/results.json`` (report: ``<out>/report.md``). With `teachers` (checkpoints), the soft
    targets blend the votes with the teachers' mean predictions (`studies/distill.py`, weight
    `distill_alpha` on the votes); soft mode only."""
    from facebehavior.studies.ferplus_report import evaluate_ferplus, write_markdown
    from facebehavior.studies.timing import WallClock
    from facebehavior.training.trainer import train

    out = Path(out)
    config_path = resolve_config(config, gpu)
    overrides = list(overrides) + ([f"train.device={device}"] if device else [])
    data_dir = out / "data"
    data = prepare_data(data_root, data_dir, subset, say=say)
    if teachers:
        data = _with_teachers(data, list(teachers), distill_alpha, data_dir, mode, device or "cpu", say)
    cfg = build_config(config_path, out / "train", data, mode, overrides)
    _check_resume(cfg, resume)
    with WallClock(out / "timing.json", resume) as clock:
        result = train(cfg, resume=resume, say=say)
        results = evaluate_ferplus(result.best_checkpoint, data.full, out, device=_device(cfg))
    results["run"] = _run_info(cfg, result, config_path, mode, clock.total(), command or _command(
        data_root, out, mode, gpu, config, overrides, subset))
    results["run"]["teachers"] = {"checkpoints": [str(t) for t in teachers], "alpha": distill_alpha} if teachers \
        else None
    atomic.write_text(out / "results.json", json.dumps(results, indent=1, default=float))
    write_markdown(results, out / "report.md")
    return results


def _with_teachers(data: RecipeData, teachers: list, alpha: float, data_dir: Path, mode: str, device: str,
                   say) -> RecipeData:
    """The training manifest with distilled soft targets (made once per teacher set and alpha)."""
    from facebehavior.studies.distill import distilled_manifest

    if mode != "soft":
        raise ConfigError("distillation trains on soft targets: use --mode soft with --teacher")
    out = data_dir / f"{data.full.stem}_distilled_a{alpha:g}.csv"
    record = out.with_suffix(".teachers.json")
    wanted = {"teachers": [str(Path(t).resolve()) for t in teachers], "alpha": alpha}
    if not (out.is_file() and record.is_file() and json.loads(record.read_text()) == wanted):
        distilled_manifest(data.full, teachers, alpha, out, device, say)
        atomic.write_text(record, json.dumps(wanted, indent=1))
    else:
        say(f"reusing the distilled targets in {out}")
    return RecipeData(out, data.majority)


def _device(cfg) -> str:
    from facebehavior.devices import resolve_device

    return str(resolve_device(cfg.train.device))


def _run_info(cfg, result, config_path: Path, mode: str, wall_seconds: float, command: str) -> dict:
    from facebehavior.models.checkpoint import read_meta

    best, last = read_meta(result.best_checkpoint), read_meta(result.last_checkpoint)
    return {
        "command": command, "config": str(config_path), "config_name": cfg.name, "mode": mode,
        "model": {"backbone": cfg.model.backbone, "preset": cfg.model.preset, "widths": cfg.model.widths,
                  "depths": cfg.model.depths, "image_size": cfg.data.image_size},
        "epochs_planned": cfg.train.epochs, "epochs_done": last.epoch, "steps_done": last.global_step,
        "batch_size": cfg.data.batch_size,
        "best_epoch": best.epoch, "best_val_ferplus8_accuracy": best.best_score,
        "trained_tasks": best.trained_tasks, "wall_seconds_total": wall_seconds,
        "checkpoint": str(result.best_checkpoint), "device": cfg.train.device, "amp": cfg.train.amp,
        "threads": cfg.train.threads,
    }


def _command(data_root, out, mode, gpu, config, overrides, subset) -> str:
    parts = ["facebehavior", "recipe", "ferplus", "--data", str(data_root), "--out", str(out), "--mode", mode]
    parts += ["--gpu"] if gpu else []
    parts += ["--config", str(config)] if config else []
    parts += [a for o in overrides for a in ("--set", o)]
    parts += ["--subset", str(subset)] if subset else []
    return " ".join(parts)
