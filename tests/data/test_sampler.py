"""Heterogeneous batch composition (section 4.4): label sets, batch sizes, DDP shares, resume."""

import numpy as np
import pytest

from facebehavior.config import LabelSetConfig
from facebehavior.data.sampler import HeteroBatchSampler, LabelSet, assign_batch_sizes, group_label_sets
from facebehavior.errors import ConfigError


def _presence(n_au=600, n_va=300, n_expr=100, n_both=0, n_none=0):
    """Rows: AU only, VA only, EXPR only, EXPR+VA, nothing; databases named after the set."""
    n = n_au + n_va + n_expr + n_both + n_none
    kinds = np.array(["au"] * n_au + ["va"] * n_va + ["expr"] * n_expr + ["both"] * n_both + ["none"] * n_none)
    presence = {"expr": np.isin(kinds, ["expr", "both"]), "au": kinds == "au", "va": np.isin(kinds, ["va", "both"])}
    databases = np.array([{"au": "bp4d", "va": "affwild2", "expr": "rafdb", "both": "affectnet",
                           "none": "celeba"}[k] for k in kinds])
    assert len(databases) == n
    return presence, databases


def _sampler(sizes=(600, 300, 100), batch=100, seed=0, rank=0, world=2):
    presence, dbs = _presence(*sizes)
    sets, _ = group_label_sets(presence, dbs)
    assign_batch_sizes(sets, batch, world)
    return HeteroBatchSampler(sets, seed, rank, world)


def test_auto_grouping_by_carried_tasks_counts_unlabelled():
    presence, dbs = _presence(n_au=5, n_va=4, n_expr=3, n_both=2, n_none=1)
    sets, unlabelled = group_label_sets(presence, dbs)
    assert {s.name: len(s.indices) for s in sets} == {"au": 5, "va": 4, "expr": 3, "expr+va": 2}
    assert unlabelled == 1
    every = np.concatenate([s.indices for s in sets])
    assert len(every) == len(set(every)) == 14
    assert set(every) == set(np.flatnonzero(dbs != "celeba"))


def test_derived_batch_sizes_are_proportional_and_exhaust_all_sets_together():
    sampler = _sampler(world=1)
    assert sampler.composition() == {"au": 60, "expr": 10, "va": 30}
    assert sampler.steps_per_epoch == len(sampler) == 10
    for s in sampler.sets:
        assert len(s.indices) / s.batch_size == 10


def test_one_epoch_visits_every_sample_of_every_set_once_when_sizes_divide():
    sampler = _sampler(world=1)
    seen = np.concatenate([np.asarray(b) for b in sampler])
    assert len(seen) == 1000 and len(set(seen.tolist())) == 1000


def test_uneven_sets_still_cover_every_sample_and_steps_differ_by_at_most_one():
    presence, dbs = _presence(n_au=517, n_va=233, n_expr=71)
    sets, _ = group_label_sets(presence, dbs)
    assign_batch_sizes(sets, 64, world_size=1)
    sampler = HeteroBatchSampler(sets, seed=3)
    steps = [int(np.ceil(len(s.indices) / s.batch_size)) for s in sets]
    assert max(steps) - min(steps) <= 1
    batches = list(sampler)
    assert len(batches) == sampler.steps_per_epoch
    assert set(np.concatenate(batches).tolist()) == set(np.concatenate([s.indices for s in sets]).tolist())
    assert all(len(b) == sum(s.batch_size for s in sets) for b in batches)


def test_given_sizes_are_respected_and_sets_follow_databases():
    presence, dbs = _presence(n_au=2000, n_va=1240, n_expr=520)
    spec = [LabelSetConfig("AU-Set", ["bp4d"], 200), LabelSetConfig("VA-Set", ["affwild2"], 124),
            LabelSetConfig("EXPR-Set", ["rafdb"], 52)]
    sets, _ = group_label_sets(presence, dbs, spec)
    assign_batch_sizes(sets, 376, world_size=2)
    sampler = HeteroBatchSampler(sets, seed=0, rank=0, world_size=1)
    assert sampler.composition() == {"AU-Set": 200, "VA-Set": 124, "EXPR-Set": 52}
    first = np.asarray(next(iter(sampler)))
    assert (dbs[first[:200]] == "bp4d").all() and (dbs[first[200:324]] == "affwild2").all()
    assert (dbs[first[324:]] == "rafdb").all() and len(first) == 376


def test_label_set_spec_errors():
    presence, dbs = _presence(n_au=10, n_va=10, n_expr=10)
    with pytest.raises(ConfigError, match="matches no labelled"):
        group_label_sets(presence, dbs, [LabelSetConfig("x", ["nowhere"])])
    with pytest.raises(ConfigError, match="overlaps"):
        group_label_sets(presence, dbs, [LabelSetConfig("a", ["bp4d"]), LabelSetConfig("b", ["bp4d", "rafdb"])])
    with pytest.raises(ConfigError, match=r"10 labelled training rows belong to no set.*rafdb"):
        group_label_sets(presence, dbs, [LabelSetConfig("a", ["bp4d"]), LabelSetConfig("b", ["affwild2"])])


