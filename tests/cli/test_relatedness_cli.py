"""`facebehavior relatedness show|estimate`, called in-process."""

import numpy as np
import pandas as pd
import pytest

from facebehavior.cli.main import main
from facebehavior.relatedness import load_relatedness


def _table_lines(out: str) -> dict[str, list[str]]:
    return {line.split()[0]: line.split()[1:] for line in out.splitlines() if line.strip()}


def test_show_prints_the_du2014_table_and_its_notes(capsys):
    assert main(["relatedness", "show"]) == 0
    out = capsys.readouterr().out
    lines = _table_lines(out)
    header = lines["au1"]
    assert ["au1"] + header == [f"au{n}" for n in (1, 2, 4, 5, 6, 7, 9, 10, 12, 14, 15, 17, 20, 23, 24, 25, 26)]
    sadness = dict(zip(["au1"] + header, lines["sadness"]))
    assert (sadness["au1"], sadness["au4"], sadness["au6"], sadness["au15"], sadness["au17"]) == \
        ("0.6", "1", "0.5", "1", "0.67")
    assert set(lines["neutral"]) == {"0"}
    assert "note: AU 11 is not among the 17 predicted AUs and was dropped" in out


def test_show_binary_mode_and_other_builtin(capsys):
    assert main(["relatedness", "show", "--mode", "binary"]) == 0
    lines = _table_lines(capsys.readouterr().out)
    cols = ["au1"] + lines["au1"]
    assert dict(zip(cols, lines["happiness"]))["au6"] == "1"
    assert main(["relatedness", "show", "affwild2_empirical"]) == 0
    lines = _table_lines(capsys.readouterr().out)
    assert dict(zip(cols, lines["happiness"]))["au7"] == "0.83"


def test_show_writes_csv_and_plot(tmp_path, capsys):
    csv, png = tmp_path / "out" / "du.csv", tmp_path / "figs" / "du.png"
    csv.parent.mkdir()
    assert main(["relatedness", "show", "--csv", str(csv), "--plot", str(png)]) == 0
    out = capsys.readouterr().out
    assert f"wrote {csv}" in out and f"wrote {png}" in out
    np.testing.assert_allclose(load_relatedness(csv).weights, load_relatedness("du2014").weights, atol=1e-5)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000


def _manifest(tmp_path):
    rows = [
        {"expr": 4, "au6": 1, "au12": 1},
        {"expr": 4, "au6": 0, "au12": 1},
        {"expr": 4, "au6": None, "au12": 1},
        {"expr": 5, "au6": 1, "au12": 0},
        {"expr": 5},                       # expression only: not used
        {"au6": 1, "au12": 1},             # AUs only: not used
        {"expr": 5, "au6": 1, "au12": 1, "split": "val"},  # another split
    ]
    frame = pd.DataFrame(rows)
    frame["split"] = frame["split"].fillna("train") if "split" in frame else "train"
    frame.insert(0, "path", [f"{i}.png" for i in range(len(frame))])
    frame.insert(1, "database", "toy")
    path = tmp_path / "toy.csv"
    frame.to_csv(path, index=False)
    return path


