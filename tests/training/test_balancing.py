"""train.balancing through the optimiser and the trainer: absent tasks stay put, runs resume exactly."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from facebehavior.config import TrainConfig, load_config
from facebehavior.errors import ConfigError
from facebehavior.labels import TaskSpec
from facebehavior.losses.objective import MultiTaskObjective
from facebehavior.training.optim import build_optimizer, build_scheduler
from facebehavior.training.step import _balancer
from facebehavior.training.trainer import train
from tests.training.conftest import AU_SUBSET, tiny_config, write_config

NAN = float("nan")


@pytest.mark.parametrize("optimizer", ["sgd", "adamw", "adam"])
def test_a_task_missing_from_many_batches_keeps_its_weight_exactly(optimizer):
    # momentum / Adam moments / weight decay built up while the task was present must not move it after
    tasks = [TaskSpec("a", "regression", ("v",), "mse"), TaskSpec("b", "regression", ("v",), "mse")]
    cfg = TrainConfig(optimizer=optimizer, lr=0.05, momentum=0.9, weight_decay=0.1, balancing="uncertainty")
    model = torch.nn.Linear(1, 2)
    opt = build_optimizer(cfg, model)
    balancer = _balancer(cfg, tasks, opt, torch.device("cpu"))
    scheduler = build_scheduler(cfg, opt, 100)
    objective = MultiTaskObjective(tasks)
    gen = torch.Generator().manual_seed(0)

    def step(b_labelled: bool):
        x = torch.randn(8, 1, generator=gen)
        labels = {"a": 2 * x, "b": -x if b_labelled else torch.full_like(x, NAN)}
        out = model(x)
        present: dict = {}
        losses = objective({"a": out[:, :1], "b": out[:, 1:]}, labels, present=present)
        opt.zero_grad(set_to_none=True)
        balancer(losses, present).backward()
        opt.step()
        scheduler.step()
        return present

    for _ in range(5):
        assert step(True) == {"a": True, "b": True}
    s_b, s_a = balancer.log_var("b").detach().clone(), balancer.log_var("a").detach().clone()
    assert float(s_b) != 0.0  # it had been learning, with optimiser state
    assert opt.param_groups[-1]["weight_decay"] == 0.0
    for _ in range(40):
        assert step(False) == {"a": True, "b": False}
        assert balancer.log_var("b").grad is None
    assert torch.equal(balancer.log_var("b").detach(), s_b)
    assert not torch.equal(balancer.log_var("a").detach(), s_a)


def test_balancing_is_validated(tiny_manifest, tmp_path):
    base = tiny_config(tiny_manifest, tmp_path / "x", balancing="gradnorm")
    with pytest.raises(ConfigError, match="balancing"):
        load_config(base=base)
    with pytest.raises(ConfigError, match="balancing_lr"):
        load_config(base=tiny_config(tiny_manifest, tmp_path / "x", balancing="uncertainty", balancing_lr=0))


@pytest.mark.slow  # two processes import torch and train two steps: ~20 s on 2 busy cores
@pytest.mark.parametrize("method", ["uncertainty", "pcgrad"])
def test_two_gloo_processes_balance_as_one_process_on_the_global_batch(method, tiny_manifest, tmp_path):
    from tests.training.test_ddp import _assert_same, _env, _initial_weights, _one_process, _train_cmd, _weights

    def config(out):
        cfg = tiny_config(tiny_manifest, out, epochs=1, max_steps=2, balancing=method, balancing_lr=0.1)
        cfg["data"]["augment"] = {"enabled": False}
        return cfg

    two_cfg = write_config(tmp_path / "two.yaml", config(tmp_path / "two"))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", *_train_cmd(two_cfg)]
    ddp = subprocess.Popen(cmd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    one_weights, _ = _one_process(config(tmp_path / "one"))
    out, _ = ddp.communicate(timeout=300)
    assert ddp.returncode == 0, out[-3000:]
    _assert_same(one_weights, _weights(tmp_path / "two"), _initial_weights(config(tmp_path / "one")))
    logs = [[json.loads(l) for l in (tmp_path / r / "log.jsonl").read_text().splitlines()] for r in ("one", "two")]
    one, two = ([r for r in log if "loss/total" in r][-1] for log in logs)
    for key in (k for k in one if k.startswith("balance/")):
        assert two[key] == pytest.approx(one[key], abs=1e-5), key


@pytest.fixture(scope="module")
def learnable_manifest(tmp_path_factory):
    """The tiny three-database layout, but each image shows its labels: an expression is a colour, an
    AU a bright stripe, valence and arousal the red and green levels."""
    root = tmp_path_factory.mktemp("learnable_affect")
    rng = np.random.default_rng(0)
    (root / "img").mkdir()
    palette = rng.integers(0, 255, (7, 3))
    rows = []
    for i in range(180):
        img = rng.integers(0, 40, (32, 32, 3)).astype(np.int64)
        row = {"path": f"img/{i}.png", "split": "train" if i < 135 else "val"}
        if i % 3 == 0:
            expr = int(rng.integers(7))
            img += palette[expr]
            row.update(database="db_expr", expr=expr)
        elif i % 3 == 1:
            aus = rng.integers(0, 2, len(AU_SUBSET))
            for j, on in enumerate(aus):
                img[:, 5 * j:5 * j + 4] += 200 * int(on)
            row.update(database="db_au", **{a: int(v) for a, v in zip(AU_SUBSET, aus)})
        else:
            v, a = rng.uniform(-1, 1, 2)
            img[..., 0] += int(100 + 90 * v)
            img[..., 1] += int(100 + 90 * a)
            row.update(database="db_va", valence=float(v), arousal=float(a))
        Image.fromarray(img.clip(0, 255).astype(np.uint8)).save(root / row["path"])
        rows.append(row)
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    return root / "manifest.csv"


class _Stop(Exception):
    pass


def _stop_at(n):
    def on_step(step):
        if step == n:
            raise _Stop
    return on_step


@pytest.mark.parametrize("method", ["uncertainty", "pcgrad"])
def test_training_with_balancing_learns_and_resumes_exactly(method, learnable_manifest, tmp_path):
    # 5 steps per epoch, 3 epochs; checkpoint every 4 steps; the cut run stops after step 14 (last checkpoint: 12, mid-epoch)
    def config(out):
        base = tiny_config(learnable_manifest, out, epochs=3, checkpoint_every=4, balancing=method,
                           balancing_lr=0.05, optimizer="adamw", lr=0.01)
        base["data"]["augment"] = {"enabled": False}
        return load_config(base=base)

    train(config(tmp_path / "ref"), say=lambda *_: None)
    with pytest.raises(_Stop):
        train(config(tmp_path / "cut"), say=lambda *_: None, on_step=_stop_at(14))
    state = torch.load(tmp_path / "cut" / "checkpoints" / "last" / "train_state.pt", weights_only=True)
    assert state["global_step"] == 12 and state["step_in_epoch"] == 2
    train(config(tmp_path / "cut"), resume=True, say=lambda *_: None)
    ref = load_file(tmp_path / "ref" / "checkpoints" / "last" / "model.safetensors")
    cut = load_file(tmp_path / "cut" / "checkpoints" / "last" / "model.safetensors")
    for k in ref:
        torch.testing.assert_close(cut[k], ref[k], rtol=0, atol=1e-6, msg=k)
    states = [torch.load(tmp_path / r / "checkpoints" / "last" / "train_state.pt", weights_only=True)
              for r in ("ref", "cut")]
    if method == "uncertainty":
        for k, v in states[0]["balancer"].items():
            torch.testing.assert_close(states[1]["balancer"][k], v, rtol=0, atol=1e-6)
    records = [json.loads(l) for l in (tmp_path / "ref" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in records if "loss/total" in r]
    assert len(steps) == 15
    assert {"balance/expr", "balance/au", "balance/va"} <= set(steps[0])
    if method == "uncertainty":
        assert steps[0]["balance/expr"] == 1.0 and steps[-1]["balance/expr"] != 1.0  # the weights learn
        assert "loss/balanced" in steps[0]
    else:
        assert "balance/dm:expr-au" in steps[0]  # coupling terms take part in the surgery
    # learns: the training loss of the tasks falls between the first and the last epoch
    first, last = steps[:5], steps[-5:]
    task_loss = lambda rs: sum(r["loss/expr"] + r["loss/au"] + r["loss/va"] for r in rs)
    assert task_loss(last) < 0.9 * task_loss(first), (task_loss(first), task_loss(last))
    cut_steps = [json.loads(l)["step"] for l in (tmp_path / "cut" / "log.jsonl").read_text().splitlines()]
    assert cut_steps == sorted(cut_steps)


@pytest.mark.parametrize("variant", ["bf16", "ensemble"])
def test_pcgrad_trains_under_bf16_autocast_and_with_an_ensemble(variant, tiny_manifest, tmp_path):
    # bf16: torch.vmap cannot batch the terms' backward through an autocast graph, so they go one by one;
    # an ensemble: every member's head input is a shared representation of its own
    cfg = tiny_config(tiny_manifest, tmp_path / "run", epochs=1, max_steps=2, balancing="pcgrad",
                      **({"amp": "bf16"} if variant == "bf16" else {}))
    if variant == "ensemble":
        cfg["model"]["members"] = 2
    train(load_config(base=cfg), say=lambda *_: None)
    steps = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in steps if "loss/total" in r]
    assert len(steps) == 2 and all(r["balance/au"] >= 1.0 for r in steps)


def test_a_task_no_batch_labels_keeps_its_weight_through_the_trainer(tiny_manifest, tmp_path):
    # no VA database: va is declared but absent from every batch, under SGD with momentum and weight
    # decay; its log-variance must stay exactly at its start (0)
    rows = pd.read_csv(tiny_manifest)
    rows = rows[rows.database != "db_va"].assign(path=lambda d: [str(tiny_manifest.parent / p) for p in d.path])
    rows.to_csv(tmp_path / "no_va.csv", index=False)
    cfg = tiny_config(tmp_path / "no_va.csv", tmp_path / "run", epochs=2, max_steps=6, balancing="uncertainty",
                      balancing_lr=0.1, weight_decay=0.1)
    train(load_config(base=cfg), say=lambda *_: None)
    state = torch.load(tmp_path / "run" / "checkpoints" / "last" / "train_state.pt", weights_only=True)
    log_vars = dict(zip(["expr", "au", "va"], state["balancer"].values()))
    assert float(log_vars["va"]) == 0.0
    assert float(log_vars["expr"]) != 0.0 and float(log_vars["au"]) != 0.0
    steps = [json.loads(l) for l in (tmp_path / "run" / "log.jsonl").read_text().splitlines()]
    assert [r["balance/va"] for r in steps if "loss/total" in r] == [1.0] * 6
