"""Checkpoints: a folder with `model.safetensors`, `meta.json` (resolved config, tasks, trained
heads and labels, AU thresholds, scores) and, for resuming, `train_state.pt` (optimizer, scheduler, sampler
position) read back with `weights_only=True`. Folders are replaced by rename: a crash at any
point leaves a complete checkpoint that `find_checkpoint` (and every loader here) reads and the next
save puts back in place. Weights with NaN or inf are refused at load.
"""

from __future__ import annotations

import io
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from facebehavior import __version__
from facebehavior.errors import CheckpointError, DiskFullError, is_disk_full

FORMAT = "facebehavior-checkpoint-1"


@dataclass
class CheckpointMeta:
    config: dict
    tasks: list[dict]
    trained_tasks: list[str]
    epoch: int = 0
    global_step: int = 0
    thresholds: dict = field(default_factory=dict)
    scores: dict = field(default_factory=dict)
    best_score: float | None = None
    version: str = __version__
    format: str = FORMAT
    # task -> its labels with at least one training annotation; None in checkpoints saved before
    # this was recorded (then only `trained_tasks` is known)
    trained_labels: dict | None = None
    # how a face reaches the network (models/preprocessing.Preprocessing.to_dict()); None in
    # checkpoints saved before it was recorded (then it is derived from `config`)
    preprocessing: dict | None = None
    # the databases of the training rows (None before this was recorded): says the domain
    training_databases: list | None = None
    ensemble_of: list | None = None  # the checkpoints averaged into this one (models/pretrained.ensemble_checkpoint)
    # this checkpoint was taken out of an ensemble (models/pretrained.split_ensemble): the ensemble's
    # path, the member's index, the run it came from and the command that trained it, where known
    member_of: dict | None = None

    def domain(self) -> str | None:
        """`synthetic` (SynthFace only), `real`, `mixed`, or None when the databases were not recorded."""
        if not self.training_databases:
            return None
        synthetic = [str(d).startswith("synth_") for d in self.training_databases]
        return "synthetic" if all(synthetic) else "mixed" if any(synthetic) else "real"

    def input_record(self):
        """The network's Preprocessing: the recorded one, else what the saved config implies."""
        from facebehavior.config import ExperimentConfig, from_dict
        from facebehavior.models.preprocessing import Preprocessing, resolve_preprocessing

        if self.preprocessing is not None:
            return Preprocessing.from_dict(self.preprocessing)
        return resolve_preprocessing(from_dict(ExperimentConfig, self.config))


def labels_with_annotations(labels: dict[str, np.ndarray], tasks) -> dict[str, list[str]]:
    """Per task, the labels that at least one training row annotates.

    `labels` are the encoded training label arrays (`encode_labels`): multiclass int (N,) with -1 =
    none, plus an optional soft (N, C) array (a class counts when some row gives it mass);
    multilabel / regression float (N, K) with NaN = not annotated.
    """
    out = {}
    for t in tasks:
        values = labels[t.name]
        if t.kind == "multiclass":
            seen = np.zeros(t.size, bool)
            hard = values[values >= 0]
            seen[hard[hard < t.size]] = True
            soft = labels.get(f"{t.name}_soft")
            if soft is not None and len(soft):
                seen |= np.nan_to_num(soft, nan=0.0).max(0) > 0
        else:
            seen = (~np.isnan(values)).any(0) if len(values) else np.zeros(t.size, bool)
        out[t.name] = [label for label, s in zip(t.labels, seen) if s]
    return out


def _siblings(final: Path) -> tuple[Path, Path]:
    return final.with_name(final.name + ".tmp"), final.with_name(final.name + ".old")


def _complete(folder: Path) -> bool:
    """Whether `folder` holds a whole checkpoint: save_checkpoint writes meta.json last (by rename)."""
    try:
        return (folder / "model.safetensors").is_file() and isinstance(
            json.loads((folder / "meta.json").read_text()), dict)
    except (OSError, ValueError):
        return False


def find_checkpoint(path: str | Path) -> Path | None:
    """The folder to read checkpoint `path` from: `path` itself, or, when a save was interrupted
    between its two renames, the complete copy it left (`<path>.tmp`, the newer, else `<path>.old`).
    None when there is no checkpoint at all. Reads only; the next save_checkpoint renames."""
    final = Path(path)
    if final.exists():
        return final
    return next((c for c in _siblings(final) if _complete(c)), None)


def resume_source(last: str | Path, run_dir: str | Path) -> Path | None:
    """The checkpoint `train --resume` continues from (see find_checkpoint); None for a run that
    stopped before its first save. No checkpoint and no run in `run_dir` (a mistyped out dir) is an error."""
    source = find_checkpoint(last)
    if source is None and not (Path(run_dir) / "config.yaml").is_file():
        raise CheckpointError(f"--resume: {run_dir} holds no run to resume (no checkpoint at {last}, no "
                              "config.yaml); check --out / out_dir, or leave out --resume to start a new run")
    return source


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _replace_dir(tmp: Path, final: Path) -> None:
    """Put complete `tmp` in place of `final`. At every moment one complete copy exists under a name
    find_checkpoint reads: `final`; then `final.old` and `final.tmp`; then `final` again."""
    _, old = _siblings(final)
    if final.exists():
        final.rename(old)
    tmp.rename(final)
    try:
        _fsync(final.parent)  # the renames survive a power loss too
    except OSError:  # a filesystem or OS that cannot sync directories
        pass
    if old.exists():
        shutil.rmtree(old)


