"""MultiTaskObjective: named task losses × λ, coupling terms by config, total = sum."""

import pytest
import torch

from facebehavior.config import CouplingConfig
from facebehavior.labels import TaskSpec, affect_tasks
from facebehavior.losses import ccc_loss, distribution_matching, masked_bce, multiclass_ce, soft_coannotation
from facebehavior.losses.objective import CouplingTerm, MultiTaskObjective
from facebehavior.relatedness import load_relatedness

NAN = float("nan")


def _batch(n: int = 6):
    g = torch.Generator().manual_seed(1)
    logits = {"expr": torch.randn(n, 7, generator=g), "au": torch.randn(n, 17, generator=g),
              "va": torch.rand(n, 2, generator=g) * 2 - 1}
    expr = torch.tensor([4, 5, -1, -1, -1, -1])
    au = torch.full((n, 17), NAN)
    au[2:4] = (torch.rand(2, 17, generator=g) > 0.5).float()
    va = torch.full((n, 2), NAN)
    va[4:] = torch.rand(2, 2, generator=g) * 2 - 1
    labels = {"expr": expr, "expr_soft": torch.full((n, 7), NAN), "au": au, "va": va}
    return logits, labels


def _rel() -> torch.Tensor:
    return torch.from_numpy(load_relatedness("du2014").weights)


def test_task_losses_named_weighted_and_summed():
    tasks = affect_tasks(weights=(1.0, 2.0, 0.5))
    logits, labels = _batch()
    out = MultiTaskObjective(tasks)(logits, labels)
    assert set(out) == {"expr", "au", "va", "total"}
    assert out["expr"].item() == pytest.approx(multiclass_ce(logits["expr"], labels["expr"], labels["expr_soft"]).item())
    assert out["au"].item() == pytest.approx(2.0 * masked_bce(logits["au"], labels["au"]).item(), rel=1e-6)
    assert out["va"].item() == pytest.approx(0.5 * ccc_loss(logits["va"], labels["va"]).item(), rel=1e-6)
    assert out["total"].item() == pytest.approx(sum(out[k].item() for k in ("expr", "au", "va")), rel=1e-6)


