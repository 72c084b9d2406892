"""evaluate_run end to end on a tiny checkpoint: a manifest without labels is an error, not an empty report."""

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from facebehavior.cli.main import main
from facebehavior.config import load_config
from facebehavior.errors import ManifestError
from facebehavior.evaluation.run import evaluate_run
from facebehavior.models import build_model
from facebehavior.models.checkpoint import CheckpointMeta, save_checkpoint

CONFIG = {"name": "evalrun", "tasks": [{"name": "expr", "kind": "multiclass", "labels": "@expressions"},
                                       {"name": "va", "kind": "regression", "labels": "@va", "range": [-1, 1]}],
          "data": {"image_size": 16}, "model": {"backbone": "fbn", "preset": "tiny", "widths": [4, 8], "depths": [1, 1]}}


@pytest.fixture
def checkpoint(tmp_path):
    cfg = load_config(base=CONFIG)
    torch.manual_seed(0)
    model = build_model(cfg.model, cfg.task_specs())
    meta = CheckpointMeta(config=cfg.to_dict(), tasks=[{"name": "expr"}, {"name": "va"}], trained_tasks=["expr", "va"])
    return save_checkpoint(tmp_path / "run" / "checkpoints" / "best", model, meta)


def _manifest(tmp_path, **labels):
    rng = np.random.default_rng(0)
    for i in range(4):
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(tmp_path / f"{i}.png")
    frame = pd.DataFrame({"path": [f"{i}.png" for i in range(4)], "database": "db", "split": "test", **labels})
    path = tmp_path / "m.csv"
    frame.to_csv(path, index=False)
    return path


def test_a_manifest_without_labels_is_an_error_naming_it_and_the_columns(checkpoint, tmp_path, capsys):
    manifest = _manifest(tmp_path, subject="s1")
    with pytest.raises(ManifestError) as err:
        evaluate_run(checkpoint, manifests=[str(manifest)], out_dir=tmp_path / "eval", plots=False)
    msg = str(err.value)
    assert str(manifest) in msg and "none of the 4 'test' row(s) carries a label" in msg
    assert "expr: column 'expr'" in msg and "va: columns 'valence', 'arousal'" in msg
    assert not (tmp_path / "eval").exists()
    assert main(["evaluate", "--checkpoint", str(checkpoint), "-m", str(manifest), "--no-plots",
                 "--out", str(tmp_path / "eval")]) == 2
    assert "carries a label" in capsys.readouterr().err


def test_a_manifest_with_labels_is_evaluated(checkpoint, tmp_path):
    manifest = _manifest(tmp_path, expr=[0, 1, 2, 3])
    report = evaluate_run(checkpoint, manifests=[str(manifest)], out_dir=tmp_path / "eval", plots=False)
    assert report.is_file() and "expr" in report.read_text()