def save_checkpoint(path: str | Path, model: torch.nn.Module, meta: CheckpointMeta,
                    train_state: dict | None = None) -> Path:
    from safetensors.torch import save

    final = Path(path)
    tmp, old = _siblings(final)
    source = find_checkpoint(final)
    if source is not None and source != final:  # an earlier save was interrupted between its renames
        source.rename(final)
    for leftover in (tmp, old):  # superseded by `final` (or incomplete)
        if leftover.exists():
            shutil.rmtree(leftover)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    # Serialised in memory and written by Python, so a full disk is an OSError naming the file
    # (safetensors and torch.save writing themselves report it as other errors).
    files = {"model.safetensors": save(state, metadata={"format": FORMAT})}
    if train_state is not None:
        buffer = io.BytesIO()
        torch.save(train_state, buffer)
        files["train_state.pt"] = buffer.getvalue()
    files["meta.json.part"] = json.dumps(meta.__dict__, indent=1, default=float).encode()
    current = tmp
    try:
        tmp.mkdir(parents=True)
        for name, data in files.items():
            current = tmp / name
            with current.open("wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)  # an incomplete copy: give its space back
        if is_disk_full(exc):
            kept = (f"the checkpoint saved before is kept in {final}" if final.exists()
                    else "no checkpoint was saved yet")
            raise DiskFullError(f"{current}: no space left on the device; {kept}: free some space and rerun "
                                "with --resume") from None
        raise
    (tmp / "meta.json.part").rename(tmp / "meta.json")  # last: it marks the folder complete
    _replace_dir(tmp, final)
    return final


def _folder(path: str | Path) -> Path:
    path = Path(path)
    if path.is_file() and path.name == "model.safetensors":
        path = path.parent
    path = find_checkpoint(path) or path
    if not path.is_dir() or not (path / "model.safetensors").is_file():
        found = _checkpoints_below(path)
        hint = (f"checkpoints under it: {', '.join(map(str, found))}" if found
                else "pass e.g. runs/NAME/checkpoints/best")
        raise CheckpointError(f"{path}: not a checkpoint folder (expected model.safetensors and meta.json in it; "
                              f"{hint})")
    return path


def _checkpoints_below(path: Path, depth: int = 4, limit: int = 5) -> list[Path]:
    """Checkpoint folders under `path` (a run folder given instead of its checkpoint), best first."""
    if not path.is_dir():
        return []
    found = [p.parent for k in range(1, depth + 1) for p in path.glob("/".join(["*"] * k) + "/model.safetensors")]
    found = [p for p in found if not p.name.endswith((".tmp", ".old"))]
    return sorted(found, key=lambda p: (p.name != "best", len(p.parts), str(p)))[:limit]


def read_meta(path: str | Path) -> CheckpointMeta:
    folder = _folder(path)
    try:
        data = json.loads((folder / "meta.json").read_text())
        meta = CheckpointMeta(**data)
    except FileNotFoundError:
        raise CheckpointError(f"{folder}: meta.json is missing") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise CheckpointError(f"{folder}/meta.json is corrupt or from an unknown version: {exc}") from None
    if meta.format != FORMAT:
        raise CheckpointError(f"{folder}: checkpoint format {meta.format!r}, this version reads {FORMAT!r}")
    return meta


def load_weights(path: str | Path, model: torch.nn.Module, strict: bool = True) -> None:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = _folder(path)
    try:
        state = load_file(folder / "model.safetensors")
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{folder}/model.safetensors is corrupt: {exc}") from None
    bad = [name for name, t in state.items() if t.is_floating_point() and not torch.isfinite(t).all()]
    if bad:
        raise CheckpointError(f"{folder}/model.safetensors holds non-finite weights (NaN or inf) in {len(bad)} of "
                              f"{len(state)} tensors ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}): the "
                              "training that saved it diverged; use an earlier checkpoint or retrain with a lower "
                              "train.lr")
    try:
        model.load_state_dict(state, strict=strict)
    except RuntimeError as exc:
        raise CheckpointError(f"{folder}: weights do not fit the model built from its config: {exc}") from None


def load_train_state(path: str | Path) -> dict:
    file = _folder(path) / "train_state.pt"
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: this checkpoint cannot resume training (use checkpoints/last)")
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except Exception as exc:  # corrupt archive or disallowed (pickled) content
        raise CheckpointError(f"{file} cannot be read safely: {exc}") from None


def load_model(path: str | Path, device: str = "cpu"):
    """Rebuild the network from a checkpoint's saved config and load its weights."""
    from facebehavior.config import from_dict, ExperimentConfig
    from facebehavior.models import build_model

    meta = read_meta(path)
    cfg = from_dict(ExperimentConfig, meta.config)
    model = build_model(cfg.model, cfg.task_specs(), meta.input_record())
    load_weights(path, model)
    return model.to(device).eval(), meta, cfg