def test_mse_loss_is_used_when_declared():
    tasks = [TaskSpec("va", "regression", ("valence", "arousal"), loss="mse")]
    logits, labels = _batch()
    out = MultiTaskObjective(tasks)(logits, labels)
    keep = ~torch.isnan(labels["va"])
    expected = ((logits["va"] - torch.nan_to_num(labels["va"])) ** 2)[keep].mean()
    assert out["va"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_disabled_coupling_adds_no_key():
    tasks = affect_tasks()
    logits, labels = _batch()
    term = CouplingTerm.from_config(CouplingConfig(), _rel())
    out = MultiTaskObjective(tasks, [term])(logits, labels)
    assert set(out) == {"expr", "au", "va", "total"}


def test_enabled_couplings_add_weighted_named_terms_to_total():
    cfg = CouplingConfig()
    cfg.soft_coannotation.enabled, cfg.soft_coannotation.weight = True, 0.3
    cfg.distribution_matching.enabled, cfg.distribution_matching.weight = True, 2.0
    tasks = affect_tasks()
    logits, labels = _batch()
    out = MultiTaskObjective(tasks, [CouplingTerm.from_config(cfg, _rel())])(logits, labels)
    assert set(out) == {"expr", "au", "va", "sca:expr-au", "dm:expr-au", "total"}
    rel = _rel()
    sca = soft_coannotation(logits["expr"], labels["au"], rel, "paper", "zero")
    dm = distribution_matching(logits["expr"], logits["au"], (rel > 0).float())  # the config's defaults
    assert out["sca:expr-au"].item() == pytest.approx(0.3 * sca.item(), rel=1e-6)
    assert out["dm:expr-au"].item() == pytest.approx(2.0 * dm.item(), rel=1e-6)
    parts = [v.item() for k, v in out.items() if k != "total"]
    assert out["total"].item() == pytest.approx(sum(parts), rel=1e-6)


def test_dm_weighted_mode_and_sca_binary_weighting_use_the_right_matrix():
    cfg = CouplingConfig()
    cfg.soft_coannotation.enabled, cfg.soft_coannotation.weighting = True, "binary"
    cfg.distribution_matching.enabled, cfg.distribution_matching.relatedness_mode = True, "weighted"
    logits, labels = _batch()
    out = MultiTaskObjective(affect_tasks(), [CouplingTerm.from_config(cfg, _rel())])(logits, labels)
    rel = _rel()
    sca = soft_coannotation(logits["expr"], labels["au"], (rel > 0).float())
    dm = distribution_matching(logits["expr"], logits["au"], rel)
    assert out["sca:expr-au"].item() == pytest.approx(sca.item(), rel=1e-6)
    assert out["dm:expr-au"].item() == pytest.approx(dm.item(), rel=1e-6)


def test_coannotation_rewrites_labels_before_the_task_losses():
    from facebehavior.losses import coannotate

    cfg = CouplingConfig()
    cfg.coannotation.enabled = True
    tasks = affect_tasks()
    logits, labels = _batch()
    out = MultiTaskObjective(tasks, [CouplingTerm.from_config(cfg, _rel())])(logits, labels)
    assert set(out) == {"expr", "au", "va", "total"}  # co-annotation changes labels, not keys
    new_a, new_b, w = coannotate(labels["expr"], labels["au"], _rel(), "weighted")
    assert not torch.isnan(new_b[:2]).all()  # the happiness and sadness rows gained AU labels
    assert out["au"].item() == pytest.approx(masked_bce(logits["au"], new_b, w).item(), rel=1e-6)
    assert out["expr"].item() == pytest.approx(multiclass_ce(logits["expr"], new_a).item(), rel=1e-6)
    assert torch.isnan(labels["au"][:2]).all()  # the caller's labels are not modified in place


def test_total_backpropagates_to_all_logits():
    cfg = CouplingConfig()
    cfg.distribution_matching.enabled = True
    logits, labels = _batch()
    logits = {k: v.clone().requires_grad_(True) for k, v in logits.items()}
    out = MultiTaskObjective(affect_tasks(), [CouplingTerm.from_config(cfg, _rel())])(logits, labels)
    out["total"].backward()
    for k, v in logits.items():
        assert v.grad is not None and torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0, k


def _coupled(**sections) -> CouplingConfig:
    cfg = CouplingConfig()
    for name, options in sections.items():
        for key, value in {"enabled": True, **options}.items():
            setattr(getattr(cfg, name), key, value)
    return cfg


def _total(cfg: CouplingConfig, logits, labels) -> dict:
    return MultiTaskObjective(affect_tasks(), [CouplingTerm.from_config(cfg, _rel())])(logits, labels)


def test_coannotation_weight_scales_the_coannotated_labels():
    logits, labels = _batch()
    labels["expr"] = torch.tensor([4, 5, -1, -1, -1, -1])
    labels["au"][3] = 0.0
    labels["au"][3, [8, 15, 4]] = 1.0  # AU12, AU25, AU6: B → A co-annotates happiness
    off = MultiTaskObjective(affect_tasks())(logits, labels)
    zero, half, one = (_total(_coupled(coannotation={"weight": w}), logits, labels) for w in (0.0, 0.5, 1.0))
    assert one["total"].item() != pytest.approx(zero["total"].item())
    for k in ("expr", "au", "total"):  # weight 0: exactly the losses without co-annotation
        assert zero[k].item() == pytest.approx(off[k].item(), rel=1e-6)
    from facebehavior.losses import coannotate

    new_a, new_b, w = coannotate(labels["expr"], labels["au"], _rel(), "weighted")
    assert new_a[3] == 4  # happiness, co-annotated
    filled = torch.isnan(labels["au"]) & ~torch.isnan(new_b)
    assert half["au"].item() == pytest.approx(masked_bce(logits["au"], new_b, torch.where(filled, 0.5 * w, w)).item(),
                                              rel=1e-6)
    weights_a = torch.tensor([1.0, 1.0, 1.0, 0.5, 1.0, 1.0])
    assert half["expr"].item() == pytest.approx(multiclass_ce(logits["expr"], new_a, None, weights_a).item(), rel=1e-6)


def test_soft_coannotation_reads_only_the_database_au_labels():
    logits, labels = _batch()  # rows 0-1: expression only (co-annotation fills their AUs); rows 2-3: AUs
    both = _total(_coupled(coannotation={}, soft_coannotation={}), logits, labels)
    alone = _total(_coupled(soft_coannotation={}), logits, labels)
    assert both["sca:expr-au"].item() == pytest.approx(alone["sca:expr-au"].item(), rel=1e-6)
    expected = soft_coannotation(logits["expr"], labels["au"], _rel())
    assert both["sca:expr-au"].item() == pytest.approx(expected.item(), rel=1e-6)


def test_coupling_options_reach_the_losses():
    logits, labels = _batch()
    cfg = _coupled(soft_coannotation={"temperature": 0.2, "form": "kl"},
                   distribution_matching={"unlinked": "keep", "form": "paper", "grad_to": "both"})
    out = _total(cfg, logits, labels)
    binary = (_rel() > 0).float()
    sca = soft_coannotation(logits["expr"], labels["au"], _rel(), "kl", temperature=0.2)
    dm = distribution_matching(logits["expr"], logits["au"], binary, "paper", "both", "keep")
    assert out["sca:expr-au"].item() == pytest.approx(sca.item(), rel=1e-6)
    assert out["dm:expr-au"].item() == pytest.approx(dm.item(), rel=1e-6)
    assert dm.item() != pytest.approx(distribution_matching(logits["expr"], logits["au"], binary, "paper", "both",
                                                            "drop").item())


def test_coupling_term_holds_plain_options_not_the_config():
    from facebehavior.losses.objective import DistributionMatching

    term = CouplingTerm.from_config(_coupled(distribution_matching={"weight": 0.5}), _rel())
    assert term.coannotation is None and term.soft_coannotation is None
    assert term.distribution_matching == DistributionMatching(0.5, "bernoulli", "binary", "multiclass", "drop")
    with pytest.raises(TypeError):  # options are keyword-only: an old-style positional config is refused
        CouplingTerm("expr", "au", _rel(), CouplingConfig())


def test_loss_defaults_are_the_config_defaults():
    import inspect

    from facebehavior.config import DistributionMatchingConfig, SoftCoAnnotationConfig

    dm = inspect.signature(distribution_matching).parameters
    for name in ("form", "grad_to", "unlinked"):
        assert dm[name].default == getattr(DistributionMatchingConfig(), name), name
    sca = inspect.signature(soft_coannotation).parameters
    for name in ("form", "neutral", "temperature"):
        assert sca[name].default == getattr(SoftCoAnnotationConfig(), name), name
