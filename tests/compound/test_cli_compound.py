"""`facebehavior compound` end to end on a tiny network trained here on a few SynthFace images."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from facebehavior.cli.main import main
from facebehavior.compound import resolve_classes
from facebehavior.compound.classes import label_space
from facebehavior.compound.evaluate import compound_metrics, load_compound_rows


def test_compound_cli_writes_json_markdown_and_confusion(tiny_checkpoint, synth_dir, tmp_path, capsys):
    manifest = synth_dir / "synth_compound" / "manifest.csv"
    out = tmp_path / "zs"
    code = main(["compound", "--checkpoint", str(tiny_checkpoint), "-m", str(manifest), "--classes", "rafdb",
                 "--label-space", "synthface", "--out", str(out), "--explain", "3"])
    assert code == 0
    assert "mean_diag" in capsys.readouterr().out
    payload = json.loads((out / "compound.json").read_text())
    assert payload["classes"] == list(resolve_classes("rafdb").names)
    rows = payload["rows"]
    # SynthFace's classes outside RAF-DB's 11 (fearfully disgusted, appalled, hatred, awed) are left out, counted
    frame = pd.read_csv(manifest)
    names = [label_space("synthface").names[c] for c in frame.loc[frame["split"] == "test", "compound"]]
    outside = {n: names.count(n) for n in names if n not in resolve_classes("rafdb").names}
    assert rows["outside_class_set"] == outside and outside
    assert rows["used"] + sum(rows["outside_class_set"].values()) == rows["rows_in_split"]
    assert payload["metrics"]["n"] == rows["used"] and 0 <= payload["metrics"]["mean_diag"] <= 1
    assert any("AU 11" in n for n in payload["notes"])
    assert len(payload["explanations"]) == 3
    assert {"true", "compound", "aus", "emotions"} <= set(payload["explanations"][0])
    assert (out / "compound.md").read_text().startswith("# zero-shot compound")
    assert (out / "compound_confusion.png").stat().st_size > 1000


def test_compound_cli_needs_a_label_space_for_a_custom_list(tiny_checkpoint, synth_dir, capsys):
    manifest = synth_dir / "synth_compound" / "manifest.csv"
    code = main(["compound", "--checkpoint", str(tiny_checkpoint), "-m", str(manifest),
                 "--classes", "happily_surprised,awed"])
    assert code == 2 and "--label-space" in capsys.readouterr().err


def test_rows_map_onto_the_class_set_by_name(synth_dir):
    space = label_space("synthface")
    cs = resolve_classes("awed,happily_surprised")
    rows = load_compound_rows(synth_dir / "synth_compound" / "manifest.csv", space, cs, "test")
    truth = rows.manifest.frame["compound"].to_numpy(int)
    assert [cs.names[t] for t in rows.targets] == [space.names[v] for v in truth]


def test_metrics_mean_diagonal_f1_and_uar():
    m = compound_metrics([0, 0, 1, 1, 2], [0, 1, 1, 1, 0], ["a", "b", "c"])
    assert m["mean_diag"] == pytest.approx((0.5 + 1.0 + 0.0) / 3) and m["uar"] == m["mean_diag"]
    assert m["accuracy"] == pytest.approx(3 / 5)
    assert m["macro_f1"] == pytest.approx(np.mean([0.5, 0.8, 0.0]))  # a: tp 1, fp 1, fn 1; b: tp 2, fp 1
    assert m["confusion"] == [[1, 1, 0], [0, 2, 0], [1, 0, 0]]