def test_estimate_from_a_small_manifest(tmp_path, capsys):
    path, csv = _manifest(tmp_path), tmp_path / "est.csv"
    assert main(["relatedness", "estimate", "-m", str(path), "--rows", "happiness,5",
                 "--columns", "au6,au12", "--csv", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "estimated from 4 rows carrying both tasks (2 rows carry only one or none and were not used)" in out
    lines = _table_lines(out)
    assert lines["au6"] == ["au12"]
    assert [float(v) for v in lines["happiness"]] == pytest.approx([0.5, 1.0])   # AU6: 1 of 2 annotated
    assert [float(v) for v in lines["sadness"]] == pytest.approx([1.0, 0.0])
    assert "entries rest on fewer than 5 samples" in out
    rel = load_relatedness(csv)
    assert rel.weights.shape == (7, 17)
    assert rel.to_frame().loc["happiness", "au6"] == pytest.approx(0.5)
    assert main(["relatedness", "estimate", "-m", str(path), "--split", "all", "--rows", "sadness",
                 "--columns", "au12"]) == 0
    assert [float(v) for v in _table_lines(capsys.readouterr().out)["sadness"]] == pytest.approx([0.5])


def test_estimate_user_mistakes_exit_2(tmp_path, capsys):
    path = _manifest(tmp_path)
    assert main(["relatedness", "estimate", "-m", str(path), "--rows", "joy"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --rows: 'joy'") and "Traceback" not in err
    assert main(["relatedness", "estimate", "-m", str(path), "--multiclass", "au"]) == 2
    assert "must name a multiclass and a multilabel task" in capsys.readouterr().err
    only_expr = tmp_path / "expr.csv"
    pd.DataFrame({"path": ["a.png"], "database": ["x"], "split": ["train"], "expr": [1]}).to_csv(only_expr, index=False)
    assert main(["relatedness", "estimate", "-m", str(only_expr)]) == 2
    assert "no row carries both" in capsys.readouterr().err


def test_relatedness_without_action_prints_help(capsys):
    assert main(["relatedness"]) == 2
    assert "show" in capsys.readouterr().out


TABLE2_COLUMNS = ["5_o_Clock_Shadow", "Arched_Eyebrows", "Attractive", "Bangs", "Male", "Wearing_Lipstick", "Young"]


def _identity_manifest(tmp_path):
    """Three CelebA-style identities (index 0, 1, 999 = CelebA ids 1, 2, 1000) with all 40 attributes."""
    from facebehavior.labels import CELEBA_ATTRIBUTES

    # (identity index, CelebA id, images, {attribute: images with it on})
    people = [(0, 1, 29, {"5_o_Clock_Shadow": 10, "Arched_Eyebrows": 1, "Male": 29, "Young": 20}),
              (1, 2, 8, {"Attractive": 7, "Bangs": 2, "Wearing_Lipstick": 4, "Young": 8}),
              (999, 1000, 22, {"Arched_Eyebrows": 5, "Attractive": 22, "Wearing_Lipstick": 22, "Young": 22})]
    rows = []
    for index, celeba_id, n, on in people:
        for i in range(n):
            row = {a: 0 for a in CELEBA_ATTRIBUTES}
            row.update({a: int(i < k) for a, k in on.items()})
            rows.append({"identity": index, "subject": celeba_id, "split": "train", **row})
        # a validation image with every attribute on: must not count towards the training table
        rows.append({"identity": index, "subject": celeba_id, "split": "val", **{a: 1 for a in CELEBA_ATTRIBUTES}})
    frame = pd.DataFrame(rows)
    frame.insert(0, "path", [f"{i:06d}.jpg" for i in range(len(frame))])
    frame.insert(1, "database", "celeba")
    path = tmp_path / "celeba.csv"
    frame.to_csv(path, index=False)
    return path


def test_estimate_prints_table2_for_identities_and_attributes(tmp_path, capsys):
    from pathlib import Path

    config = Path(__file__).resolve().parents[2] / "configs" / "paper_celeba.yaml"
    path = _identity_manifest(tmp_path)
    assert main(["relatedness", "estimate", "-c", str(config), "-m", str(path), "--multiclass", "identity",
                 "--multilabel", "attributes", "--rows", "0,1,999", "--columns", ",".join(TABLE2_COLUMNS)]) == 0
    out = capsys.readouterr().out
    assert "estimated from 59 rows carrying both tasks" in out
    lines = [line.split() for line in out.splitlines()]
    assert ["identity", *TABLE2_COLUMNS] in lines  # the header, rows labelled by CelebA's own ids
    rows = {f"{line[0]} {line[1]}": line[2:] for line in lines if line and line[0] == "#"}
    assert rows == {
        "# 1": ["0.34483", "0.03448", "0.00000", "0.00000", "1.00000", "0.00000", "0.68966"],
        "# 2": ["0.00000", "0.00000", "0.87500", "0.25000", "0.00000", "0.50000", "1.00000"],
        "# 1000": ["0.00000", "0.22727", "1.00000", "0.00000", "0.00000", "1.00000", "1.00000"],
    }
    # identities are picked by index or by label; without one-to-one subjects rows keep their labels
    frame = pd.read_csv(path).drop(columns="subject")
    frame.to_csv(path, index=False)
    assert main(["relatedness", "estimate", "-c", str(config), "-m", str(path), "--multiclass", "identity",
                 "--multilabel", "attributes", "--rows", "id999", "--columns", "Young,Male"]) == 0
    assert _table_lines(capsys.readouterr().out)["id999"] == ["1.00000", "0.00000"]