def test_deterministic_for_a_seed_and_epochs_differ():
    a, b = _sampler(seed=5), _sampler(seed=5)
    assert list(a) == list(b)
    first = list(a)
    a.set_epoch(1)
    assert list(a) != first
    assert list(_sampler(seed=6)) != first


def test_two_ranks_take_disjoint_equal_shares_of_each_global_batch():
    r0, r1 = _sampler(rank=0, world=2), _sampler(rank=1, world=2)
    sets = r0.sets
    for step, (b0, b1) in enumerate(zip(r0, r1)):
        assert len(b0) == len(b1) == sum(s.batch_size for s in sets) // 2
        assert not set(b0) & set(b1)
        start = 0
        for set_id, s in enumerate(sets):
            half = s.batch_size // 2
            union = set(b0[start:start + half]) | set(b1[start:start + half])
            assert union == set(r0.global_batch(set_id, step).tolist())
            start += half


def test_batch_size_not_divisible_by_world_size_is_a_config_error():
    with pytest.raises(ConfigError, match="not divisible"):
        HeteroBatchSampler([LabelSet("au", np.arange(10), 5)], seed=0, rank=0, world_size=2)
    given = [LabelSet("au", np.arange(10), 5)]
    with pytest.raises(ConfigError, match="not divisible"):
        assign_batch_sizes(given, 10, world_size=2)


def test_derived_sizes_are_rounded_to_the_world_size():
    sets = [LabelSet("a", np.arange(70), 0), LabelSet("b", np.arange(30), 0)]
    assign_batch_sizes(sets, 10, world_size=4)
    assert [s.batch_size for s in sets] == [4, 4]  # 7 → 4, 3 → 4 (at least one sample per rank)
    assert all(s.batch_size % 4 == 0 for s in sets)


def test_no_labelled_sets_is_a_config_error():
    with pytest.raises(ConfigError, match="no labelled training samples"):
        HeteroBatchSampler([], seed=0)


@pytest.mark.parametrize("start", [0, 3, 9])
def test_resume_mid_epoch_yields_exactly_the_remaining_batches(start):
    full = _sampler(seed=2)
    full.set_epoch(4)
    expected = list(full)[start:]
    resumed = _sampler(seed=2)
    resumed.set_epoch(4, start_step=start)
    assert len(resumed) == 10 - start
    assert list(resumed) == expected


@pytest.mark.parametrize("n,batch", [(10, 4), (23, 7), (100, 30)])
def test_a_batch_that_wraps_a_small_set_never_repeats_a_sample(n, batch):
    # a small set with a given batch size cycles many times per epoch: every seam is crossed
    big = LabelSet("big", np.arange(1000, 1000 + 40 * n), 4 * batch)
    small = LabelSet("small", np.arange(n), batch)
    sampler = HeteroBatchSampler([big, small], seed=1)
    seen = []
    for step in range(sampler.steps_per_epoch):
        taken = sampler.global_batch(1, step)
        assert len(set(taken.tolist())) == batch, f"step {step} repeats a sample: {sorted(taken)}"
        seen.extend(taken.tolist())
    for cycle in range(len(seen) // n):  # every permutation still covers the whole set once
        assert sorted(seen[cycle * n:(cycle + 1) * n]) == list(range(n))


def test_equal_shares_give_every_set_the_same_part_of_the_batch_and_small_sets_repeat():
    presence, dbs = _presence(n_au=517, n_va=233, n_expr=71)
    sets, _ = group_label_sets(presence, dbs)
    assign_batch_sizes(sets, 60, world_size=2, shares="equal")
    assert [s.batch_size for s in sets] == [20, 20, 20]
    sampler = HeteroBatchSampler(sets, seed=0)
    assert sampler.steps_per_epoch == int(np.ceil(517 / 20))  # the largest set sets the epoch
    batches = list(sampler)
    expr = next(s for s in sets if len(s.indices) == 71)
    drawn = np.concatenate([b[sets.index(expr) * 20:(sets.index(expr) + 1) * 20] for b in batches])
    assert set(drawn.tolist()) == set(expr.indices.tolist()) and len(drawn) > 5 * 71  # the small set repeats
    # a given size is kept and the others share what is left of the batch
    given, _ = group_label_sets(presence, dbs)
    given[0].batch_size = 30
    assign_batch_sizes(given, 60, world_size=1, shares="equal")
    assert [s.batch_size for s in given] == [30, 15, 15]


def test_row_shares_are_the_default_and_unchanged():
    presence, dbs = _presence(n_au=517, n_va=233, n_expr=71)
    a, _ = group_label_sets(presence, dbs)
    b, _ = group_label_sets(presence, dbs)
    assign_batch_sizes(a, 64, world_size=1)
    assign_batch_sizes(b, 64, world_size=1, shares="rows")
    assert [s.batch_size for s in a] == [s.batch_size for s in b] == [round(64 * len(s.indices) / 821) for s in a]
