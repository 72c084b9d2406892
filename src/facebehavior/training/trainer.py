"""The training loop, readable top to bottom.

One step (training/step.py): take this rank's share of every label set's batch (section 4.4),
augment on the batch, one forward pass, the objective's dict of named losses, backward on their
sum, optimiser step.
Each epoch ends with validation on every database with its own metric, a `last` checkpoint and,
when the selection score improves, a `best` one. Rank 0 alone logs and saves.
"""

from __future__ import annotations

import gc
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import torch

from facebehavior import atomic
from facebehavior.config import config_to_yaml
from facebehavior.models.preprocessing import resolve_preprocessing
from facebehavior.models.checkpoint import (CheckpointMeta, labels_with_annotations, load_train_state, load_weights,
                                             resume_source, save_checkpoint)
from facebehavior.training.coupling_setup import build_couplings
from facebehavior.training.data import build_training_data, label_arrays_numpy
from facebehavior.devices import resolve_device
from facebehavior.devices import cleanup_distributed
from facebehavior.training.distributed import setup_distributed
from facebehavior.training.logger import RunLogger
from facebehavior.training.memory import keep_freed_memory
from facebehavior.training.step import build_step_parts, optimisation_step
from facebehavior.training.validation import selection_score, validate


@dataclass
class TrainResult:
    run_dir: Path
    best_checkpoint: Path
    last_checkpoint: Path
    best_score: float | None
    history: list = field(default_factory=list)
    seconds: float = 0.0


