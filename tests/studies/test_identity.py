"""`facebehavior demo --study identity`: Table 8 on SynthFace identities, planned, merged and run end to end."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from facebehavior.cli.main import main
from facebehavior.studies import identity
from facebehavior.studies.identity import (
    COLUMNS,
    FBN_ROWS,
    QUICK,
    TIMM_ROWS,
    run_plan,
    table_rows,
)

TABLE8_ROWS = [*TIMM_ROWS, *FBN_ROWS]


def _preset(n_ids: int = 20, attributes=("Male", "Young", "Eyeglasses")) -> dict:
    return {"databases": [{
        "name": "synth_celeba", "role": "identity", "manifest": "synth_celeba/manifest.csv",
        "sizes": {"train": 28 * n_ids, "val": 4 * n_ids, "test": 8 * n_ids},
        "subjects": {"train": n_ids, "val": n_ids, "test": n_ids},
        "task_specs": {"identity": {"kind": "multiclass", "labels": {"count": n_ids, "prefix": "id"}},
                       "attributes": {"kind": "multilabel", "labels": list(attributes)}}}]}


def test_plan_has_every_table8_network_with_its_budget(tmp_path):
    settings = dict(QUICK, seeds=2)
    plan = run_plan(_preset(), Path("/data"), tmp_path, settings)
    keys = sorted((p["key"], p["seed"]) for p in plan)
    fbn = ["mt", "mt_dm", "mt_dm_default", "st_attributes", "st_identity"]
    assert keys == sorted([(k, s) for k in fbn for s in (0, 1)] + [(n, 0) for n in TIMM_ROWS.values()])
    assert plan[0]["key"] == "vgg16"  # longest first
    by = {(p["key"], p["seed"]): p["config"] for p in plan}
    assert [t["name"] for t in by[("st_identity", 1)]["tasks"]] == ["identity"]
    assert by[("st_identity", 1)]["train"]["seed"] == 1 and by[("mt", 0)]["coupling"] == []
    (dm,) = by[("mt_dm", 0)]["coupling"]
    assert dm["relatedness"] == "estimate" and dm["distribution_matching"]["relatedness_mode"] == "weighted"
    assert dm["distribution_matching"]["weight"] == pytest.approx(1 / 3)  # 1/K: K = 3 attributes here
    # the paper's eq. 10-11 as written, and the library's default form next to it
    assert (dm["distribution_matching"]["form"], dm["distribution_matching"]["grad_to"],
            dm["distribution_matching"]["unlinked"]) == ("paper", "both", "keep")
    (default,) = by[("mt_dm_default", 0)]["coupling"]
    assert not {"form", "grad_to", "unlinked"} & set(default["distribution_matching"])
    assert default["distribution_matching"]["relatedness_mode"] == "weighted"
    vgg = by[("vgg16", 0)]
    assert vgg["model"]["backbone"] == "timm:vgg16" and vgg["train"]["max_steps"] == QUICK["timm_steps"]["vgg16"]
    assert vgg["data"]["val"] == [str(tmp_path / "no_validation.csv")] and vgg["coupling"] == []
    assert {c["data"]["image_size"] for c in by.values()} == {QUICK["size"]}  # one input size for every row


def _results(ids_acc: float, attr_acc: float, tasks=("identity", "attributes")) -> dict:
    per_task = {"identity": {"total_accuracy": ids_acc, "average_f1": ids_acc / 2},
                "attributes": {"total_accuracy": attr_acc, "average_f1": attr_acc / 2, "f1/Male": 0.5}}
    return {"synth_celeba": {t: per_task[t] for t in tasks}, "all": {}}


def test_single_task_networks_merge_per_seed_into_one_row():
    runs = [{"key": "st_identity", "seed": s, "results": _results(0.5 + s / 10, 0.0, ("identity",))} for s in (0, 1)]
    runs += [{"key": "st_attributes", "seed": s, "results": _results(0.0, 0.8 + s / 10, ("attributes",))}
             for s in (0, 1)]
    runs += [{"key": "mt", "seed": 0, "results": _results(0.6, 0.9)},
             {"key": "vgg16", "seed": 0, "results": _results(0.05, 0.7)}]
    rows = table_rows(runs)
    st = rows["(2×) ST-FaceBehaviorNet"]
    assert len(st) == 2  # one merged result per seed, in percent
    assert st[1]["synth_celeba"]["identity"]["total_accuracy"] == pytest.approx(60.0)
    assert st[1]["synth_celeba"]["attributes"]["total_accuracy"] == pytest.approx(90.0)
    assert rows["MT-VGG-16"][0]["synth_celeba"]["identity"]["total_accuracy"] == pytest.approx(5.0)
    assert rows["FaceBehaviorNet, distr-matching"] == []  # not run: an empty row, not an error
    assert "f1/Male" in st[0]["synth_celeba"]["attributes"]  # per-attribute values travel along


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_quick_demo_end_to_end(tmp_path, capsys):
    out, data = tmp_path / "demo_identity", tmp_path / "synthface_identity"
    assert main(["demo", "--study", "identity", "--quick", "--out", str(out), "--data", str(data)]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"identity demo finished in \d+\.\d min wall", printed)
    report = (out / "report.md").read_text()
    header = "| method | " + " | ".join(c[3] for c in COLUMNS) + " |"
    lines = report.splitlines()
    table = lines[lines.index(header) + 2:lines.index(header) + 2 + len(TABLE8_ROWS)]
    assert [line.split(" | ")[0].removeprefix("| ") for line in table] == TABLE8_ROWS  # Table 8's order
    assert "**reduced budget**" in report and "Wall time:" in report and "Did distribution matching help?" in report
    assert "| # 0 | " in report  # the estimated p(attr | id) excerpt
    summary = json.loads((out / "report.json").read_text())
    assert len(summary["runs"]) == 8 and summary["timing"]["seconds"] > 0
    cells = summary["summary"]
    for row in TABLE8_ROWS:
        assert all(0 <= cells[row][c[3]]["mean"] <= 100 for c in COLUMNS)
    chance = 100 / 20  # 20 identities at --quick
    assert cells["FaceBehaviorNet, no coupling"]["Ids Acc"]["mean"] > 3 * chance  # it learned something
    runs = {r["key"]: r for r in summary["runs"]}
    assert runs["vgg16"]["steps"] == QUICK["timm_steps"]["vgg16"]
    assert runs["mt_dm"]["results"]["synth_celeba"]["identity"]["primary"] == "total_accuracy"
    log = (out / "runs" / "mt_dm_s0" / "log.jsonl").read_text()
    assert '"loss/dm:identity-attributes"' in log  # the DM run did train with the coupling term
    assert not (out / "runs" / "vgg16_s0" / "checkpoints" / "best").exists()  # 0.5 GB not left behind
    assert (out / "runs" / "mt_s0" / "checkpoints" / "best" / "model.safetensors").is_file()
    assert (out / "figures" / "table8.png").stat().st_size > 1000
    assert identity.QUICK["scale"] <= 0.1  # keeps this test near a minute on 2 cores
