"""Build coupling terms from config: load or estimate each pair's relatedness matrix."""

from __future__ import annotations

import numpy as np
import torch

from facebehavior.errors import ConfigError
from facebehavior.labels import TaskSpec
from facebehavior.losses.objective import CouplingTerm
from facebehavior.relatedness import Relatedness, estimate_relatedness, load_relatedness


def relatedness_for(coupling_cfg, tasks: dict[str, TaskSpec], train_labels: dict[str, np.ndarray]) -> Relatedness:
    a, b = tasks[coupling_cfg.multiclass], tasks[coupling_cfg.multilabel]
    if coupling_cfg.relatedness == "estimate":
        rel, _ = estimate_relatedness(train_labels[a.name], train_labels[b.name], a.labels, b.labels,
                                      source="estimated from the training annotations")
        return rel
    table = load_relatedness(coupling_cfg.relatedness)
    if not set(table.rows) & set(a.labels) or not set(table.cols) & set(b.labels):
        # a table over other label spaces would couple nothing: every loss term would be constant
        raise ConfigError(f"coupling {a.name}-{b.name}: relatedness {coupling_cfg.relatedness!r} has rows "
                          f"{list(table.rows)[:5]}... and columns {list(table.cols)[:5]}..., which share no label "
                          f"with tasks {a.name!r} and {b.name!r}; give a table over their labels or 'estimate'")
    return table.reindex(a.labels, b.labels)


def build_couplings(cfg, tasks: list[TaskSpec], train_labels: dict[str, np.ndarray]) -> tuple[list[CouplingTerm], list[Relatedness]]:
    by_name = {t.name: t for t in tasks}
    terms, tables = [], []
    for c in cfg.coupling:
        if not (c.coannotation.enabled or c.soft_coannotation.enabled or c.distribution_matching.enabled):
            continue
        rel = relatedness_for(c, by_name, train_labels)
        terms.append(CouplingTerm.from_config(c, torch.from_numpy(rel.weights)))
        tables.append(rel)
    return terms, tables
