from pathlib import Path

import numpy as np
import pytest
import torch

from facebehavior.studies.ferplus_ensemble import ensemble_probabilities, score_subsets


def test_averaging_log_probabilities_equals_averaging_logits():
    logits = [torch.randn(5, 8) for _ in range(3)]
    expected = torch.softmax(torch.stack(logits).mean(0), 1).numpy()
    got = ensemble_probabilities([torch.log_softmax(x, 1).numpy() for x in logits])
    assert got == pytest.approx(expected, abs=1e-6)


def test_subsets_are_ranked_by_correct_answers_then_by_fewer_members():
    hard = np.array([0, 1, 1, -1])
    right = np.log(np.array([[0.9, 0.1], [0.1, 0.9], [0.1, 0.9], [0.5, 0.5]]))
    wrong = np.log(np.array([[0.2, 0.8], [0.8, 0.2], [0.6, 0.4], [0.5, 0.5]]))
    ranked = score_subsets({"a": right, "b": wrong, "c": right.copy()}, hard)
    assert len(ranked) == 7
    assert ranked[0]["members"] == ["a"] and ranked[0]["accuracy"] == 1.0 and ranked[0]["n"] == 3
    assert ranked[-1]["members"] == ["b"] and ranked[-1]["correct"] == 0
    assert [r["members"] for r in score_subsets({"a": right, "b": wrong}, hard, max_members=1)] == [["a"], ["b"]]


def test_a_candidate_is_a_recipe_folder_or_a_checkpoint_folder(tmp_path):
    import json

    from facebehavior.errors import CheckpointError
    from facebehavior.studies.ferplus_ensemble import run_checkpoint

    recipe = tmp_path / "recipe"
    recipe.mkdir()
    (recipe / "results.json").write_text(json.dumps({"run": {"checkpoint": "r/train/checkpoints/best", "command": "cmd"}}))
    assert run_checkpoint(recipe) == (Path("r/train/checkpoints/best"), "cmd")
    member = tmp_path / "member"
    member.mkdir()
    (member / "meta.json").write_text(json.dumps({"member_of": {"index": 0, "trained_by": "made so"}}))
    assert run_checkpoint(member) == (member, "made so")
    (member / "meta.json").write_text(json.dumps({}))
    assert run_checkpoint(member) == (member, f"checkpoint {member}")
    with pytest.raises(CheckpointError, match="neither"):
        run_checkpoint(tmp_path)
