"""configs/paper_celeba.yaml: the paper's CelebA setup loads, and its coupling works on imported data."""

from pathlib import Path

import numpy as np
import pytest
import torch

from facebehavior.config import load_config
from facebehavior.data.importers import import_database
from facebehavior.data.manifest import encode_labels
from facebehavior.labels import CELEBA_ATTRIBUTES
from facebehavior.losses.coupling import distribution_matching
from facebehavior.losses.objective import MultiTaskObjective
from facebehavior.training.coupling_setup import build_couplings
from facebehavior.data.manifest import load_split

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "configs" / "paper_celeba.yaml"
FIXTURE = REPO / "tests" / "fixtures" / "celeba"


def test_tasks_model_and_training_follow_the_paper():
    cfg = load_config(CONFIG)
    ids, attrs = cfg.task_specs()
    assert (ids.name, ids.kind, ids.size, ids.labels[0], ids.labels[-1]) == \
        ("identity", "multiclass", 10177, "id0", "id10176")
    assert (attrs.name, attrs.kind, attrs.labels) == ("attributes", "multilabel", CELEBA_ATTRIBUTES)
    assert attrs.columns == CELEBA_ATTRIBUTES  # the importer's column names
    assert (cfg.model.backbone, cfg.model.preset, cfg.data.image_size) == ("fbn", "paper", 112)
    assert (cfg.train.optimizer, cfg.train.momentum, cfg.train.lr) == ("sgd", 0.9, pytest.approx(1e-4))
    # the importer + `data prepare` output (docs/databases.md)
    assert cfg.data.train == cfg.data.test == ["data/celeba/aligned/manifest.csv"]


def test_only_distribution_matching_with_estimated_weighted_relatedness():
    (coupling,) = load_config(CONFIG).coupling
    assert (coupling.multiclass, coupling.multilabel, coupling.relatedness) == ("identity", "attributes", "estimate")
    dm = coupling.distribution_matching
    assert dm.enabled and dm.relatedness_mode == "weighted" and dm.form == "paper" and dm.grad_to == "both"
    # eq. 9 and 11 both sum over the 40 attributes; masked_bce averages them, so DM weighs 1/40
    assert dm.weight == pytest.approx(1 / 40)
    assert not coupling.coannotation.enabled and not coupling.soft_coannotation.enabled


def _import_fixture(tmp_path) -> Path:
    """The CelebA fixture (2 identities with ids 17 and 2880) imported with the paper's re-split."""
    import shutil

    root = tmp_path / "celeba"
    shutil.copytree(FIXTURE, root)
    for i in range(1, 9):
        (root / "img_align_celeba").mkdir(exist_ok=True)
        (root / "img_align_celeba" / f"{i:06d}.jpg").write_bytes(b"")
    import_database("celeba", root, tmp_path / "data", resplit=True)
    return tmp_path / "data" / "celeba.csv"


def test_coupling_is_estimated_from_the_training_split_of_an_imported_manifest(tmp_path):
    manifest = _import_fixture(tmp_path)
    cfg = load_config(CONFIG, [f"data.train=[{manifest}]", f"data.test=[{manifest}]"])
    tasks = cfg.task_specs()
    train = load_split(cfg.data.train, tasks, "train", cfg.data.root)
    labels = encode_labels(train.frame, tasks)
    (term,), (rel,) = build_couplings(cfg, tasks, labels)
    assert rel.weights.shape == (10177, 40) and "training annotations" in rel.source
    # identity 2880 is index 1 (sorted ids 17, 2880): 3 of its 5 images are in train after the
    # re-split; identity 17 keeps its one well-formed image (the fixture's 000007 line is malformed)
    frame = train.frame
    for index in (0, 1):
        rows = frame[frame["identity"] == index]
        assert len(rows) == (1 if index == 0 else 3)
        expected = rows[list(CELEBA_ATTRIBUTES)].to_numpy(float).mean(0)
        np.testing.assert_allclose(term.weights[index].numpy(), expected, atol=1e-6)
    assert not term.weights[2:].any()  # identities without training images relate to nothing

    objective = MultiTaskObjective(tasks, [term])
    logits = {"identity": torch.randn(4, 10177, requires_grad=True), "attributes": torch.randn(4, 40)}
    targets = {"identity": torch.tensor([0, 1, 1, 0]), "attributes": torch.randint(0, 2, (4, 40)).float()}
    losses = objective(logits, targets)
    # weighted mode: q mixes the estimated probabilities themselves, not their 0/1 support
    expected_dm = 0.025 * distribution_matching(logits["identity"], logits["attributes"], term.weights, "paper")
    assert losses["dm:identity-attributes"].item() == pytest.approx(expected_dm.item(), rel=1e-6)
    losses["total"].backward()
    assert torch.isfinite(logits["identity"].grad).all() and logits["identity"].grad.abs().sum() > 0
