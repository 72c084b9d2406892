"""Networks shipped inside the package, so a photo can be analysed right after `pip install`.

Each shipped model is an ordinary checkpoint folder (model.safetensors + meta.json) under
`facebehavior/weights/`, listed in `weights/models.json` with the SHA-256 of its weights, which is
checked before the weights are used: a damaged install fails with a clear error instead of
predicting from altered numbers. Nothing is downloaded. `DEFAULT` is what `analyze`,
`FaceBehavior.load()`, `export` and the ONNX backend use when no checkpoint is given; any
checkpoint folder or shipped model name can be passed instead.
"""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from pathlib import Path

from facebehavior import atomic
from facebehavior.errors import CheckpointError

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
DEFAULT = "ferplus-expr"


def shipped_models(weights_dir: Path | None = None) -> dict[str, dict]:
    """Name → entry (folder, sha256, summary, results) of every model shipped in the package."""
    index = (weights_dir or WEIGHTS_DIR) / "models.json"
    if not index.is_file():
        return {}
    return json.loads(index.read_text())["models"]


def shipped_checkpoint(name: str = DEFAULT, weights_dir: Path | None = None) -> Path:
    """The checkpoint folder of the shipped model `name`, its weights' checksum verified."""
    weights_dir = weights_dir or WEIGHTS_DIR
    models = shipped_models(weights_dir)
    if name not in models:
        raise CheckpointError(f"no shipped model named {name!r}; shipped: {sorted(models) or 'none'} "
                              "(or pass a checkpoint folder / .onnx file)")
    entry = models[name]
    folder = weights_dir / entry["folder"]
    _verify(folder / "model.safetensors", entry["sha256"])
    return folder


@lru_cache(maxsize=8)
def _verify(file: Path, expected: str) -> None:
    if not file.is_file():
        raise CheckpointError(f"{file} is missing: the package install is incomplete; reinstall facebehavior")
    digest = hashlib.sha256(file.read_bytes()).hexdigest()
    if digest != expected:
        raise CheckpointError(f"{file}: SHA-256 {digest[:16]}… does not match the shipped {expected[:16]}…; "
                              "the install is damaged, reinstall facebehavior")


def resolve_checkpoint(path_or_name: str | Path | None) -> Path:
    """None → the default shipped model; a shipped model's name → its folder; else the path itself."""
    if path_or_name is None:
        return shipped_checkpoint(DEFAULT)
    if str(path_or_name) in shipped_models() and not Path(path_or_name).exists():
        return shipped_checkpoint(str(path_or_name))
    return Path(path_or_name)


def shipped_name(path: str | Path, weights_dir: Path | None = None) -> str | None:
    """The shipped model's name if `path` is a shipped model's folder, else None."""
    weights_dir = (weights_dir or WEIGHTS_DIR).resolve()
    path = Path(path).resolve()
    if path.parent != weights_dir:
        return None
    return next((name for name, entry in shipped_models(weights_dir).items() if entry["folder"] == path.name), None)


def sha256_of(file: str | Path) -> str:
    return hashlib.sha256(Path(file).read_bytes()).hexdigest()


def ship_checkpoint(checkpoint: str | Path, name: str, summary: dict, weights_dir: Path | None = None,
                    preprocessing: dict | None = None, hidden_tasks=(), training_databases=None) -> Path:
    """Copy a trained checkpoint's weights and meta into the package as shipped model `name`.

    The meta's config keeps what rebuilds the network but not the training data's local paths;
    `preprocessing` replaces the recorded input record (e.g. to switch on mirrored-crop averaging
    that was measured to help). `hidden_tasks`: heads `analyze` does not write (`output: false`,
    e.g. a protocol-only head). `training_databases` fills in what a checkpoint saved before they
    were recorded cannot say (its domain). `summary` (what it predicts, its measured results and the command
    that trained it) goes into models.json beside the checksum.
    """
    import shutil

    weights_dir = weights_dir or WEIGHTS_DIR
    src = Path(checkpoint)
    meta = json.loads((src / "meta.json").read_text())
    meta["config"]["data"].update({"train": [], "val": [], "test": [], "root": None, "cache_dir": None})
    meta["config"]["out_dir"] = None
    if preprocessing is not None:
        meta["preprocessing"] = preprocessing
    if training_databases and not meta.get("training_databases"):
        meta["training_databases"] = sorted(training_databases)
    for task in meta["tasks"] + meta["config"]["tasks"]:
        if task["name"] in hidden_tasks:
            task["output"] = False
    folder = _write_folder(weights_dir / name.replace("-", "_"), meta,
                           lambda file: shutil.copyfile(src / "model.safetensors", file))
    index = weights_dir / "models.json"
    models = shipped_models(weights_dir)
    models[name] = {"folder": folder.name, "sha256": sha256_of(folder / "model.safetensors"), **summary}
    atomic.write_text(index, json.dumps({"default": DEFAULT, "models": models}, indent=1) + "\n")
    _verify.cache_clear()
    return folder


