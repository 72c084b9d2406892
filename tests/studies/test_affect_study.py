"""The affect study's plan, scarce labels, comparisons and resumption, without training."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pandas as pd
import pytest

from facebehavior.studies import affect
from facebehavior.studies.affect import FULL_ROWS, SETTINGS, Row, comparisons, run_plan, scarce_manifests


@pytest.fixture(scope="module")
def synth(tmp_path_factory):
    from facebehavior.synthface import generate_preset, read_preset

    out = tmp_path_factory.mktemp("synthface")
    return read_preset(generate_preset("affect", out, size=16, seed=0, scale=0.02, workers=1)), out


def test_full_plan_has_every_row_five_seeds_and_seed_major_order(synth, tmp_path):
    preset, data = synth
    plan = run_plan(preset, data, tmp_path, SETTINGS["full"])
    labels = {p["label"] for p in plan}
    for needed in ("no coupling", "co-annotation", "soft co-annotation", "distr-matching",
                   "distr-matching eq. 4 as written", "soft co-annotation + distr-matching",
                   "ST expr", "ST au", "ST va", "scarce: no coupling", "scarce: ST expr"):
        assert needed in labels
    assert {p["seed"] for p in plan} == set(range(5))
    assert [p["seed"] for p in plan] == sorted(p["seed"] for p in plan)  # whole seeds first
    assert len({p["slug"] for p in plan}) == len(plan)
    by = {(p["label"], p["seed"]): p["config"] for p in plan}
    dm = by[("distr-matching", 0)]["coupling"][0]["distribution_matching"]
    eq4 = by[("distr-matching eq. 4 as written", 0)]["coupling"][0]["distribution_matching"]
    assert "form" not in dm  # the library default: bernoulli / multiclass / drop
    assert (eq4["form"], eq4["grad_to"], eq4["unlinked"]) == ("paper", "both", "keep")
    assert [t["name"] for t in by[("ST au", 3)]["tasks"]] == ["au"]
    # task balancing (issue 21): each method alone, and with the best coupling
    assert by[("uncertainty weighting", 0)]["train"]["balancing"] == "uncertainty"
    assert "coupling" in by[("uncertainty weighting", 0)] and not any(
        k in by[("uncertainty weighting", 0)]["coupling"][0] for k in ("soft_coannotation", "distribution_matching"))
    combo = by[("PCGrad + soft co-annotation + distr-matching", 0)]
    assert combo["train"]["balancing"] == "pcgrad"
    assert combo["coupling"][0]["soft_coannotation"]["enabled"] and combo["coupling"][0]["distribution_matching"]["enabled"]
    assert by[("PCGrad", 2)]["train"]["lr"] == by[("no coupling", 2)]["train"]["lr"]
    scarce = by[("scarce: no coupling", 0)]["data"]["train"]
    assert any(p.endswith("manifest_expr10.csv") for p in scarce)
    assert by[("scarce: no coupling", 0)]["data"]["test"] == by[("no coupling", 0)]["data"]["test"]
    # every config is valid
    from facebehavior.config import load_config

    for p in plan[:len(FULL_ROWS)]:
        load_config(base=p["config"])


def test_demo_plan_keeps_its_rows_and_two_single_task_seeds(synth, tmp_path):
    preset, data = synth
    plan = run_plan(preset, data, tmp_path, SETTINGS["demo"])
    coupled = [p for p in plan if p["group"] == "coupling"]
    assert len(coupled) == 5 * SETTINGS["demo"]["seeds"]
    assert {s["batch_size"] for s in coupled[0]["config"]["data"]["label_sets"]} == {32}
    assert len([p for p in plan if p["group"] == "single-task"]) == 3 * 2  # intervals need two seeds a side
    assert [p["label"] for p in plan if p["group"] == "balancing"] == ["uncertainty weighting"] * SETTINGS["demo"]["seeds"]


def test_rows_take_a_config_patch_for_later_rows(synth, tmp_path):
    preset, data = synth
    rows = [Row("no coupling", baseline=None), Row("wd", patch={"train": {"weight_decay": 0.5}})]
    plan = run_plan(preset, data, tmp_path, {**SETTINGS["quick"], "seeds": 1}, rows=rows)
    assert plan[1]["config"]["train"]["weight_decay"] == 0.5 and plan[1]["config"]["train"]["lr"] == plan[0][
        "config"]["train"]["lr"]


def test_scarce_manifests_keep_a_tenth_of_the_train_expression_labels_only(synth):
    preset, data = synth
    thinned = scarce_manifests(preset, data)
    assert {Path(k).parent.name for k in thinned} == {"synth_rafdb", "synth_affectnet"}
    for src, dst in thinned.items():
        a, b = pd.read_csv(src), pd.read_csv(dst)
        assert a.drop(columns="expr").equals(b.drop(columns="expr"))  # VA and everything else kept
        train = a["split"] == "train"
        kept = b.loc[train, "expr"].notna().sum()
        assert kept == round(0.1 * a.loc[train, "expr"].notna().sum())
        assert b.loc[~train, "expr"].astype(float).equals(a.loc[~train, "expr"].astype(float))
        assert (b.loc[train & b["expr"].notna(), "expr"] == a.loc[train & b["expr"].notna(), "expr"]).all()
    assert scarce_manifests(preset, data) == thinned  # the same draw every time
    assert pd.read_csv(dst).equals(b)


def _results(rafdb: float) -> dict:
    return {"synth_rafdb": {"expr": {"mean_diag": rafdb}}}


def test_comparisons_give_intervals_and_holm_over_the_family():
    cols = [("synth_rafdb", "expr", "mean_diag", "raf")]
    table = {"no coupling": [_results(v) for v in (0.40, 0.41, 0.42, 0.40, 0.41)],
             "better": [_results(v) for v in (0.50, 0.51, 0.52, 0.50, 0.51)],
             "same": [_results(v) for v in (0.40, 0.42, 0.41, 0.40, 0.41)]}
    comps = comparisons(table, {"better": "no coupling", "same": "no coupling"}, cols)
    better, same = comps
    assert better["diff"] == pytest.approx(0.1) and better["low"] > 0 and better["verdict"] == "better"
    assert same["verdict"] == "no significant difference" and same["low"] < 0 < same["high"]
    assert better["p_holm"] == pytest.approx(min(1, 2 * better["p"])) or better["p_holm"] >= better["p"]
    assert same["p_holm"] >= same["p"]


@pytest.mark.slow  # generates SynthFace and fits the ceiling's models (seconds to minutes)
def test_finished_runs_are_skipped_on_resume(synth, tmp_path, monkeypatch):
    """--resume reads every finished run's result instead of training it again; the report is written
    from them (here: every run finished, so nothing trains)."""
    preset, data = synth
    out, results = tmp_path / "out", tmp_path / "results"
    results.mkdir()
    monkeypatch.setitem(affect.SETTINGS, "quick", {**SETTINGS["quick"], "scale": preset["scale"]})  # the fixture's data
    plan = run_plan(preset, data, out, {**affect.SETTINGS["quick"], "size": "quick"})
    for i, p in enumerate(plan):
        fake = {"synth_rafdb": {"expr": {"mean_diag": 0.3 + 0.01 * i, "primary": "mean_diag"}}}
        (results / f"{p['slug']}.json").write_text(json.dumps(
            {"label": p["label"], "group": p["group"], "seed": p["seed"], "slug": p["slug"], "results": fake,
             "seconds": 1.0, "curve": [{"epoch": 1, "step": 5, "eval/synth_rafdb/expr/mean_diag": 0.2}]}))
    monkeypatch.setattr(affect, "_execute", lambda *a, **k: pytest.fail("a finished run was trained again"))

    class Args:
        quick, full, resume, report_only, seeds, workers = True, False, True, False, None, 1
        out_ = None

    args = Args()
    args.out, args.data, args.results = str(out), str(data), str(results)
    report = affect.run_demo(args)
    got = json.loads(Path(report).with_name("report.json").read_text())
    assert got["summary"]["no coupling"]["synth_rafdb expr mean_diag"]["n"] == 1
    assert "ceiling" in got and got["ceiling"]["synth_rafdb expr mean_diag"]["ceiling"] > 0.3
    assert (out / "figures" / "learning_curves.png").is_file()
    assert (out / "figures" / "negative_transfer.png").is_file()
    assert {c["variant"] for c in got["negative_transfer"]} >= {"no coupling", "uncertainty weighting"}
    assert math.isclose(got["summary"]["no coupling"]["synth_rafdb expr mean_diag"]["mean"], 0.3)
    assert f"recorded by the {len(plan)} runs" in Path(report).read_text()
    copied = (results / "report.md").read_text()  # the copy beside the results links images that exist there
    for link in re.findall(r"!\[[^]]*\]\(([^)]+)\)", copied):
        assert (results / link).is_file(), link


def test_report_times_the_runs_not_the_invocation_that_writes_it():
    """A resumed study spans sessions and hosts: the report sums each run's own seconds and names
    the CPUs the runs record (older runs recorded none)."""
    runs = [{"seconds": 600.0, "environment": {"cpu": "Xeon"}}, {"seconds": 1200.0, "environment": {"cpu": "Xeon"}},
            {"seconds": 1800.0}]
    line = affect.runs_compute_line(runs)
    assert "recorded by the 3 runs, summed: 1.0 h" in line and "median 20.0 min" in line
    assert "2 on Xeon" in line and "1 on CPU not recorded" in line
    assert affect.runs_compute_line([]) == "No run has finished."
    assert "mix GPU and CPU" not in line


def test_report_names_the_gpu_a_run_trained_on_and_warns_when_devices_are_mixed():
    cpu_run = {"seconds": 600.0, "environment": {"cpu": "Xeon"}, "device": "cpu"}
    gpu_run = {"seconds": 60.0, "environment": {"cpu": "Xeon"}, "device": "NVIDIA H200"}
    assert "1 on GPU NVIDIA H200" in affect.runs_compute_line([gpu_run])
    assert "mix GPU and CPU" not in affect.runs_compute_line([gpu_run, gpu_run])
    assert "mix GPU and CPU" in affect.runs_compute_line([cpu_run, gpu_run])


def test_a_run_records_the_gpu_it_used_and_a_cpu_run_never_asks_cuda(monkeypatch):
    import torch

    def no_cuda_call(*_):
        raise AssertionError("asked CUDA for a device name: that would start CUDA in a CPU run")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine ...
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: False)  # ... whose run trained on the CPU
    monkeypatch.setattr(torch.cuda, "get_device_name", no_cuda_call)
    assert affect._trained_on() == "cpu"
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)  # the run used CUDA
    monkeypatch.setattr(torch.cuda, "current_device", lambda: 0)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i: f"GPU{i}")
    assert affect._trained_on() == "GPU0"


def test_label_sets_share_the_batch_equally_and_single_task_nets_keep_only_their_databases(synth):
    from facebehavior.studies.affect import label_sets

    preset, _ = synth
    sets = {s["name"]: s for s in label_sets(preset, 128)}
    assert set(sets) == {"au", "expr", "expr+va", "va"}
    assert {s["batch_size"] for s in sets.values()} == {32}
    assert set(sets["au"]["databases"]) == {"synth_disfa", "synth_bp4d", "synth_emotionet"}
    expr_only = {s["name"]: s["batch_size"] for s in label_sets(preset, 128, ("expr",))}
    assert expr_only == {"expr": 64, "expr+va": 64}
    assert {s["name"] for s in label_sets(preset, 128, ("au",))} == {"au"}


def test_single_task_networks_train_as_many_steps_as_the_multi_task_one(synth, tmp_path):
    preset, data = synth
    plan = run_plan(preset, data, tmp_path, SETTINGS["full"])
    by = {(p["label"], p["seed"]): p["config"]["train"] for p in plan}
    n_au = sum(d["sizes"]["train"] for d in preset["databases"] if d["name"] in
               ("synth_disfa", "synth_bp4d", "synth_emotionet"))
    mt_steps = SETTINGS["full"]["epochs"] * -(-n_au // 32)
    for label in ("ST expr", "ST au", "ST va", "scarce: ST expr"):
        st = by[(label, 0)]
        assert st["max_steps"] == mt_steps, label
        assert st["epochs"] * 1 >= 1 and st["eval_every"] >= 1
    assert "max_steps" not in by[("no coupling", 0)]


def test_resume_continues_only_a_run_with_the_same_configuration(synth, tmp_path, monkeypatch):
    """A run folder left by another configuration (a changed plan) starts over instead of resuming."""
    import facebehavior.evaluation.report as report_mod
    import facebehavior.evaluation.run as run_mod
    import facebehavior.training.trainer as trainer_mod
    from facebehavior.config import config_to_yaml, load_config

    preset, data = synth
    cfg = run_plan(preset, data, tmp_path, {**SETTINGS["quick"], "size": "quick"})[0]["config"]
    calls = []

    class Result:
        run_dir, best_checkpoint, seconds, history = Path(cfg["out_dir"]), "ckpt", 1.0, []

    monkeypatch.setattr(trainer_mod, "train", lambda c, resume, say: calls.append(resume) or Result())
    monkeypatch.setattr(run_mod, "evaluate_run", lambda *a, **k: tmp_path / "metrics.json")
    monkeypatch.setattr(report_mod, "load_results", lambda p: {})
    run_dir = Path(cfg["out_dir"])
    (run_dir / "checkpoints" / "last").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config_to_yaml(load_config(base=cfg)))
    affect.train_and_evaluate(cfg, plots=False, resume=True)
    (run_dir / "checkpoints" / "last").mkdir(parents=True, exist_ok=True)
    (run_dir / "config.yaml").write_text("something else\n")
    affect.train_and_evaluate(cfg, plots=False, resume=True)
    assert calls == [True, False]
    assert not (run_dir / "config.yaml").exists()  # the old folder was cleared for the fresh run


def test_a_resumed_run_reports_the_time_of_every_session(synth, tmp_path, monkeypatch):
    """The seconds a run records sum its sessions (timing.json in its folder): a run interrupted after
    ten minutes and resumed does not claim to have taken only its last session."""
    import facebehavior.evaluation.report as report_mod
    import facebehavior.evaluation.run as run_mod
    import facebehavior.training.trainer as trainer_mod
    from facebehavior.config import config_to_yaml, load_config

    preset, data = synth
    cfg = run_plan(preset, data, tmp_path, {**SETTINGS["quick"], "size": "quick"})[0]["config"]
    run_dir = Path(cfg["out_dir"])

    class Result:
        best_checkpoint, seconds, history = "ckpt", 1.0, []

    Result.run_dir = run_dir
    monkeypatch.setattr(trainer_mod, "train", lambda c, resume, say: Result())
    monkeypatch.setattr(run_mod, "evaluate_run", lambda *a, **k: tmp_path / "metrics.json")
    monkeypatch.setattr(report_mod, "load_results", lambda p: {})
    (run_dir / "checkpoints" / "last").mkdir(parents=True)
    (run_dir / "config.yaml").write_text(config_to_yaml(load_config(base=cfg)))
    (run_dir / "timing.json").write_text(json.dumps({"sessions": [{"seconds": 600.0, "finished": False}]}))
    assert affect.train_and_evaluate(cfg, plots=False, resume=True)["seconds"] >= 600.0
    assert affect.train_and_evaluate(cfg, plots=False, resume=False)["seconds"] < 600.0  # a fresh run: its own


def test_demo_with_balancing_adds_the_three_rows_its_budget_leaves_out(synth, tmp_path):
    preset, data = synth
    plan = run_plan(preset, data, tmp_path, {**SETTINGS["demo"], "rows": "demo_balancing"})
    demo = run_plan(preset, data, tmp_path, SETTINGS["demo"])
    labels = [p["label"] for p in plan]
    assert {p["slug"] for p in demo} < {p["slug"] for p in plan}  # the demo's runs are the same runs
    for extra in ("PCGrad", "uncertainty + soft co-annotation + distr-matching",
                  "PCGrad + soft co-annotation + distr-matching"):
        assert labels.count(extra) == SETTINGS["demo"]["seeds"]
    same = {p["slug"]: p["config"] for p in demo}
    assert all(p["config"] == same[p["slug"]] for p in plan if p["slug"] in same)
