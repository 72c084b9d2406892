"""A full disk while training is one error line naming the file; the checkpoint saved before is kept."""

from __future__ import annotations

import errno
from pathlib import Path

import pytest
import torch

from facebehavior.errors import DiskFullError
from facebehavior.models.checkpoint import CheckpointMeta, find_checkpoint, load_weights, save_checkpoint


class _FullFile:
    """A file opened for writing on a device with no space left: every write fails."""

    def __init__(self, f):
        self.f = f

    def write(self, data):
        raise OSError(errno.ENOSPC, "No space left on device")

    def __getattr__(self, name):
        return getattr(self.f, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.f.close()


def _disk_full_for(monkeypatch, name: str) -> None:
    real_open = Path.open

    def open_(self, mode="r", *args, **kwargs):
        f = real_open(self, mode, *args, **kwargs)
        return _FullFile(f) if self.name == name and ("w" in mode or "a" in mode) else f

    monkeypatch.setattr(Path, "open", open_)


def _model(seed: int) -> torch.nn.Module:
    torch.manual_seed(seed)
    return torch.nn.Linear(3, 2)


def test_a_save_on_a_full_disk_keeps_the_previous_checkpoint_and_names_the_file(tmp_path, monkeypatch):
    meta = CheckpointMeta(config={}, tasks=[], trained_tasks=[])
    last = tmp_path / "last"
    save_checkpoint(last, _model(0), meta, {"global_step": 1})
    _disk_full_for(monkeypatch, "model.safetensors")
    with pytest.raises(DiskFullError) as caught:
        save_checkpoint(last, _model(1), meta, {"global_step": 2})
    message = str(caught.value)
    assert message.startswith(f"{tmp_path / 'last.tmp' / 'model.safetensors'}: no space left on the device; "
                              f"the checkpoint saved before is kept in {last}") and "--resume" in message
    monkeypatch.undo()
    assert find_checkpoint(last) == last and not (tmp_path / "last.tmp").exists()  # its space is given back
    model = _model(7)
    load_weights(last, model)
    assert torch.equal(model.weight, _model(0).weight)


def test_train_on_a_full_disk_ends_with_one_line(tiny_manifest, tmp_path, monkeypatch, capsys):
    from facebehavior.cli.main import main
    from tests.training.conftest import tiny_config, write_config

    cfg = write_config(tmp_path / "c.yaml", tiny_config(tiny_manifest, tmp_path / "run", epochs=1, max_steps=1))
    _disk_full_for(monkeypatch, "train_state.pt")
    assert main(["train", "-c", str(cfg), "--no-test"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.startswith("error: ") and len(err.strip().splitlines()) == 1
    assert "last.tmp/train_state.pt: no space left on the device; no checkpoint was saved yet" in err


def test_the_run_log_on_a_full_disk_is_one_error(tmp_path, monkeypatch):
    from facebehavior.training.logger import RunLogger

    logger = RunLogger(tmp_path / "run")
    _disk_full_for(monkeypatch, "log.jsonl")
    with pytest.raises(DiskFullError, match=r"log\.jsonl: no space left on the device; the checkpoints are kept"):
        logger.log({"step": 1})