def train(cfg, resume: bool = False, say=print, on_step: Callable[[int], None] | None = None) -> TrainResult:
    """Train `cfg` (resuming from its last checkpoint with `resume`). `on_step(global_step)` is called
    after every optimisation step, once any checkpoint of that step is written (progress reporting,
    or a test stopping the process at a chosen step)."""
    t0 = time.time()
    dist = setup_distributed("cuda" if cfg.train.device.startswith("cuda") or
                             (cfg.train.device == "auto" and torch.cuda.is_available()) else "cpu")
    device = resolve_device(cfg.train.device, dist.local_rank)
    if cfg.train.threads:
        torch.set_num_threads(cfg.train.threads)
    if cfg.train.reuse_freed_memory:
        keep_freed_memory()  # before the model and the first batch are allocated
    tasks = cfg.task_specs()
    run_dir = cfg.run_dir()
    last_dir, best_dir = run_dir / "checkpoints" / "last", run_dir / "checkpoints" / "best"
    # before anything is loaded or created: last, or the complete copy an interrupted save left
    source = resume_source(last_dir, run_dir) if resume else None

    data = build_training_data(cfg, tasks, dist.rank, dist.world_size)
    train_labels = label_arrays_numpy(data.train)
    couplings, relatedness = build_couplings(cfg, tasks, train_labels)
    steps_per_epoch = data.sampler.steps_per_epoch
    total_steps = cfg.train.max_steps or cfg.train.epochs * steps_per_epoch
    parts = build_step_parts(cfg, tasks, data.train, couplings, device, total_steps, distributed=dist.enabled,
                             batch_rows=data.sampler.rank_rows() if dist.enabled else None)
    net, model, optimizer, scheduler = parts.net, parts.model, parts.optimizer, parts.scheduler
    trained = [t.name for t in tasks if data.train.presence[t.name].any()]
    labels_seen = labels_with_annotations(train_labels, tasks)
    logger = RunLogger(run_dir, enabled=dist.is_main)

    epoch, start_step, global_step, best, history = 0, 0, 0, None, []
    if source is not None:
        state = load_train_state(source)
        load_weights(source, model)
        optimizer.load_state_dict(state["optimizer"])
        if parts.balancer is not None:
            parts.balancer.load_state_dict(state["balancer"])
        if parts.ema is not None:
            parts.ema.load_state_dict(state["ema"])
        scheduler.load_state_dict(state["scheduler"])
        epoch, start_step, global_step = state["epoch"], state["step_in_epoch"], state["global_step"]
        best = state["best_score"] if state["best_score"] == state["best_score"] else None  # NaN = none
        logger.truncate_after(global_step)
        if dist.is_main:
            say(f"resumed from {source} at epoch {epoch}, step {global_step}")
    elif dist.is_main:
        if resume:
            say(f"note: {run_dir} holds a run that stopped before its first checkpoint: starting it from step 0")
        logger.start_fresh()  # a new run in an old folder: its log is not appended to the old one
        run_dir.mkdir(parents=True, exist_ok=True)
        atomic.write_text(run_dir / "config.yaml", config_to_yaml(cfg))
        for note in data.notes + [n for r in relatedness for n in r.notes]:
            say(f"note: {note}")
        say(f"label sets (global batch sizes): {data.sampler.composition()}; {steps_per_epoch} steps/epoch")

    def make_meta(scores: dict, thresholds: dict) -> CheckpointMeta:
        return CheckpointMeta(config=cfg.to_dict(), tasks=[{"name": t.name, "kind": t.kind, "labels": list(t.labels),
                                                           "output": t.extra.get("output", True)} for t in tasks],
                              trained_tasks=trained, trained_labels=labels_seen, epoch=epoch, global_step=global_step,
                              thresholds=thresholds, scores=scores, best_score=best,
                              preprocessing=resolve_preprocessing(cfg).to_dict(),
                              training_databases=sorted(set(map(str, data.train.databases))))

    def save_last(step_in_epoch: int, scores: dict, thresholds: dict) -> None:
        state = {"optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(), "epoch": epoch,
                 "step_in_epoch": step_in_epoch, "global_step": global_step,
                 "best_score": float("nan") if best is None else best}
        if parts.ema is not None:
            state["ema"] = parts.ema.state_dict()
        if parts.balancer is not None:
            state["balancer"] = parts.balancer.state_dict()
        save_checkpoint(last_dir, model, make_meta(scores, thresholds), state)

    progress = None
    if dist.is_main and cfg.train.progress:
        from tqdm import tqdm

        progress = tqdm(total=total_steps, initial=global_step, desc=cfg.name, unit="step", leave=False)
    net.train()
    stop = global_step >= total_steps
    while epoch < cfg.train.epochs and not stop:
        data.sampler.set_epoch(epoch, start_step)
        step_in_epoch = start_step
        for images, idx in data.loader:
            out = optimisation_step(parts, images, idx, global_step)
            losses = out.losses
            global_step += 1
            step_in_epoch += 1
            if global_step % cfg.train.log_every == 0 or global_step == 1:
                record = {"step": global_step, "epoch": epoch, "lr": scheduler.get_last_lr()[0]}
                record.update({f"loss/{k}": float(v.detach()) for k, v in losses.items()})
                record.update({f"balance/{k}": v for k, v in out.balance.items()})
                logger.log(record)
                if progress is not None:
                    progress.set_postfix({k.split(":")[0]: f"{float(v.detach()):.3f}" for k, v in losses.items()})
            if progress is not None:
                progress.update(1)
            if cfg.train.checkpoint_every and global_step % cfg.train.checkpoint_every == 0 and dist.is_main:
                save_last(step_in_epoch, {}, {})
            if on_step is not None:
                on_step(global_step)
            if global_step >= total_steps:
                stop = True
                break
        epoch += 1
        start_step = 0
        if epoch % cfg.train.eval_every == 0 or stop or epoch == cfg.train.epochs:
            if dist.enabled:
                _broadcast_buffers(parts.evaluated)  # every rank evaluates and saves rank 0's BN statistics
            scores, thresholds = validate(parts.evaluated, data.val, tasks, cfg, device, dist, parts.amp_dtype)
            score = selection_score(scores, cfg.train.select_metric)
            record = {"step": global_step, "epoch": epoch, "select_score": score}
            record.update(_flatten_scores(scores))
            logger.log(record)
            history.append(record)
            improved = best is None or (score is not None and score > best)
            if improved:
                best = score
            if dist.is_main:
                say(_epoch_line(epoch, cfg.train.epochs, cfg.train.select_metric, score, best, time.time() - t0))
            if dist.is_main:
                save_last(0, scores, thresholds)
                if improved or data.val is None:
                    save_checkpoint(best_dir, parts.evaluated, make_meta(scores, thresholds))
    if progress is not None:
        progress.close()
    if dist.enabled:
        identical = _weights_identical_across_ranks(model)
        logger.log({"step": global_step, "ddp_world_size": dist.world_size, "ddp_weights_identical": identical})
        if not identical:
            raise RuntimeError("DDP ranks ended with different weights; this is a bug, please report it")
    logger.close()
    seconds = time.time() - t0
    if dist.enabled:
        del parts, net, model, optimizer, scheduler
        gc.collect()  # the DDP wrapper's reference cycles hold the process group: free it before ending it
    cleanup_distributed()
    return TrainResult(run_dir, best_dir, last_dir, best, history, seconds)


def _epoch_line(epoch: int, epochs: int, metric: str, score, best, seconds: float) -> str:
    shown = "n/a" if score is None else f"{score:.4f}"
    best_shown = "n/a" if best is None else f"{best:.4f}"
    return f"epoch {epoch}/{epochs}: validation {metric} {shown} (best {best_shown}), {seconds / 60:.1f} min so far"


def _broadcast_buffers(model) -> None:
    import torch.distributed as torch_dist

    for buf in model.buffers():
        torch_dist.broadcast(buf, 0)


def _weights_identical_across_ranks(model) -> bool:
    import torch.distributed as torch_dist

    flat = torch.cat([p.detach().float().flatten().cpu() for p in model.state_dict().values()])
    gathered = [torch.zeros_like(flat) for _ in range(torch_dist.get_world_size())]
    torch_dist.all_gather(gathered, flat)
    return all(torch.equal(gathered[0], g) for g in gathered[1:])


def _flatten_scores(scores: dict) -> dict:
    out = {}
    for db, per_task in scores.items():
        for task, metrics in per_task.items():
            for name, value in metrics.items():
                if isinstance(value, (int, float)) and not isinstance(value, bool):
                    out[f"eval/{db}/{task}/{name}"] = float(value)
    return out
