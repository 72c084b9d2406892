"""`facebehavior demo --quick`: the whole affect study end to end on a small SynthFace preset."""

from __future__ import annotations

import json

import pytest

from facebehavior.cli.main import main
from facebehavior.studies.affect import DEMO_ROWS, VARIANTS


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_quick_demo_writes_the_table_verdicts_and_figures(tmp_path, capsys):
    out, data = tmp_path / "demo", tmp_path / "synthface"
    assert main(["demo", "--quick", "--out", str(out), "--data", str(data)]) == 0
    report = (out / "report.md").read_text()
    for label, _ in VARIANTS:
        assert f"| {label} |" in report
    assert "(3×) ST-FaceBehaviorNet" in report and "synth_gft (unseen)" in report
    assert "Differences to the baseline" in report and "*ceiling (true AUs)*" in report
    summary = json.loads((out / "report.json").read_text())
    assert len(summary["runs"]) == len(DEMO_ROWS) == len(VARIANTS) + 1 + 3  # + uncertainty weighting + 3 ST
    assert "| uncertainty weighting |" in report and "## Negative transfer" in report
    assert (out / "figures" / "negative_transfer.png").stat().st_size > 1000
    assert {c["variant"] for c in summary["negative_transfer"]} == {label for label, _ in VARIANTS} | {
        "uncertainty weighting"}
    # Every coupling run was evaluated on every test database with that database's own metric.
    for run in summary["runs"]:
        if run["group"] == "coupling":
            assert run["results"]["synth_rafdb"]["expr"]["primary"] == "mean_diag"
            assert run["results"]["synth_disfa"]["au"]["primary"] == "f1"
            assert run["results"]["synth_afewva"]["va"]["primary"] == "ccc"
    assert (out / "figures" / "variants.png").stat().st_size > 1000
    assert (out / "figures" / "learning_curves.png").stat().st_size > 1000
    # the summary keeps its layout (row → column → mean/std/n) and every column has its ceiling
    assert set(summary["summary"]["no coupling"]["synth_rafdb expr mean_diag"]) == {"mean", "std", "n"}
    assert set(summary["ceiling"]) == {c[3] for c in summary["columns"]}
    assert summary["ceiling"]["synth_rafdb expr mean_diag"]["chance"] < summary["ceiling"][
        "synth_rafdb expr mean_diag"]["ceiling"]
    assert all(run["curve"] for run in summary["runs"])  # a learning curve per run
    assert (out / "runs" / "no_coupling_s0" / "eval" / "figures" / "training_curves.png").is_file()
    # A second run reuses the cached data instead of generating it again.
    assert (data / "preset.json").is_file()
    # the versions the numbers came from, the lock file's digest included (run from the repository)
    assert summary["environment"]["torch"] and len(summary["environment"]["requirements_lock_sha256"]) == 12
    assert "requirements.lock " + summary["environment"]["requirements_lock_sha256"] in report
    # and the CPU, in the report and in every run's own record (a resumed study may change host)
    assert summary["environment"]["cpu"] and f"CPU {summary['environment']['cpu']}" in report
    run_record = json.loads((out / "results" / "no_coupling_s0.json").read_text())
    assert run_record["environment"]["cpu"] == summary["environment"]["cpu"]
