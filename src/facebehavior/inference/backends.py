"""The network behind `analyze`: PyTorch on a checkpoint, or ONNX Runtime on an exported model.

Both take aligned uint8 RGB crops (N, S, S, 3) and return, per task, activated outputs (N, K):
expression probabilities, AU probabilities, valence/arousal values.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import TaskSpec
from facebehavior.models.preprocessing import Preprocessing

BACKENDS = ("auto", "torch", "onnxruntime")  # auto: onnxruntime on the CPU, torch on other devices


@dataclass
class ModelInfo:
    """What the analysis needs to know about the network, whichever backend runs it."""

    tasks: list[TaskSpec]
    trained: list[str]
    thresholds: dict
    image_size: int
    source: str
    identity: dict = field(default_factory=dict)  # compared on --resume: same model, same outputs
    trained_labels: dict | None = None  # task -> labels with training annotations; None: not recorded
    preprocessing: Preprocessing = field(default_factory=Preprocessing)  # how crops are made and fed
    domain: str | None = None  # what the network was trained on (e.g. "real: FER+", "synthetic: SynthFace")

    @property
    def untrained(self) -> list[str]:
        return [t.name for t in self.tasks if t.name not in self.trained]

    @property
    def untrained_labels(self) -> dict[str, list[str]] | None:
        """Per trained task, its labels that had no training annotation (None: the checkpoint predates
        per-label records). Tasks never trained at all are in `untrained` instead."""
        if self.trained_labels is None:
            return None
        out = {}
        for t in self.tasks:
            if t.name in self.trained and t.name in self.trained_labels:
                missing = [label for label in t.labels if label not in set(self.trained_labels[t.name])]
                if missing:
                    out[t.name] = missing
        return out


class TorchBackend:
    def __init__(self, model, info: ModelInfo, device):
        self.model, self.info, self.device = model, info, device

    def run(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        import torch

        from facebehavior.evaluation.predict import activate
        from facebehavior.models.preprocessing import prepared_outputs

        x = torch.from_numpy(np.ascontiguousarray(crops)).to(self.device).permute(0, 3, 1, 2)
        with torch.inference_mode():
            logits = prepared_outputs(self.model, x, self.info.preprocessing)
            return {t.name: activate(t, logits[t.name]).cpu().numpy() for t in self.info.tasks}


class OnnxBackend:
    def __init__(self, session, info: ModelInfo):
        self.session, self.info = session, info
        self.names = [o.name for o in session.get_outputs()]

    def run(self, crops: np.ndarray) -> dict[str, np.ndarray]:
        from facebehavior.inference.onnx_export import INPUT_NAME

        # the graph takes the uint8 crops and prepares them itself (inference/onnx_export.py)
        return dict(zip(self.names, self.session.run(None, {INPUT_NAME: np.ascontiguousarray(crops, np.uint8)})))


def _info_from_dict(meta: dict, source: str) -> ModelInfo:
    # a head that only serves an evaluation protocol (output false, e.g. FER+'s 8-class head beside
    # the canonical `expr`) is computed by the network but not reported
    tasks = [TaskSpec(t["name"], t["kind"], tuple(t["labels"]),
                      extra={"range": tuple(t["range"])} if t.get("range") else {})
             for t in meta["tasks"] if t.get("output", True)]
    identity = {k: meta.get(k) for k in ("epoch", "global_step", "trained_tasks", "thresholds")}
    identity["tasks"] = [t.name for t in tasks]
    trained_labels = meta.get("trained_labels")  # absent in checkpoints and exports made before it existed
    prep = Preprocessing.from_dict(meta["preprocessing"])
    identity["preprocessing"] = prep.to_dict()
    return ModelInfo(tasks, list(meta["trained_tasks"]), dict(meta.get("thresholds") or {}),
                     prep.image_size, source, identity,
                     None if trained_labels is None else {k: list(v) for k, v in trained_labels.items()},
                     prep, meta.get("domain"))


def load_backend(path: str | Path | None = None, backend: str = "auto", device: str = "cpu",
                 threads: int | None = None):
    """A checkpoint folder, an exported .onnx file, or a shipped model's name; None: the shipped
    default model (models/pretrained.py). `auto` runs ONNX Runtime on the CPU (a checkpoint folder is
    exported once and kept in `onnx_cache_dir()`: later starts never import torch) and PyTorch on any
    other device; a folder ONNX cannot export falls back to PyTorch with a warning."""
    from facebehavior.inference.onnx_export import export_meta
    from facebehavior.models.pretrained import resolve_checkpoint

    if backend not in BACKENDS:
        raise FaceBehaviorError(f"unknown backend {backend!r}; choose one of {BACKENDS}")
    path = resolve_checkpoint(path)
    if not path.exists():
        raise FaceBehaviorError(f"{path}: no such checkpoint folder or .onnx file")
    if backend == "auto" and path.suffix == ".onnx":
        backend = "onnxruntime"
    if backend == "onnxruntime" and device not in ("cpu", "auto"):
        raise FaceBehaviorError(f"--backend onnxruntime runs on the CPU here; drop --device {device} or use --backend torch")
    if path.suffix == ".onnx":
        if backend == "torch":
            raise FaceBehaviorError(f"{path} is an ONNX file: use --backend onnxruntime, or pass the checkpoint folder")
        return _onnx_file_backend(path, path, threads)
    if backend == "onnxruntime" or (backend == "auto" and device == "cpu"):
        try:
            return _onnx_backend_of_folder(path, threads)
        except Exception as exc:  # noqa: BLE001 - auto keeps working on what PyTorch runs, and says so
            if backend == "onnxruntime":
                raise
            warnings.warn(f"{path}: ONNX Runtime cannot run this checkpoint ({type(exc).__name__}: {exc}); "
                          "using PyTorch", stacklevel=3)
    import torch

    from facebehavior.models.checkpoint import load_model

    if threads:
        torch.set_num_threads(threads)
    torch_device = torch_device_or_error(device)
    model, meta, cfg = load_model(path, torch_device)
    return TorchBackend(model, _info_from_dict(export_meta(meta, cfg, str(path)), str(path.resolve())), torch_device)


def _onnx_backend_of_folder(path: Path, threads: int | None) -> OnnxBackend:
    """A checkpoint folder on ONNX Runtime: the cached export when there is one, else exported now."""
    from facebehavior.inference.onnx_export import cached_onnx, onnx_session

    exported = cached_onnx(path)
    if isinstance(exported, Path):
        return _onnx_file_backend(exported, path, threads)
    data, meta = exported  # the cache could not be written: exported in memory
    return OnnxBackend(onnx_session(data, threads), _info_from_dict(meta, str(path.resolve())))


def _onnx_file_backend(file: Path, source: Path, threads: int | None) -> OnnxBackend:
    """An exported .onnx file; `source` is what the user named (the file itself, or its checkpoint)."""
    from facebehavior.inference.onnx_export import onnx_session, read_onnx_meta

    session = onnx_session(file, threads)
    return OnnxBackend(session, _info_from_dict(read_onnx_meta(session, file), str(source.resolve())))


def torch_device_or_error(name: str):
    """`name` as a torch device that exists here, or an error saying which devices do."""
    import torch

    from facebehavior.devices import resolve_device

    try:
        device = resolve_device(name)
        torch.empty(1, device=device)  # fails now, not mid-run, when the device is absent
    except (RuntimeError, AssertionError) as exc:
        available = ["cpu"] + [f"cuda:{i}" for i in range(torch.cuda.device_count())]
        raise FaceBehaviorError(f"device {name!r} is not usable here ({exc}); available: {available}") from None
    return device