def ensemble_checkpoint(checkpoints: list[str | Path], out: str | Path, preprocessing: dict | None = None) -> Path:
    """One checkpoint holding several trained runs of one network shape, their logits averaged
    (`model.members` = their number; models/multitask.EnsembleNet). The runs must share tasks,
    network shape and preprocessing (or `preprocessing` is given for all: e.g. a run recorded
    before its crop framing was); seeds, data order and schedules may differ."""
    from safetensors.torch import load_file, save_file

    metas = [json.loads((Path(c) / "meta.json").read_text()) for c in checkpoints]
    if len(metas) < 2:
        raise CheckpointError("an ensemble needs at least two checkpoints")
    first = metas[0]
    for path, meta in zip(checkpoints[1:], metas[1:]):
        if _heads(meta) != _heads(first):
            raise CheckpointError(f"{path}: its tasks differ from {checkpoints[0]}'s; cannot average them")
        if not preprocessing and meta.get("preprocessing") != first.get("preprocessing"):
            raise CheckpointError(f"{path}: its preprocessing differs from {checkpoints[0]}'s; cannot average them")
        if _shape(meta) != _shape(first):
            raise CheckpointError(f"{path}: network shape {_shape(meta)} differs from {_shape(first)}")
    state = {}
    for i, path in enumerate(checkpoints):
        state.update({f"members.{i}.{k}": v for k, v in load_file(Path(path) / "model.safetensors").items()})
    meta = json.loads(json.dumps(first))
    meta["config"]["model"]["members"] = len(checkpoints)
    meta["scores"], meta["best_score"] = {}, None
    # a head counts as trained only when every member trained it
    meta["trained_tasks"] = [t for t in first["trained_tasks"] if all(t in m["trained_tasks"] for m in metas)]
    meta["training_databases"] = sorted({d for m in metas for d in (m.get("training_databases") or [])}) or None
    meta["ensemble_of"] = [str(c) for c in checkpoints]
    meta.pop("member_of", None)  # a member split out of another ensemble is a run of its own here
    if preprocessing is not None:
        meta["preprocessing"] = preprocessing
    return _write_folder(Path(out), meta,
                         lambda file: save_file(state, file, metadata={"format": first["format"]}))


def split_ensemble(checkpoint: str | Path, out: str | Path, commands: list[str] | None = None) -> list[Path]:
    """The inverse of `ensemble_checkpoint`: each member of an ensemble checkpoint written as a
    checkpoint of its own (`out/member_<i>`), e.g. to score members alone or re-combine them with
    new runs when only the ensemble (such as the shipped model) is left. `commands`: what trained
    each member, recorded in its `member_of`. The members' metas are the ensemble's (which keeps
    the first run's training details); their weights are their own."""
    from safetensors.torch import load_file, save_file

    src = Path(checkpoint)
    meta = json.loads((src / "meta.json").read_text())
    n = meta["config"]["model"].get("members") or 1
    if n < 2:
        raise CheckpointError(f"{src} is not an ensemble (model.members = {n}); nothing to split")
    if commands is not None and len(commands) != n:
        raise CheckpointError(f"{len(commands)} commands given for {n} members of {src}")
    state = load_file(src / "model.safetensors")
    folders = []
    for i in range(n):
        prefix = f"members.{i}."
        member = {k[len(prefix):]: v for k, v in state.items() if k.startswith(prefix)}
        m = json.loads(json.dumps(meta))
        m["config"]["model"].pop("members", None)
        m.pop("ensemble_of", None)
        m["member_of"] = {"ensemble": str(src), "index": i,
                          "source": meta["ensemble_of"][i] if meta.get("ensemble_of") else None,
                          "trained_by": commands[i] if commands is not None else None}
        folders.append(_write_folder(Path(out) / f"member_{i}", m,
                                     lambda file, member=member: save_file(member, file, metadata={"format": meta["format"]})))
    return folders


def _heads(meta: dict) -> list:
    """What averaging logits needs equal: each task's name, kind and labels (not how it is shown:
    `output`, recorded by runs made after it existed, changes no logit)."""
    return [(t["name"], t["kind"], list(t["labels"])) for t in meta["tasks"]]


def _write_folder(folder: Path, meta: dict, write_weights) -> Path:
    """A checkpoint folder written beside `folder` and put in its place as checkpoints are
    (`models/checkpoint._replace_dir`): an interruption leaves the previous folder complete."""
    import shutil

    from facebehavior.models.checkpoint import _replace_dir

    tmp = folder.with_name(folder.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    write_weights(tmp / "model.safetensors")
    (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
    _replace_dir(tmp, folder)
    return folder


def _shape(meta: dict) -> dict:
    model = dict(meta["config"]["model"])
    model.pop("members", None)
    return model
