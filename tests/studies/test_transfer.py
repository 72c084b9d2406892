"""The negative-transfer report: each multi-task variant minus the single-task networks."""

import math

import numpy as np
import pytest

from facebehavior.studies.transfer import negative_transfer, plot_transfer, transfer_summary, transfer_table

COLS = [("synth_rafdb", "expr", "mean_diag", "raf expr"), ("synth_disfa", "au", "f1", "disfa au")]


def _res(expr: float | None, au: float | None) -> dict:
    out = {}
    if expr is not None:
        out["synth_rafdb"] = {"expr": {"mean_diag": expr}}
    if au is not None:
        out["synth_disfa"] = {"au": {"f1": au}}
    return out


def _table() -> dict:
    return {
        # helps expressions, hurts AUs, by clear margins over five seeds
        "mt": [_res(0.50 + d, 0.30 + d) for d in (0.0, 0.01, 0.02, 0.01, 0.0)],
        "st": [_res(0.40 + d, 0.45 + d) for d in (0.0, 0.02, 0.01, 0.0, 0.01)],
        "one seed": [_res(0.45, 0.45)],
        "scarce: mt": [_res(0.20 + d, 0.30) for d in (0.0, 0.01)],
        "scarce: st": [_res(0.25 + d, None) for d in (0.0, 0.01)],  # the scarce single-task net has no AUs
    }


def test_differences_and_intervals_against_the_matching_single_task_row():
    cells = negative_transfer(_table(), COLS, {"mt": "st", "one seed": "st", "scarce: mt": "scarce: st"})
    get = {(c["variant"], c["column"]): c for c in cells}
    raf, disfa = get[("mt", "raf expr")], get[("mt", "disfa au")]
    assert raf["diff"] == pytest.approx(0.10) and raf["low"] > 0  # positive transfer, interval above zero
    assert disfa["diff"] == pytest.approx(-0.15) and disfa["high"] < 0  # negative transfer
    assert raf["n"] == raf["n_single"] == 5
    one = get[("one seed", "raf expr")]
    assert one["diff"] == pytest.approx(0.45 - 0.408) and math.isnan(one["low"])  # one seed: no interval
    assert ("scarce: mt", "disfa au") not in get  # the scarce single-task row has no AU score to compare
    assert get[("scarce: mt", "raf expr")]["diff"] == pytest.approx(-0.05)


def test_table_summary_and_figure(tmp_path):
    cells = negative_transfer(_table(), COLS, {"mt": "st", "one seed": "st"})
    table = transfer_table(cells)
    assert table.splitlines()[0] == "| task on database | mt | one seed |"
    assert "**+0.100 [" in table and "**-0.150 [" in table and "[–, –]" in table
    lines = transfer_summary(cells)
    assert lines[0].startswith("- **mt**: worse than single-task on disfa au; better on raf expr")
    assert "0 of 2 cells have an interval" in lines[1]
    png = plot_transfer(cells, tmp_path / "nt.png")
    assert png.stat().st_size > 5000
    from PIL import Image

    assert np.asarray(Image.open(png)).shape[0] > 100
