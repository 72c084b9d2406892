"""Zero-shot compound expressions from a trained network's outputs (eq. 8 of the paper).

For each class c the candidate score is

    C_s(c) = I_au(c) + F_emo(c) + D_va(c)

- I_au: the mean predicted probability of the class's AUs (prototypical and observational, Du et
  al.; AU 11 is not predicted and is dropped). ``au_weighting="weighted"`` weights observational
  AUs by their annotator fraction w instead (the paper's default is the unweighted mean).
- F_emo: p(emo1) + p(emo2) of the two component emotions. A basic class in a mixed set (EmotioNet)
  scores 2·p(emo), the same 0..2 scale as two components, with I_au over its own Du AUs.
- D_va: 1 if the predicted valence is > 0, only for classes that mix in happiness (happily
  surprised, happily disgusted; happiness itself in a mixed set); no D term for the others.

The prediction is the arg-max. Everything is a matrix product over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from facebehavior.compound.classes import ClassSet, resolve_classes
from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import AU_NAMES, EXPRESSIONS, VA_NAMES

CANONICAL = {"expr": EXPRESSIONS, "au": AU_NAMES, "va": VA_NAMES}


def canonical_outputs(outputs: dict, tasks=None) -> dict[str, np.ndarray]:
    """The ``expr`` (N, 7), ``au`` (N, 17) and, if present, ``va`` (N, 2) arrays in canonical label order.

    `tasks` (the model's `TaskSpec`s) lets outputs whose labels come in another order be re-ordered
    by name; without it the canonical order is assumed and only shapes are checked.
    """
    specs = {t.name: t for t in tasks or []}
    out = {}
    for name, labels in CANONICAL.items():
        if name not in outputs:
            if name == "va":
                continue
            raise FaceBehaviorError(f"zero-shot compound scores need the model's {name!r} output (probabilities over "
                                    f"{len(labels)} labels); got outputs {sorted(outputs)}")
        arr = np.asarray(outputs[name], dtype=np.float64)
        if name in specs:
            have = list(specs[name].labels)
            missing = [lab for lab in labels if lab not in have]
            if missing:
                raise FaceBehaviorError(f"the model's {name!r} task lacks labels {missing}; zero-shot needs "
                                        f"{list(labels)}")
            arr = arr[:, [have.index(lab) for lab in labels]]
        if arr.ndim != 2 or arr.shape[1] != len(labels):
            raise FaceBehaviorError(f"output {name!r} has shape {arr.shape}; expected (N, {len(labels)}) "
                                    f"in the order {list(labels)}")
        if not np.isfinite(arr).all():
            bad = int(np.flatnonzero(~np.isfinite(arr).all(1))[0])
            raise FaceBehaviorError(f"output {name!r} is not finite (first at row {bad}); the model may have diverged")
        out[name] = arr
    n = {k: v.shape[0] for k, v in out.items()}
    if len(set(n.values())) > 1:
        raise FaceBehaviorError(f"outputs have different numbers of rows: {n}")
    return out


@dataclass
class ZeroShotEvidence:
    """The three terms of eq. 8 per sample and class, and the inputs they came from."""

    classes: ClassSet
    au_matrix: np.ndarray          # (C, 17) rows averaging the class's AU probabilities
    i_au: np.ndarray               # (N, C)
    f_emo: np.ndarray              # (N, C)
    d_va: np.ndarray               # (N, C); 0 where the class has no valence term
    au: np.ndarray                 # (N, 17) AU probabilities
    expr: np.ndarray               # (N, 7) expression probabilities
    valence: np.ndarray | None     # (N,) or None when the model has no valence output
    notes: list[str] = field(default_factory=list)

    @property
    def scores(self) -> np.ndarray:
        return self.i_au + self.f_emo + self.d_va

    def explain(self, i: int, top_aus: int = 3, c: int | None = None) -> dict:
        """Why sample `i` got class `c` (default: its prediction): the terms, the AUs that contributed
        most to I_au, the component emotion probabilities and the valence term."""
        scores = self.scores[i]
        c = int(scores.argmax()) if c is None else int(c)
        cs = self.classes
        members = np.flatnonzero(self.au_matrix[c])
        contribution = self.au_matrix[c, members] * self.au[i, members]
        order = members[np.argsort(-contribution, kind="stable")][:top_aus]
        has_d = bool(cs.valence_term[c])
        return {
            "compound": cs.names[c], "score": float(scores[c]),
            "terms": {"i_au": float(self.i_au[i, c]), "f_emo": float(self.f_emo[i, c]),
                      "d_va": float(self.d_va[i, c]) if has_d else None},
            "aus": [{"au": AU_NAMES[j], "probability": float(self.au[i, j]),
                     "table_weight": float(cs.au_weights[c, j]),
                     "contribution": float(self.au_matrix[c, j] * self.au[i, j])} for j in order],
            "emotions": {e: float(self.expr[i, EXPRESSIONS.index(e)]) for e in cs.components[c]},
            "valence": None if self.valence is None else float(self.valence[i]),
            "valence_term": (None if not has_d or self.valence is None else int(self.d_va[i, c])),
        }


def zero_shot_scores(probs: dict, classes="rafdb", au_weighting: str = "binary",
                     tasks=None) -> tuple[np.ndarray, ZeroShotEvidence]:
    """Eq. 8 candidate scores (N, C) for every sample and class, and the evidence behind them.

    `probs`: the model's activated outputs — ``expr`` (N, 7) softmax, ``au`` (N, 17) sigmoid,
    ``va`` (N, 2) values (see `facebehavior.evaluation.predict.predict_table`). `classes`: a named
    set, a comma-separated list of Du et al. rows or a `ClassSet`. Without a ``va`` output the
    valence term is 0 for every class (noted in `evidence.notes`).
    """
    cs = resolve_classes(classes)
    x = canonical_outputs(probs, tasks)
    a = cs.au_matrix(au_weighting)
    i_au = x["au"] @ a.T
    f_emo = x["expr"] @ cs.emotion_weights.T.astype(np.float64)
    notes = list(cs.notes)
    valence = x["va"][:, 0] if "va" in x else None
    if valence is None:
        d_va = np.zeros_like(i_au)
        if cs.valence_term.any():
            notes.append("the model has no 'va' output: the valence term D_va is 0 for every class")
    else:
        d_va = (valence > 0)[:, None] * cs.valence_term[None, :].astype(np.float64)
    evidence = ZeroShotEvidence(cs, a, i_au, f_emo, d_va, x["au"], x["expr"], valence, notes)
    return evidence.scores, evidence


def predict_compound(probs: dict, classes="rafdb", au_weighting: str = "binary", tasks=None) -> np.ndarray:
    """Arg-max class index (N,) of eq. 8."""
    scores, _ = zero_shot_scores(probs, classes, au_weighting, tasks)
    return scores.argmax(1)


def explain(probs: dict, classes="rafdb", au_weighting: str = "binary", top_aus: int = 3,
            tasks=None) -> list[dict]:
    """One dict per sample: the predicted class, its score and terms, the top contributing AUs
    (probability, table weight, contribution to I_au), the component emotion probabilities and the
    valence term (None for classes without one)."""
    _, evidence = zero_shot_scores(probs, classes, au_weighting, tasks)
    return [evidence.explain(i, top_aus) for i in range(evidence.i_au.shape[0])]


def compound_columns(outputs: dict, classes="rafdb", au_weighting: str = "binary"):
    """Columns ``compound`` (predicted class name) and ``compound_score`` (its eq. 8 score) for a
    table of per-face outputs (``expr``, ``au``, ``va`` arrays), e.g. to extend `analyze` output."""
    import pandas as pd

    scores, evidence = zero_shot_scores(outputs, classes, au_weighting)
    best = scores.argmax(1) if len(scores) else np.zeros(0, np.int64)
    names = np.asarray(evidence.classes.names, dtype=object)
    return pd.DataFrame({"compound": names[best] if len(best) else np.zeros(0, object),
                         "compound_score": scores[np.arange(len(best)), best]})
