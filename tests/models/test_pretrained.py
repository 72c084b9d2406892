"""Shipped models: found by name, checksum verified before use, the default when none is given."""

from __future__ import annotations

import json
import shutil

import pytest

from facebehavior.errors import CheckpointError
from tests.inference.conftest import checkpoint, checkpoint_no_va  # noqa: F401  (fixtures)


def _ship(checkpoint, weights_dir, sha=None):
    from facebehavior.models.pretrained import sha256_of

    shutil.copytree(checkpoint, weights_dir / "tiny")
    digest = sha or sha256_of(weights_dir / "tiny" / "model.safetensors")
    (weights_dir / "models.json").write_text(json.dumps({"models": {"tiny": {"folder": "tiny", "sha256": digest}}}))


def test_a_shipped_model_is_found_by_name_with_its_checksum_checked(checkpoint, tmp_path):
    from facebehavior.models.pretrained import shipped_checkpoint, shipped_models

    _ship(checkpoint, tmp_path)
    assert list(shipped_models(tmp_path)) == ["tiny"]
    assert shipped_checkpoint("tiny", tmp_path) == tmp_path / "tiny"
    with pytest.raises(CheckpointError, match="no shipped model named 'other'"):
        shipped_checkpoint("other", tmp_path)


def test_altered_shipped_weights_are_refused(checkpoint, tmp_path):
    from facebehavior.models.pretrained import shipped_checkpoint

    _ship(checkpoint, tmp_path, sha="0" * 64)
    with pytest.raises(CheckpointError, match="does not match the shipped"):
        shipped_checkpoint("tiny", tmp_path)


def test_the_package_ships_a_default_model_that_loads_without_arguments():
    from facebehavior.inference import FaceBehavior
    from facebehavior.models.pretrained import DEFAULT, shipped_models

    if DEFAULT not in shipped_models():
        pytest.skip("no default model shipped in this tree yet")
    fb = FaceBehavior.load()
    assert fb.info.domain == "real" and [t.name for t in fb.info.tasks] == ["expr"]


def test_ship_checkpoint_records_checksum_hidden_heads_and_preprocessing(checkpoint, tmp_path):
    from facebehavior.inference.backends import load_backend
    from facebehavior.models.pretrained import shipped_checkpoint, shipped_models, ship_checkpoint
    from facebehavior.models.preprocessing import Preprocessing

    prep = Preprocessing(image_size=40, crop="fer2013", grayscale=True, flip_average=True).to_dict()
    folder = ship_checkpoint(checkpoint, "my-model", {"summary": "test"}, tmp_path, preprocessing=prep,
                             hidden_tasks=["va"])
    assert shipped_models(tmp_path)["my-model"]["summary"] == "test"
    assert shipped_checkpoint("my-model", tmp_path) == folder
    meta = json.loads((folder / "meta.json").read_text())
    assert meta["config"]["data"]["train"] == [] and meta["config"]["out_dir"] is None  # no local paths
    info = load_backend(folder).info
    assert [t.name for t in info.tasks] == ["expr", "au"] and info.preprocessing == Preprocessing(**prep)


def test_an_ensemble_checkpoint_averages_its_members_logits_and_exports(checkpoint, checkpoint_no_va, tmp_path):
    import torch

    from facebehavior.inference.onnx_export import export_onnx
    from facebehavior.models.multitask import EnsembleNet
    from facebehavior.models.pretrained import ensemble_checkpoint
    from facebehavior.models.checkpoint import load_model, read_meta

    out = ensemble_checkpoint([checkpoint, checkpoint_no_va], tmp_path / "ens")
    model, meta, cfg = load_model(out)
    assert isinstance(model, EnsembleNet) and cfg.model.members == 2 and len(meta.ensemble_of) == 2
    single, _, _ = load_model(checkpoint)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(model(x)["expr"], single(x)["expr"])  # both members hold the same weights
    assert read_meta(out).input_record() == read_meta(checkpoint).input_record()
    assert max(export_onnx(out, tmp_path / "ens.onnx")["max_abs_diff"].values()) < 1e-4


def test_an_ensemble_takes_members_that_differ_only_in_how_a_head_is_shown(checkpoint, tmp_path):
    """A run made before `output: false` existed and one made after have the same heads."""
    from facebehavior.models.pretrained import ensemble_checkpoint

    other = tmp_path / "other"
    shutil.copytree(checkpoint, other)
    meta = json.loads((other / "meta.json").read_text())
    for t in meta["tasks"]:
        t["output"] = t["name"] != "va"
    (other / "meta.json").write_text(json.dumps(meta))
    assert (ensemble_checkpoint([checkpoint, other], tmp_path / "ens") / "model.safetensors").is_file()
    meta["tasks"][0]["labels"] = list(reversed(meta["tasks"][0]["labels"]))
    (other / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="tasks differ"):
        ensemble_checkpoint([checkpoint, other], tmp_path / "ens2")


def test_an_ensemble_refuses_members_of_other_shapes(checkpoint, tmp_path):
    from facebehavior.models.pretrained import ensemble_checkpoint

    other = tmp_path / "other"
    shutil.copytree(checkpoint, other)
    meta = json.loads((other / "meta.json").read_text())
    meta["config"]["model"]["widths"] = [8, 8, 8, 8]
    (other / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="network shape"):
        ensemble_checkpoint([checkpoint, other], tmp_path / "ens")


def test_splitting_an_ensemble_gives_back_each_members_weights_and_predictions(checkpoint, checkpoint_no_va, tmp_path):
    import torch
    from safetensors.torch import load_file

    from facebehavior.models.checkpoint import load_model, read_meta
    from facebehavior.models.pretrained import ensemble_checkpoint, split_ensemble

    ens = ensemble_checkpoint([checkpoint, checkpoint_no_va], tmp_path / "ens")
    members = split_ensemble(ens, tmp_path / "split", commands=["train a", "train b"])
    assert [m.name for m in members] == ["member_0", "member_1"]
    for member, original in zip(members, [checkpoint, checkpoint_no_va]):
        got, want = load_file(member / "model.safetensors"), load_file(original / "model.safetensors")
        assert got.keys() == want.keys() and all(torch.equal(got[k], want[k]) for k in want)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    with torch.no_grad():
        torch.testing.assert_close(load_model(members[1])[0](x)["expr"], load_model(checkpoint_no_va)[0](x)["expr"])
    meta = read_meta(members[1])
    assert meta.ensemble_of is None and meta.member_of["index"] == 1 and meta.member_of["trained_by"] == "train b"
    # members re-combine into the same ensemble
    again = ensemble_checkpoint(members, tmp_path / "again")
    assert read_meta(again).member_of is None
    first, second = load_file(ens / "model.safetensors"), load_file(again / "model.safetensors")
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_splitting_refuses_a_single_network_and_a_wrong_number_of_commands(checkpoint, checkpoint_no_va, tmp_path):
    from facebehavior.models.pretrained import ensemble_checkpoint, split_ensemble

    with pytest.raises(CheckpointError, match="not an ensemble"):
        split_ensemble(checkpoint, tmp_path / "split")
    ens = ensemble_checkpoint([checkpoint, checkpoint_no_va], tmp_path / "ens")
    with pytest.raises(CheckpointError, match="1 commands given for 2 members"):
        split_ensemble(ens, tmp_path / "split", commands=["only one"])


def test_a_shipped_folder_is_known_by_its_name():
    from facebehavior.models.pretrained import DEFAULT, shipped_checkpoint, shipped_name

    assert shipped_name(shipped_checkpoint(DEFAULT)) == DEFAULT
    assert shipped_name("runs/x/checkpoints/best") is None
