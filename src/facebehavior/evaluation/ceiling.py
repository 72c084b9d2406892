"""What SynthFace's data allow: the score of a model that perceives the generating AUs perfectly.

SynthFace writes every image's true AU intensities to `truth.csv`. A model that read them exactly
from the pixels would be limited only by how much the AUs say about each label, because the
generator draws expressions' AUs with probabilities (and spurious AUs), and valence/arousal with
noise around the expression's centroid. The *ceiling* of a (database, task, metric) cell is that
model's test score, fitted on the train split's truth and labels:

- expression: multinomial logistic regression on the 17 intensities and their presence
  indicators (standardised; balanced class weights where the metric is the mean diagonal, which
  weighs every class equally; the training prior where it is accuracy);
- valence/arousal: gradient-boosted trees (scikit-learn's HistGradientBoostingRegressor) on the
  same features: VA is the expression's centroid scaled by the expression's strength plus noise, a
  product a linear model misses (ridge: CCC-V 0.81 / CCC-A 0.69 on synth_affwild, trees 0.84 /
  0.74); the output is rescaled on the train split to the target's mean and spread (CCC punishes
  shrinkage; at matched moments CCC = Pearson r). For expressions the trees scored lower than the
  logistic regression (mean diagonal 0.70 vs 0.74 on synth_rafdb), so the regression is kept;
- AUs: the truth itself (present when the intensity is above 0), which is how SynthFace labels
  them: the ceiling is 1.0 by construction, shown so that every column has one.

A database with no train split (the unseen ones) is fitted on the train splits of the training
databases that label the task. A fitted model is a lower bound on the Bayes score, so the
ceiling is "what a simple reader of the true AUs reaches", not a proof that nothing scores higher. *Chance* is the best score without looking at the image: 1/K for the mean
diagonal, the train split's majority class for accuracy, "every annotated AU present" for F1
(the constant that maximises it), 0 for CCC (a constant prediction).

`ceiling_scores(preset, data_dir)` returns {database: {task: {metric key: {"ceiling", "chance"}}}}
with the metric keys the study reports use (`ccc/valence`, `ccc/arousal` for CCC);
`ceiling_columns` lays it out per report column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facebehavior.evaluation.metrics import accuracy, ccc, mean_diag_confusion, mean_f1
from facebehavior.labels import AUS, EXPRESSIONS

AU_COLUMNS = [f"au{a}_intensity" for a in AUS]


def _read(path: Path):
    import pandas as pd

    return pd.read_csv(path)


def features(truth) -> np.ndarray:
    """(N, 34): the 17 true intensities and their presence indicators."""
    x = truth[AU_COLUMNS].to_numpy(np.float64)
    return np.concatenate([x, (x > 0).astype(np.float64)], 1)


def _expr_model(x, y, balanced: bool):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(
        C=1.0, max_iter=2000, class_weight="balanced" if balanced else None)).fit(x, y)


def _va_model(x, y):
    from sklearn.ensemble import HistGradientBoostingRegressor

    model = HistGradientBoostingRegressor(max_iter=200, learning_rate=0.05, random_state=0).fit(x, y)
    fit = model.predict(x)
    scale = y.std() / max(fit.std(), 1e-9)
    shift = y.mean() - scale * fit.mean()
    return lambda z: shift + scale * model.predict(z)


def _labels(manifest, truth):
    """Manifest rows joined to their truth rows by path (the same images, same order in SynthFace)."""
    return manifest.merge(truth[["path", *AU_COLUMNS]], on="path", how="inner", validate="one_to_one")


def ceiling_scores(preset: dict, data_dir: str | Path) -> dict:
    data_dir = Path(data_dir)
    tables = {}
    for db in preset["databases"]:
        if db["role"] not in ("train", "unseen"):
            continue
        tables[db["name"]] = _labels(_read(data_dir / db["manifest"]), _read(data_dir / db["truth"]))
    out: dict = {}
    for db in preset["databases"]:
        if db["name"] not in tables:
            continue
        t = tables[db["name"]]
        test = t[t["split"] == "test"]
        for task, metric in (db.get("metrics") or {}).items():
            train = t[t["split"] == "train"]
            if not len(train):  # unseen: the training databases that label this task
                train = _pooled_train(preset, tables, task)
            out.setdefault(db["name"], {})[task] = _score(task, metric, train, test, db.get("au_subset"))
    return out


def _pooled_train(preset: dict, tables: dict, task: str):
    import pandas as pd

    parts = [tables[d["name"]] for d in preset["databases"]
             if d["role"] == "train" and task in (d.get("metrics") or {})]
    t = pd.concat(parts, ignore_index=True)
    return t[t["split"] == "train"]


def _score(task: str, metric: str, train, test, au_subset) -> dict:
    if task == "expr":
        ytr, yte = train["expr"].to_numpy(int), test["expr"].to_numpy(int)
        model = _expr_model(features(train), ytr, balanced=metric == "mean_diag")
        pred = model.predict(features(test))
        if metric == "mean_diag":
            return {metric: {"ceiling": mean_diag_confusion(yte, pred, len(EXPRESSIONS)),
                             "chance": 1.0 / len(np.unique(yte))}}
        majority = np.bincount(ytr, minlength=len(EXPRESSIONS)).argmax()
        return {metric: {"ceiling": accuracy(yte, pred), "chance": accuracy(yte, np.full_like(yte, majority))}}
    if task == "va":
        cells = {}
        for dim in ("valence", "arousal"):
            predict = _va_model(features(train), train[dim].to_numpy(np.float64))
            cells[f"ccc/{dim}"] = {"ceiling": ccc(predict(features(test)), test[dim].to_numpy(np.float64)),
                                   "chance": 0.0}
        return cells
    if task == "au":
        cols = list(au_subset or [f"au{a}" for a in AUS])
        y = test[cols].to_numpy(np.float64)
        present = (test[[f"{c}_intensity" for c in cols]].to_numpy(np.float64) > 0).astype(np.float64)
        return {metric: {"ceiling": mean_f1(y, present), "chance": mean_f1(y, np.ones_like(y))}}
    raise ValueError(f"no ceiling for task {task!r}")


def ceiling_columns(ceilings: dict, columns) -> dict:
    """{header: {"ceiling", "chance"}} for report columns (database, task, metric key, header)."""
    out = {}
    for db, task, key, header in columns:
        cell = ceilings.get(db, {}).get(task, {}).get(key)
        out[header] = dict(cell) if cell else {"ceiling": None, "chance": None}
    return out
