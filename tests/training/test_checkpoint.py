"""Checkpoints: safetensors + meta.json round trip, atomic replace, and refusal of unsafe or corrupt files."""

import json
import shutil

import pytest
import torch

from facebehavior.config import load_config
from facebehavior.errors import CheckpointError
from facebehavior.models import build_model
from facebehavior.models.checkpoint import (
    FORMAT,
    CheckpointMeta,
    load_model,
    load_train_state,
    load_weights,
    read_meta,
    save_checkpoint,
)

CONFIG = {
    "name": "ckpt",
    "tasks": [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
              {"name": "au", "kind": "multilabel", "labels": "@aus"}],
    "model": {"backbone": "fbn", "preset": "tiny", "widths": [4, 8], "depths": [1, 1]},
}


class _Evil:
    """Unpickling this would run code: it creates a file named by `marker`."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def _model_and_meta(seed: int = 0):
    cfg = load_config(base=CONFIG)
    torch.manual_seed(seed)
    model = build_model(cfg.model, cfg.task_specs())
    meta = CheckpointMeta(config=cfg.to_dict(), tasks=[{"name": "expr"}, {"name": "au"}], trained_tasks=["expr", "au"],
                          epoch=3, global_step=42, thresholds={"au": [0.5] * 17}, scores={"db": {"f1": 0.7}},
                          best_score=0.7)
    return model, meta


def _state_equal(a: torch.nn.Module, b: torch.nn.Module) -> bool:
    sa, sb = a.state_dict(), b.state_dict()
    return sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)


@pytest.fixture
def saved(tmp_path):
    model, meta = _model_and_meta()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.zeros(2, 3, 16, 16))["expr"].sum().backward()
    optimizer.step()
    state = {"optimizer": optimizer.state_dict(), "epoch": 3, "step_in_epoch": 5, "global_step": 42,
             "best_score": float("nan")}
    path = save_checkpoint(tmp_path / "checkpoints" / "last", model, meta, state)
    return path, model, meta


def test_round_trip_weights_and_meta(saved):
    path, model, meta = saved
    assert sorted(p.name for p in path.iterdir()) == ["meta.json", "model.safetensors", "train_state.pt"]
    back = read_meta(path)
    assert back == meta
    assert back.format == FORMAT and back.thresholds["au"] == [0.5] * 17 and back.global_step == 42
    other, _ = _model_and_meta(seed=1)
    assert not _state_equal(model, other)
    load_weights(path, other)
    assert _state_equal(model, other)
    load_weights(path / "model.safetensors", other)  # the weights file itself is accepted too


def test_load_model_rebuilds_the_network_from_the_saved_config(saved):
    path, model, _ = saved
    rebuilt, meta, cfg = load_model(path)
    assert not rebuilt.training and cfg.name == "ckpt" and meta.epoch == 3
    assert _state_equal(model, rebuilt)


def test_train_state_round_trip_with_weights_only(saved):
    path, _, _ = saved
    state = load_train_state(path)
    assert state["global_step"] == 42 and state["step_in_epoch"] == 5
    assert state["best_score"] != state["best_score"]  # NaN survives
    assert state["optimizer"]["param_groups"][0]["momentum"] == 0.9


def test_saving_again_replaces_the_folder_atomically(saved):
    path, model, meta = saved
    meta.global_step = 99
    save_checkpoint(path, model, meta)  # no train_state this time
    assert read_meta(path).global_step == 99
    assert not (path / "train_state.pt").exists()
    assert sorted(p.name for p in path.parent.iterdir()) == ["last"]  # no .tmp / .old left behind
    with pytest.raises(CheckpointError, match="train_state.pt is missing"):
        load_train_state(path)


def test_not_a_checkpoint_folder(tmp_path):
    with pytest.raises(CheckpointError, match=str(tmp_path / "nothing")):
        read_meta(tmp_path / "nothing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        load_weights(tmp_path / "empty", torch.nn.Linear(1, 1))


def test_corrupt_safetensors_names_the_file(saved):
    path, model, _ = saved
    (path / "model.safetensors").write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{garbage")
    with pytest.raises(CheckpointError, match=f"{path}/model.safetensors is corrupt"):
        load_weights(path, model)
    (path / "model.safetensors").write_bytes(b"")
    with pytest.raises(CheckpointError, match=str(path)):
        load_weights(path, model)


def test_weights_of_another_architecture_are_refused(saved):
    path, _, _ = saved
    with pytest.raises(CheckpointError, match="do not fit"):
        load_weights(path, torch.nn.Linear(3, 3))


def test_missing_or_corrupt_meta(saved):
    path, _, _ = saved
    meta_file = path / "meta.json"
    text = meta_file.read_text()
    meta_file.write_text("{not json")
    with pytest.raises(CheckpointError, match="meta.json is corrupt"):
        read_meta(path)
    data = json.loads(text)
    data["surprise_field"] = 1
    meta_file.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match=str(path)):
        read_meta(path)
    data = json.loads(text)
    data["format"] = "someone-else-1"
    meta_file.write_text(json.dumps(data))
    with pytest.raises(CheckpointError, match="someone-else-1"):
        read_meta(path)
    meta_file.unlink()
    with pytest.raises(CheckpointError, match=f"{path}: meta.json is missing"):
        read_meta(path)


def test_garbage_train_state_names_the_file(saved):
    path, _, _ = saved
    (path / "train_state.pt").write_bytes(b"this is not a torch archive")
    with pytest.raises(CheckpointError, match=f"{path}/train_state.pt cannot be read safely"):
        load_train_state(path)


def test_pickled_objects_in_train_state_are_refused_and_never_run(saved, tmp_path):
    path, _, _ = saved
    marker = tmp_path / "pwned"
    torch.save({"epoch": 1, "payload": _Evil(marker)}, path / "train_state.pt")
    with pytest.raises(CheckpointError, match="train_state.pt cannot be read safely"):
        load_train_state(path)
    assert not marker.exists()


def test_labels_with_annotations_names_the_labels_training_saw():
    import numpy as np

    from facebehavior.labels import affect_tasks
    from facebehavior.models.checkpoint import labels_with_annotations

    expr, au, va = affect_tasks()
    soft = np.full((4, 7), np.nan, np.float32)
    soft[0] = [0, 0, 0, 0, 0, 0.2, 0.8]  # a soft label gives mass to sadness and surprise
    au_values = np.full((4, 17), np.nan, np.float32)
    au_values[1, 0], au_values[2, 8] = 1.0, 0.0  # au1 annotated on, au12 annotated off: both seen
    va_values = np.full((4, 2), np.nan, np.float32)
    va_values[3, 0] = 0.3
    labels = {"expr": np.array([-1, 4, 4, 0]), "expr_soft": soft, "au": au_values, "va": va_values}
    seen = labels_with_annotations(labels, [expr, au, va])
    assert seen == {"expr": ["neutral", "happiness", "sadness", "surprise"], "au": ["au1", "au12"],
                    "va": ["valence"]}


def test_trained_labels_round_trip_and_older_meta_reads_as_unknown(tmp_path):
    model, meta = _model_and_meta()
    meta.trained_labels = {"expr": ["neutral", "happiness"], "au": ["au12"]}
    path = save_checkpoint(tmp_path / "best", model, meta)
    assert read_meta(path).trained_labels == meta.trained_labels
    data = json.loads((path / "meta.json").read_text())
    del data["trained_labels"]  # as written before the field existed
    (path / "meta.json").write_text(json.dumps(data))
    assert read_meta(path).trained_labels is None


class _Killed(BaseException):
    """Stands for kill -9: nothing after it runs, no cleanup."""


def _kill_at(monkeypatch, n: int):
    """Make the n-th rename or rmtree from now on die before it happens (n = 0: never)."""
    from pathlib import Path

    import facebehavior.models.checkpoint as ckpt

    calls = [0]
    real_rename, real_rmtree = Path.rename, ckpt.shutil.rmtree

    def guard(real):
        def op(*args, **kwargs):
            calls[0] += 1
            if calls[0] == n:
                raise _Killed
            return real(*args, **kwargs)
        return op

    monkeypatch.setattr(Path, "rename", guard(real_rename))
    monkeypatch.setattr(ckpt.shutil, "rmtree", guard(real_rmtree))
    return calls


def _save_step(path, step: int):
    model, meta = _model_and_meta(seed=step)
    meta.global_step = step
    save_checkpoint(path, model, meta, {"global_step": step})


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_a_save_killed_at_any_point_leaves_a_complete_checkpoint_and_the_next_save_cleans_up(tmp_path, monkeypatch):
    from facebehavior.models.checkpoint import find_checkpoint

    _save_step(tmp_path / "count" / "last", 1)
    calls = _kill_at(monkeypatch, 0)
    _save_step(tmp_path / "count" / "last", 2)
    monkeypatch.undo()
    n_ops = calls[0]  # renames and removals of a save that replaces a checkpoint
    assert n_ops >= 3
    for first_kill in range(1, n_ops + 1):
        for second_kill in range(0, n_ops + 4):  # then kill the save that follows (it may recover first)
            path = tmp_path / f"k{first_kill}_{second_kill}" / "last"
            _save_step(path, 1)
            for step, kill in ((2, first_kill), (3, second_kill)):
                _kill_at(monkeypatch, kill)
                try:
                    _save_step(path, step)
                except _Killed:
                    pass
                monkeypatch.undo()
                where = (first_kill, second_kill, step)
                assert find_checkpoint(path).parent == path.parent, where
                got = read_meta(path).global_step  # every loader reads the same complete copy
                assert got in (1, step - 1, step) and load_train_state(path)["global_step"] == got, where
                model, _ = _model_and_meta(seed=99)
                load_weights(path, model)
                assert _state_equal(model, _model_and_meta(seed=got)[0]), where
            _save_step(path, 4)
            assert read_meta(path).global_step == 4
            assert sorted(p.name for p in path.parent.iterdir()) == ["last"], where


def test_killed_between_the_two_renames_the_newer_copy_is_read(saved, monkeypatch):
    from facebehavior.models.checkpoint import find_checkpoint

    path, _, _ = saved
    _kill_at(monkeypatch, 3)  # meta.json's rename, last -> last.old, then (killed) last.tmp -> last
    with pytest.raises(_Killed):
        _save_step(path, 43)
    monkeypatch.undo()
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.old", "last.tmp"]
    assert find_checkpoint(path) == path.with_name("last.tmp") and read_meta(path).global_step == 43
    _save_step(path, 44)
    assert sorted(p.name for p in path.parent.iterdir()) == ["last"] and read_meta(path).global_step == 44


def test_an_incomplete_save_is_never_read(saved):
    from facebehavior.models.checkpoint import find_checkpoint

    path, model, _ = saved
    path.rename(path.with_name("last.old"))
    tmp = path.with_name("last.tmp")
    tmp.mkdir()
    (tmp / "model.safetensors").write_bytes(b"half")  # killed while writing: no meta.json yet
    assert find_checkpoint(path) == path.with_name("last.old") and read_meta(path).global_step == 42
    shutil.rmtree(path.with_name("last.old"))
    assert find_checkpoint(path) is None
    with pytest.raises(CheckpointError, match="not a checkpoint folder"):
        read_meta(path)


def test_non_finite_weights_are_refused_at_load(saved):
    from safetensors.torch import load_file, save_file

    path, model, _ = saved
    for bad in (float("nan"), float("inf")):
        state = load_file(path / "model.safetensors")
        name = next(k for k, v in state.items() if v.is_floating_point())
        state[name].view(-1)[0] = bad
        save_file(state, path / "model.safetensors")
        with pytest.raises(CheckpointError, match=rf"non-finite weights \(NaN or inf\) in 1 of .*{name}"):
            load_weights(path, model)
        with pytest.raises(CheckpointError, match="non-finite"):
            load_model(path)


def test_resume_source_refuses_a_folder_that_holds_no_run(tmp_path, saved):
    from facebehavior.models.checkpoint import resume_source

    path, _, _ = saved
    assert resume_source(path, tmp_path) == path
    with pytest.raises(CheckpointError, match=r"--resume: .*typo.* holds no run to resume"):
        resume_source(tmp_path / "typo" / "checkpoints" / "last", tmp_path / "typo")
    assert not (tmp_path / "typo").exists()
    (tmp_path / "started").mkdir()
    (tmp_path / "started" / "config.yaml").write_text("name: x\n")  # stopped before its first checkpoint
    assert resume_source(tmp_path / "started" / "checkpoints" / "last", tmp_path / "started") is None


def test_a_run_folder_given_for_a_checkpoint_names_the_checkpoints_inside(tmp_path):
    import pytest as _pytest

    from facebehavior.errors import CheckpointError
    from facebehavior.models.checkpoint import read_meta

    for name in ("last", "best"):
        folder = tmp_path / "run" / "train" / "checkpoints" / name
        folder.mkdir(parents=True)
        (folder / "model.safetensors").write_bytes(b"")
    with _pytest.raises(CheckpointError) as err:
        read_meta(tmp_path / "run")
    message = str(err.value)
    assert "checkpoints under it" in message and message.index("best") < message.index("last")
