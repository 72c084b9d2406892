"""Which finished FER+ runs to ship together: every subset of the runs scored as an ensemble on
FER+ valid (8-class majority accuracy), from each run's predictions made once.

An ensemble averages its members' logits (models/multitask.EnsembleNet). Averaging the members'
log-probabilities gives the same softmax (each member's log-softmax differs from its logits by a
per-image constant), so subsets are scored without running any network again. Test is never read.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path

import numpy as np

from facebehavior.errors import CheckpointError


def run_checkpoint(path: str | Path) -> tuple[Path, str]:
    """(checkpoint, command that trained it) of a candidate member: a finished `recipe ferplus`
    folder (its results.json names the best checkpoint and the command) or a checkpoint folder,
    such as a member split out of the shipped model (models/pretrained.split_ensemble)."""
    path = Path(path)
    if (path / "results.json").is_file():
        run = json.loads((path / "results.json").read_text())["run"]
        return Path(run["checkpoint"]), run["command"]
    if (path / "meta.json").is_file():
        member = json.loads((path / "meta.json").read_text()).get("member_of") or {}
        return path, member.get("trained_by") or f"checkpoint {path}"
    raise CheckpointError(f"{path}: neither a finished FER+ recipe folder (results.json) nor a checkpoint "
                          "folder (meta.json)")


def ensemble_probabilities(log_probs: list[np.ndarray]) -> np.ndarray:
    """softmax(mean of the members' log-probabilities) = the logit-averaging ensemble's output."""
    mean = np.mean(log_probs, axis=0)
    mean = mean - mean.max(1, keepdims=True)
    p = np.exp(mean)
    return p / p.sum(1, keepdims=True)


def score_subsets(log_probs: dict[str, np.ndarray], hard: np.ndarray, max_members: int | None = None) -> list[dict]:
    """Every non-empty subset of the runs (up to `max_members`), its accuracy on the rows with a
    label (hard ≥ 0) and how many of them it gets right; best first, fewer members first on a tie."""
    names, keep = list(log_probs), hard >= 0
    rows = []
    for k in range(1, (max_members or len(names)) + 1):
        for members in combinations(names, k):
            pred = ensemble_probabilities([log_probs[m][keep] for m in members]).argmax(1)
            correct = int((pred == hard[keep]).sum())
            rows.append({"members": list(members), "correct": correct, "n": int(keep.sum()),
                         "accuracy": correct / int(keep.sum())})
    return sorted(rows, key=lambda r: (-r["correct"], len(r["members"])))
