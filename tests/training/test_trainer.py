"""Training end to end on tiny data: checkpoints, exact kill-and-resume, reports, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
from safetensors.torch import load_file

from facebehavior.config import load_config
from facebehavior.training.trainer import train
from tests.training.conftest import tiny_config, write_config


def _weights(run_dir):
    return load_file(run_dir / "checkpoints" / "last" / "model.safetensors")


def _run_cli(args, env_extra=None, check=True):
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env_extra or {}))
    return subprocess.run([sys.executable, "-m", "facebehavior", *args], env=env, capture_output=True,
                          text=True, check=check, timeout=600)


def test_training_writes_checkpoints_log_and_learns_the_head(tiny_manifest, tmp_path):
    cfg = load_config(base=tiny_config(tiny_manifest, tmp_path / "run"))
    result = train(cfg, say=lambda *_: None)
    meta = json.loads((result.best_checkpoint / "meta.json").read_text())
    assert meta["config"]["train"]["lr"] == 0.01  # the resolved config travels with the weights
    assert set(meta["trained_tasks"]) == {"expr", "au", "va"}
    assert len(meta["thresholds"]["au"]) == 17
    records = [json.loads(line) for line in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    losses = [r for r in records if "loss/total" in r]
    assert {"loss/expr", "loss/au", "loss/va", "loss/sca:expr-au", "loss/dm:expr-au"} <= set(losses[0])
    assert all(abs(r["loss/total"] - sum(v for k, v in r.items() if k.startswith("loss/") and k != "loss/total"))
               < 1e-3 for r in losses)
    evals = [r for r in records if "select_score" in r]
    assert len(evals) == 2 and evals[-1]["eval/db_expr/expr/n"] == 15  # every val row of the database


def test_a_run_is_the_same_whether_it_decodes_the_image_cache_or_loads_it(tiny_manifest, tmp_path):
    def run(out):
        cfg = tiny_config(tiny_manifest, out, max_steps=3, epochs=1)
        cfg["data"]["cache_dir"] = str(tmp_path / "decoded")  # the first run decodes and saves, the others load
        train(load_config(base=cfg), say=lambda *_: None)
        return [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]

    decoded = run(tmp_path / "a")
    saved = sorted((tmp_path / "decoded").glob("*.npy"))
    loaded = run(tmp_path / "b")
    assert len(saved) == 2 and sorted((tmp_path / "decoded").glob("*.npy")) == saved  # train, val: loaded
    assert decoded == loaded
    again = run(tmp_path / "a")  # a new run in an old run's folder starts a new log
    assert again == decoded


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_kill_and_resume_matches_an_uninterrupted_run(tiny_manifest, tmp_path):
    # 135 train rows / batch 30 → 5 steps per epoch; 2 epochs = 10 steps; checkpoint every 3 steps.
    ref_cfg = write_config(tmp_path / "ref.yaml", tiny_config(tiny_manifest, tmp_path / "ref", checkpoint_every=3))
    cut_cfg = write_config(tmp_path / "cut.yaml", tiny_config(tiny_manifest, tmp_path / "cut", checkpoint_every=3))
    _run_cli(["train", "-c", str(ref_cfg), "--no-test"])
    # the process kills itself with SIGKILL right after step 8 (mid-epoch 2, after the step-6
    # checkpoint), through the trainer's on_step callback: no fault hook in the library
    stop_at_8 = ("import os, signal, sys; from facebehavior.config import load_config; "
                 "from facebehavior.training.trainer import train; "
                 "train(load_config(sys.argv[1]), on_step=lambda s: s == 8 and os.kill(os.getpid(), signal.SIGKILL))")
    killed = subprocess.run([sys.executable, "-c", stop_at_8, str(cut_cfg)], capture_output=True, text=True,
                            timeout=600)
    assert killed.returncode == -9
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last" / "train_state.pt", weights_only=True)
    assert state["global_step"] == 6 and state["step_in_epoch"] == 1
    resumed = _run_cli(["train", "-c", str(cut_cfg), "--resume", "--no-test"])
    assert "resumed from" in resumed.stdout
    ref, cut = _weights(tmp_path / "ref"), _weights(tmp_path / "cut")
    assert ref.keys() == cut.keys()
    for k in ref:
        torch.testing.assert_close(cut[k], ref[k], rtol=0, atol=1e-6, msg=k)
    steps = [json.loads(l)["step"] for l in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(steps)  # the log reads as one run after truncation


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_ddp_two_gloo_processes_end_identical_and_evaluate_whole_set(tiny_manifest, tmp_path):
    cfg = write_config(tmp_path / "ddp.yaml", tiny_config(tiny_manifest, tmp_path / "ddp", epochs=1))
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "facebehavior", "train", "-c", str(cfg), "--device", "cpu", "--no-test"]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    records = [json.loads(l) for l in (tmp_path / "ddp" / "log.jsonl").read_text().splitlines()]
    final = [r for r in records if "ddp_weights_identical" in r]
    assert final and final[-1]["ddp_weights_identical"] is True and final[-1]["ddp_world_size"] == 2
    evals = [r for r in records if "select_score" in r][-1]
    # Metrics cover the whole validation set (15 rows per database), not one rank's half.
    assert evals["eval/db_expr/expr/n"] == 15 and evals["eval/db_va/va/n"] == 15


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_bad_config_value_is_a_clear_cli_error(tiny_manifest, tmp_path):
    cfg = write_config(tmp_path / "bad.yaml", tiny_config(tiny_manifest, tmp_path / "bad", optimiser="sgd"))
    done = _run_cli(["train", "-c", str(cfg)], check=False)
    assert done.returncode == 2
    assert "unknown key(s) ['optimiser']" in done.stderr and "Traceback" not in done.stderr


def test_resume_after_a_kill_between_the_two_renames_of_a_save_is_exact(tiny_manifest, tmp_path, monkeypatch):
    import pytest

    import facebehavior.models.checkpoint as ckpt

    class Killed(BaseException):
        pass

    quiet = lambda *_: None  # noqa: E731
    ref = train(load_config(base=tiny_config(tiny_manifest, tmp_path / "ref", epochs=1, checkpoint_every=2)),
                say=quiet)
    real, saves = ckpt._replace_dir, []

    def dies_between_renames(tmp, final):
        saves.append(final.name)
        if final.name == "last" and saves.count("last") == 2:  # the step-4 checkpoint
            final.rename(final.with_name("last.old"))
            raise Killed
        real(tmp, final)

    cut_cfg = load_config(base=tiny_config(tiny_manifest, tmp_path / "cut", epochs=1, checkpoint_every=2))
    monkeypatch.setattr(ckpt, "_replace_dir", dies_between_renames)
    with pytest.raises(Killed):
        train(cut_cfg, say=quiet)
    monkeypatch.undo()
    folder = tmp_path / "cut" / "checkpoints"
    assert sorted(p.name for p in folder.iterdir()) == ["last.old", "last.tmp"]
    said = []
    train(cut_cfg, resume=True, say=said.append)
    assert f"resumed from {folder / 'last.tmp'} at epoch 0, step 4" in said
    assert sorted(p.name for p in folder.iterdir()) == ["best", "last"]
    a, b = _weights(ref.run_dir), _weights(tmp_path / "cut")
    for k in a:
        torch.testing.assert_close(b[k], a[k], rtol=0, atol=1e-6, msg=k)
    steps = [json.loads(line)["step"] for line in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert steps[:4] == [1, 2, 3, 4] and steps == sorted(steps)  # the log kept its first steps


def test_resume_without_any_run_is_an_error_and_a_run_stopped_before_its_first_checkpoint_restarts(
        tiny_manifest, tmp_path):
    import pytest

    from facebehavior.errors import CheckpointError

    cfg = load_config(base=tiny_config(tiny_manifest, tmp_path / "typo", max_steps=1, epochs=1))
    with pytest.raises(CheckpointError, match=r"--resume: .*typo holds no run to resume"):
        train(cfg, resume=True, say=lambda *_: None)
    assert not (tmp_path / "typo").exists()
    (tmp_path / "typo").mkdir()
    (tmp_path / "typo" / "config.yaml").write_text("name: tiny\n")
    said = []
    train(cfg, resume=True, say=said.append)
    assert any("stopped before its first checkpoint: starting it from step 0" in s for s in said)
    assert (tmp_path / "typo" / "checkpoints" / "last" / "model.safetensors").is_file()
