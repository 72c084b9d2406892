"""Export a checkpoint to ONNX: one uint8 input ``image`` (B, S, S, 3), aligned RGB face crops as
they come from alignment, dynamic batch, and one output per task named after it, already activated
(softmax / sigmoid / clamped regression). The graph prepares the crops itself, as the model's
preprocessing record says (gray, normalisation, mirrored-crop averaging): no caller re-implements it.

The checkpoint's metadata (tasks, trained heads, AU thresholds, the preprocessing record) is stored
in the ONNX file's ``metadata_props`` under ``facebehavior``, so an exported file is enough to run
`analyze`.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError

META_KEY = "facebehavior"
INPUT_NAME = "image"


def _activated_module(model, tasks):
    import torch

    from facebehavior.evaluation.predict import activate
    from facebehavior.models.preprocessing import prepared_outputs

    class Activated(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.net = model

        def forward(self, image):
            # uint8 RGB crops (B, H, W, 3) as alignment makes them; the graph normalises them itself,
            # so no caller of the ONNX file re-implements the model's preprocessing
            logits = prepared_outputs(self.net, image.permute(0, 3, 1, 2), self.net.preprocessing)
            return tuple(activate(t, logits[t.name]) for t in tasks)

    return Activated().eval()


def export_meta(meta, cfg, checkpoint: str) -> dict:
    """What the ONNX file must carry to be analysed without its checkpoint folder."""
    return {
        "tasks": [{"name": t.name, "kind": t.kind, "labels": list(t.labels), "range": t.extra.get("range"),
                   "output": t.extra.get("output", True)} for t in cfg.task_specs()],
        "trained_tasks": list(meta.trained_tasks), "trained_labels": meta.trained_labels,
        "thresholds": meta.thresholds,
        "preprocessing": meta.input_record().to_dict(), "domain": meta.domain(),
        "training_databases": meta.training_databases,
        "checkpoint": str(checkpoint),
        "epoch": meta.epoch, "global_step": meta.global_step, "version": meta.version,
    }


def export_onnx_bytes(checkpoint: str | Path, opset: int = 17) -> tuple[bytes, dict]:
    """The checkpoint as an ONNX model (bytes) with its metadata embedded, and that metadata."""
    import onnx
    import torch

    from facebehavior.models.pretrained import resolve_checkpoint
    from facebehavior.models.checkpoint import load_model

    checkpoint = resolve_checkpoint(checkpoint)
    model, meta, cfg = load_model(checkpoint, "cpu")
    tasks = cfg.task_specs()
    wrapper = _activated_module(model, tasks)
    size = model.preprocessing.image_size
    names = [t.name for t in tasks]
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the TorchScript exporter announces its deprecation
        # dynamo=False: the TorchScript exporter needs no onnxscript and handles this plain CNN exactly.
        torch.onnx.export(wrapper, (torch.zeros(2, size, size, 3, dtype=torch.uint8),), buffer, dynamo=False,
                          input_names=[INPUT_NAME], output_names=names, opset_version=opset,
                          dynamic_axes={n: {0: "batch"} for n in [INPUT_NAME, *names]})
    proto = onnx.load_from_string(buffer.getvalue())
    info = export_meta(meta, cfg, str(checkpoint))
    entry = proto.metadata_props.add()
    entry.key, entry.value = META_KEY, json.dumps(info)
    proto.producer_name = "facebehavior"
    return proto.SerializeToString(), info


def onnx_cache_dir() -> Path:
    """Where checkpoints exported for `--backend onnxruntime` are kept: $FACEBEHAVIOR_CACHE, else
    $XDG_CACHE_HOME/facebehavior, else ~/.cache/facebehavior (an `onnx/` folder inside)."""
    root = os.environ.get("FACEBEHAVIOR_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or
                                                          Path.home() / ".cache") / "facebehavior"
    return Path(root) / "onnx"


def _exporter_versions() -> str:
    """torch's and onnx's versions, read from their installed metadata (importing torch is what the
    cache saves)."""
    found = []
    for name in ("torch", "onnx"):
        try:
            found.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} absent")
    return ",".join(found)


def _cache_key(checkpoint: Path, opset: int) -> str:
    """Changes whenever anything the export reads changes: every file of the checkpoint folder, its
    path (recorded in the metadata), the opset and the package and exporter versions."""
    from facebehavior import __version__

    digest = hashlib.sha256(f"{checkpoint.resolve()}|{opset}|{__version__}|{_exporter_versions()}".encode())
    for file in sorted(p for p in checkpoint.rglob("*") if p.is_file()):
        digest.update(str(file.relative_to(checkpoint)).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())
    return digest.hexdigest()[:32]


def cached_onnx(checkpoint: str | Path, opset: int = 17) -> Path | tuple[bytes, dict]:
    """The checkpoint folder exported to ONNX, from the cache when an earlier run exported it (so no
    torch is loaded: 2-3 s and ~470 MiB saved per start), else exported now and kept there. Returns
    the cached file's path, or (bytes, metadata) when the cache cannot be written (a read-only home
    costs only the export next time)."""
    checkpoint = Path(checkpoint)
    cached = onnx_cache_dir() / f"{checkpoint.name}-{_cache_key(checkpoint, opset)}.onnx"
    if cached.is_file():
        return cached
    data, info = export_onnx_bytes(checkpoint, opset)
    try:
        atomic.write_bytes(cached, data)
    except OSError as err:
        logging.getLogger(__name__).warning("could not keep the exported model in %s (%s)", cached.parent, err)
        return data, info
    return cached


def export_onnx(checkpoint: str | Path, out: str | Path, opset: int = 17, check: bool = True) -> dict:
    """Write the ONNX file; with `check`, compare ONNX Runtime with PyTorch on random inputs.

    Returns a summary with the largest absolute difference per task.
    """
    from facebehavior.models.pretrained import resolve_checkpoint

    checkpoint = resolve_checkpoint(checkpoint)
    data, info = export_onnx_bytes(checkpoint, opset)
    out = atomic.write_bytes(out, data)
    summary = {"path": str(out), "bytes": len(data), "tasks": [t["name"] for t in info["tasks"]]}
    if check:
        summary["max_abs_diff"] = compare_with_torch(checkpoint, data)
    return summary


def compare_with_torch(checkpoint, onnx_model: bytes | str, batch: int = 4, seed: int = 0) -> dict[str, float]:
    """Largest |ONNX Runtime - PyTorch| per task output on random uint8 crops of batch size `batch`."""
    import torch

    from facebehavior.evaluation.predict import activate, network_outputs
    from facebehavior.models.checkpoint import load_model

    model, _, cfg = load_model(checkpoint, "cpu")
    size = model.preprocessing.image_size
    x = np.random.default_rng(seed).integers(0, 256, (batch, size, size, 3), dtype=np.uint8)
    session = onnx_session(onnx_model)
    got = dict(zip([o.name for o in session.get_outputs()], session.run(None, {INPUT_NAME: x})))
    with torch.inference_mode():
        logits = network_outputs(model, torch.from_numpy(x).permute(0, 3, 1, 2))
    return {t.name: float(np.abs(got[t.name] - activate(t, logits[t.name]).numpy()).max())
            for t in cfg.task_specs()}


def onnx_session(model: bytes | str | Path, threads: int | None = None):
    """An ONNX Runtime CPU session for a file path or serialized bytes."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    if threads:
        options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    # Idle pool threads sleep instead of spinning: decoding and detection need those cores.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    source = model if isinstance(model, bytes) else str(model)
    try:
        return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types for bad files
        where = "the exported model" if isinstance(model, bytes) else str(model)
        raise FaceBehaviorError(f"{where}: ONNX Runtime cannot load it: {exc}") from None


def read_onnx_meta(session, path) -> dict:
    meta = session.get_modelmeta().custom_metadata_map
    if META_KEY not in meta:
        raise FaceBehaviorError(f"{path}: this ONNX file carries no facebehavior metadata; export it with "
                                "`facebehavior export CKPT --format onnx`")
    return json.loads(meta[META_KEY])
