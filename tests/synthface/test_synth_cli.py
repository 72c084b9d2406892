"""`facebehavior synth` and the grid figure."""

import json

from PIL import Image

from facebehavior.cli.main import main
from facebehavior.synthface import save_grid
from facebehavior.synthface.grid import COLUMNS, LABEL_H


def test_synth_command_generates_then_reuses(tmp_path, capsys):
    out = tmp_path / "sf"
    args = ["synth", "--preset", "affect", "--out", str(out), "--size", "32", "--seed", "3",
            "--scale", "0.02", "--quick", "--workers", "1"]
    assert main(args) == 0
    meta = json.loads((out / "preset.json").read_text())
    assert meta["scale"] == 0.02 * 0.2 and meta["size"] == 32 and meta["seed"] == 3
    assert "images/s" in capsys.readouterr().out
    assert main(args) == 0
    assert "skipping generation" in capsys.readouterr().out


def test_synth_command_packs_shards_of_every_database(tmp_path, capsys):
    from facebehavior.data.shards import iter_samples

    out = tmp_path / "sf"
    args = ["synth", "--preset", "identity", "--out", str(out), "--size", "32", "--scale", "0.01",
            "--workers", "1", "--shards", "--shard-size", "50"]
    assert main(args) == 0
    index = json.loads((out / "synth_celeba" / "shards" / "index.json").read_text())
    rows = (out / "synth_celeba" / "manifest.csv").read_text().splitlines()[1:]
    assert index["total"] == len(rows) and index["skipped"] == 0
    assert [s["count"] for s in index["shards"]] == [50] * (len(rows) // 50) + ([len(rows) % 50] if len(rows) % 50 else [])
    image, meta = next(iter_samples(out / "synth_celeba" / "shards" / index["shards"][0]["name"]))
    assert image.shape == (32, 32, 3) and meta["path"] == "images/000000.png"
    assert "shard(s)" in capsys.readouterr().out
    assert main(["synth", "--out", str(out), "--shard-size", "0"]) == 2


def test_synth_command_reports_bad_size(tmp_path, capsys):
    assert main(["synth", "--out", str(tmp_path), "--size", "300"]) == 2
    assert "16..112" in capsys.readouterr().err


def test_grid_shows_expressions_aus_and_samples(tmp_path):
    path = save_grid(tmp_path / "grid.png", size=48)
    image = Image.open(path)
    tiles = 9 + 18 + 9  # expressions (padded), neutral + 17 AUs, one sample per database
    assert image.size == (COLUMNS * 48, tiles // COLUMNS * (48 + LABEL_H))
