"""metrics.json / report.md content and paper-style comparison tables."""

import json

import pytest

from facebehavior.errors import FaceBehaviorError
from facebehavior.evaluation.report import comparison_table, load_results, write_report

RESULTS = {
    "AffectNet": {"va": {"ccc": 4 / 7, "ccc/valence": 0.6, "ccc/arousal": 0.5428571, "primary": "ccc", "n": 120,
                         "n_labels": 2}},
    "DISFA": {"au": {"f1": 0.5, "f1/au1": 0.25, "f1/au2": 0.75, "accuracy": float("nan"), "primary": "f1",
                     "n": 40, "n_labels": 2}},
}
CONFUSION = {"RAF-DB": {"expr": {"labels": ["neutral", "anger"], "matrix": [[5, 1], [2, 7]]}},
             "CelebA": {"identity": {"skipped": "10177 classes is more than max_classes=50"}}}


def test_write_report_files(tmp_path):
    paths = write_report(RESULTS, tmp_path / "eval", "Run 7, test split",
                         extra={"checkpoint": "best.safetensors", "step": 1200, "confusion": CONFUSION})
    payload = json.loads(paths["json"].read_text())
    assert payload["title"] == "Run 7, test split"
    assert payload["results"]["DISFA"]["au"]["accuracy"] is None  # NaN stored as null, strict JSON
    assert payload["results"]["AffectNet"]["va"]["n"] == 120
    assert payload["extra"]["confusion"]["RAF-DB"]["expr"]["matrix"] == [[5, 1], [2, 7]]
    assert load_results(tmp_path / "eval") == payload["results"]

    md = paths["markdown"].read_text()
    assert md.startswith("# Run 7, test split")
    assert "- checkpoint: best.safetensors" in md and "- step: 1200" in md
    assert "| AffectNet | va | ccc | 0.571 | 120 |" in md  # overview row
    assert "### DISFA — au" in md and "| **f1** | 0.500 |" in md  # primary bolded, 3 decimals
    assert "| accuracy | – |" in md  # NaN shown as a dash
    assert "| label | f1 |" in md and "| au1 | 0.250 |" in md
    assert "| valence | 0.600 |" in md and "| arousal | 0.543 |" in md
    assert md.index("## Confusion matrices") > md.index("## DISFA")
    assert "| neutral | 5 | 1 |" in md and "not stored: 10177 classes" in md


def test_load_results_rejects_other_files(tmp_path):
    (tmp_path / "metrics.json").write_text('{"loss": 1}')
    with pytest.raises(FaceBehaviorError, match="no 'results'"):
        load_results(tmp_path)
    with pytest.raises(FaceBehaviorError, match="cannot read"):
        load_results(tmp_path / "absent.json")


def _run(ccc_v: float, f1: float | None = None) -> dict:
    res = {"aff-wild": {"va": {"ccc/valence": ccc_v}}}
    if f1 is not None:
        res["DISFA"] = {"au": {"f1": f1}}
    return res


def test_comparison_table_single_runs_and_seeds():
    columns = [("Aff-Wild", "va", "ccc/valence", "Aff-Wild CCC-V"), ("disfa", "au", "f1")]
    table = comparison_table({"no coupling": _run(0.52, 0.54),
                              "both losses": [_run(0.6, 0.5), _run(0.8, 0.7)],
                              "partial": [_run(0.6, 0.5), _run(0.7)]}, columns, bold_best=True)
    lines = table.strip().splitlines()
    assert lines[0] == "| method | Aff-Wild CCC-V | disfa f1 |"
    assert lines[2] == "| no coupling | 0.520 | 0.540 |"
    # mean 0.7, sample std of (0.6, 0.8) = 0.141; best mean in each column bolded
    assert lines[3] == "| both losses | **0.700 ± 0.141** | **0.600 ± 0.141** |"
    assert lines[4] == "| partial | 0.650 ± 0.071 | 0.500 ± 0.000 (1/2 runs) |"
    missing = comparison_table({"x": _run(0.5)}, columns)
    assert missing.strip().splitlines()[2] == "| x | 0.500 | – |"


def test_an_interrupted_report_write_keeps_the_previous_files(tmp_path, monkeypatch):
    from pathlib import Path

    paths = write_report({"db": {"expr": {"accuracy": 0.5, "primary": "accuracy", "n": 2}}}, tmp_path, "t")
    before = {k: p.read_text() for k, p in paths.items()}
    real = Path.write_text

    def dies_halfway(self, text, *args, **kwargs):
        real(self, text[:10], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        write_report({"db": {"expr": {"accuracy": 0.9, "primary": "accuracy", "n": 2}}}, tmp_path, "t")
    monkeypatch.undo()
    assert {k: p.read_text() for k, p in paths.items()} == before
