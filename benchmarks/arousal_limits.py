"""What limits arousal on SynthFace's synth_affwild test set (issue 16, open item)?

The full study's networks reach CCC-valence ≈ 0.56–0.59 (70% of the true-AU ceiling 0.836) but
CCC-arousal only ≈ 0.33–0.34 (44–47% of 0.736). This script measures why, from files already on
disk, without training anything (inference of saved checkpoints only, one thread):

1. **Labels** (truth.csv of every VA database): mean/std of valence and arousal per split, and how
   much of each the generator's latent factors explain. SynthFace draws
   `va = centroid(expression) · (0.4 + 0.6 · strength) + N(0, 0.15²)` (synthface/affect.py), so the
   noise-free part is known exactly: `latent R²` and the CCC of that oracle (moments matched on
   train); and how many VA-labelled training images show each latent expression.
2. **Truth ceilings** (synth_affwild, the same gradient-boosted trees as evaluation/ceiling.py, fitted
   on train truth, scored on test): all 17 AUs, the expression alone, expression + strength,
   coarser expression groups (which distinctions does each dimension need?), every AU left out in
   turn and every AU alone (which AUs carry valence, which arousal).
3. **Networks** (each listed run's `checkpoints/best`, predicted on synth_affwild train and test):
   CCC, Pearson r, the predictions' mean/std against the labels' (is arousal shrunk or shifted?),
   CCC after matching moments on train, the network's CCC on its own training images, a ridge probe
   on the 256-d pooled features (fit on train: is the information in the trunk but not read out?),
   the trees fitted on the network's *perceived* AUs and expression probabilities instead of the
   true AUs (the ceiling through the network's eyes), AU detection (ROC AUC against the true AU
   presence of the synth_affwild test images, which the manifest does not label), the error per
   latent expression, and the absolute error against image nuisances (blur, noise, ...). For the
   first run also: the perceived ceiling with one AU's perception made perfect (its truth swapped
   in), and its AU detection on the synth_disfa / synth_affectnet / synth_emotionet test images.
4. **AU visibility**: 100 synth_affwild test faces rendered with every AU off, then one AU on (0.5
   and 1.0) at 64 and 112 px: the L2 norm of the grey-level difference and the pixels that change.

Run:  nice -n 10 .venv/bin/python benchmarks/arousal_limits.py [--runs RUN_DIR ...]
Prints the tables and writes benchmarks/results/arousal_limits.json. Needs the `affect` preset in
.cache/synthface/affect/ and the run folders under runs/ (missing runs are skipped and listed).
Deterministic (trees with random_state 0, inference in eval mode); about 70 s on one thread.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the trees (OpenMP) and torch: one thread each

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from benchlib import machine, write_result

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / ".cache/synthface/affect"
RESULT = ROOT / "benchmarks/results/arousal_limits.json"
DB = "synth_affwild"
VA_DBS = ("synth_affwild", "synth_affectnet", "synth_afewva")
DIMS = ("valence", "arousal")
DEFAULT_RUNS = ("runs/study_full/runs/no_coupling_s0", "runs/study_full/runs/co_annotation_s0",
                "runs/demo/runs/no_coupling_s0", "runs/demo/runs/no_coupling_s1",
                "runs/demo/runs/uncertainty_weighting_s0", "runs/demo/runs/ST_va_s0")
NUISANCES = ("blur", "noise", "brightness", "contrast", "light", "yaw", "roll", "scale", "occluded", "strength")


def _truth(db: str):
    import pandas as pd

    return pd.read_csv(DATA / db / "truth.csv")


def _latent_mean(t) -> np.ndarray:
    """(N, 2) the generator's noise-free valence/arousal: centroid · reach (before noise and clipping)."""
    from facebehavior.synthface.affect import VA_CENTROIDS

    centroids = np.array([VA_CENTROIDS[e] for e in t["latent_expr"]])
    return centroids * (0.4 + 0.6 * t["strength"].to_numpy())[:, None]


def _match(fit_pred, fit_y):
    """A map that gives predictions the mean and spread of the target on the fitting rows."""
    scale = fit_y.std() / max(fit_pred.std(), 1e-9)
    shift = fit_y.mean() - scale * fit_pred.mean()
    return lambda p: shift + scale * p


def _r(a, b) -> float:
    return float(np.corrcoef(a, b)[0, 1])


# ---------------------------------------------------------------------------------------------- 1
def label_stats() -> dict:
    from facebehavior.evaluation.metrics import ccc

    out = {}
    for db in VA_DBS:
        t = _truth(db)
        m = _latent_mean(t)
        train = (t["split"] == "train").to_numpy()
        for split in ("train", "test"):
            rows = (t["split"] == split).to_numpy()
            if not rows.any():
                continue
            cell = {"n": int(rows.sum())}
            for d, dim in enumerate(DIMS):
                y = t[dim].to_numpy()[rows]
                fit = train if train.any() else rows
                oracle = _match(m[fit, d], t[dim].to_numpy()[fit])(m[rows, d])
                cell[dim] = {"mean": float(y.mean()), "std": float(y.std()), "min": float(y.min()),
                             "max": float(y.max()),
                             "latent_r2": float(1 - np.var(y - m[rows, d]) / np.var(y)),
                             "latent_oracle_ccc": ccc(oracle, y)}
            cell["expr_share"] = {k: round(float(v), 3) for k, v in
                                  t.loc[rows, "latent_expr"].value_counts(normalize=True).items()}
            out[f"{db}/{split}"] = cell
    return out


def va_training_mix() -> dict:
    """How many VA-labelled training images (synth_affwild + synth_affectnet train) show each latent
    expression: the data that teach the VA head."""
    import pandas as pd

    t = pd.concat([_truth(db) for db in ("synth_affwild", "synth_affectnet")])
    t = t[t["split"] == "train"]
    return {e: int(n) for e, n in t["latent_expr"].value_counts().items()}


# ---------------------------------------------------------------------------------------------- 2
def _tree_ccc(xtr, ytr, xte, yte) -> float:
    from facebehavior.evaluation.ceiling import _va_model
    from facebehavior.evaluation.metrics import ccc

    return ccc(_va_model(xtr, ytr)(xte), yte)


def _onehot(t) -> np.ndarray:
    from facebehavior.labels import EXPRESSIONS

    return (t["latent_expr"].to_numpy()[:, None] == np.array(EXPRESSIONS)[None]).astype(float)


# coarser knowledge of the expression: which distinctions does each dimension need?
GROUPINGS = {
    "expr groups: happy | not": (("happiness",),),
    "expr groups: neutral | happy | surprise | negative": (("neutral",), ("happiness",), ("surprise",),
                                                          ("anger", "disgust", "fear", "sadness")),
    "expr groups: as above, sadness apart": (("neutral",), ("happiness",), ("surprise",),
                                             ("anger", "disgust", "fear"), ("sadness",)),
}


def _grouped(t, groups) -> np.ndarray:
    e = t["latent_expr"].to_numpy()
    return np.stack([np.isin(e, g) for g in groups], 1).astype(float)


def truth_ceilings() -> dict:
    from facebehavior.evaluation.ceiling import AU_COLUMNS, features
    from facebehavior.labels import AUS

    t = _truth(DB)
    tr, te = t[t["split"] == "train"], t[t["split"] == "test"]
    x_tr, x_te = features(tr), features(te)
    out: dict = {"all_aus": {}, "expression": {}, "expression+strength": {}, "aus+expression+strength": {},
                 **{name: {} for name in GROUPINGS}, "drop_one_au": {}, "only_au": {}}
    es_tr = np.c_[_onehot(tr), tr["strength"]]
    es_te = np.c_[_onehot(te), te["strength"]]
    for dim in DIMS:
        ytr, yte = tr[dim].to_numpy(), te[dim].to_numpy()
        out["all_aus"][dim] = _tree_ccc(x_tr, ytr, x_te, yte)
        out["expression"][dim] = _tree_ccc(_onehot(tr), ytr, _onehot(te), yte)
        out["expression+strength"][dim] = _tree_ccc(es_tr, ytr, es_te, yte)
        out["aus+expression+strength"][dim] = _tree_ccc(np.c_[x_tr, es_tr], ytr, np.c_[x_te, es_te], yte)
        for name, groups in GROUPINGS.items():
            out[name][dim] = _tree_ccc(_grouped(tr, groups), ytr, _grouped(te, groups), yte)
    n = len(AU_COLUMNS)
    for j, au in enumerate(AUS):
        keep = [k for k in range(2 * n) if k % n != j]
        out["drop_one_au"][f"au{au}"] = {dim: out["all_aus"][dim] - _tree_ccc(
            x_tr[:, keep], tr[dim].to_numpy(), x_te[:, keep], te[dim].to_numpy()) for dim in DIMS}
        out["only_au"][f"au{au}"] = {dim: _tree_ccc(x_tr[:, [j, j + n]], tr[dim].to_numpy(), x_te[:, [j, j + n]],
                                                    te[dim].to_numpy()) for dim in DIMS}
    return out


def subset_ceiling(aus: list[str]) -> dict:
    """The true-AU ceiling on synth_affwild using only `aus` (e.g. the ones a network detects well)."""
    from facebehavior.evaluation.ceiling import features
    from facebehavior.labels import AUS

    t = _truth(DB)
    tr, te = t[t["split"] == "train"], t[t["split"] == "test"]
    n = len(AUS)
    cols = [k for k in range(2 * n) if f"au{AUS[k % n]}" in aus]
    if not cols:
        return {dim: 0.0 for dim in DIMS}
    return {dim: _tree_ccc(features(tr)[:, cols], tr[dim].to_numpy(), features(te)[:, cols], te[dim].to_numpy())
            for dim in DIMS}


# ---------------------------------------------------------------------------------------------- 3
def _predict(run: Path, split: str, db: str = DB):
    """Outputs and pooled 256-d features of `run`'s best checkpoint on `db`'s `split`, with the
    truth rows in the same order."""
    import pandas as pd
    import torch

    from facebehavior.data.datasets import ImageTable
    from facebehavior.data.manifest import load_split
    from facebehavior.evaluation.predict import predict_table
    from facebehavior.models.checkpoint import load_model

    model, meta, cfg = load_model(run / "checkpoints/best")
    tasks = cfg.task_specs()
    manifest = load_split([str(DATA / db / "manifest.csv")], tasks, split, None)
    table = ImageTable(manifest, tasks, cfg.data.image_size)
    feats: list = []
    hook = model.head.register_forward_pre_hook(lambda mod, args: feats.append(args[0].detach().float().clone()))
    try:
        preds = predict_table(model, table, tasks, torch.device("cpu"), 200)
    finally:
        hook.remove()
    preds["features"] = torch.cat(feats).numpy()  # one process, unshuffled loader: row order
    truth = _truth(db)
    truth["path"] = [str((DATA / db / p).resolve()) for p in truth["path"]]
    paths = pd.DataFrame({"path": [str(Path(p).resolve()) for p in table.paths]})
    joined = paths.merge(truth, on="path", how="left", validate="one_to_one")
    assert len(joined) == len(table) and joined["latent_expr"].notna().all()
    return preds, joined, meta


def _auc(y: np.ndarray, score: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, score)) if 0 < y.sum() < len(y) else None


def _au_aucs(preds: dict, truth) -> dict:
    from facebehavior.labels import AUS

    out = {}
    for j, a in enumerate(AUS if "au" in preds else ()):
        present = (truth[f"au{a}_intensity"].to_numpy() > 0).astype(int)
        out[f"au{a}"] = {"prevalence": float(present.mean()), "auc": _auc(present, preds["au"][:, j])}
    return out


def network(run: Path, ceilings: dict, deep: bool = False) -> dict:
    from sklearn.linear_model import RidgeCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from facebehavior.evaluation.ceiling import _va_model
    from facebehavior.evaluation.metrics import ccc
    from facebehavior.labels import AUS, EXPRESSIONS

    ptr, ttr, meta = _predict(run, "train")
    pte, tte, _ = _predict(run, "test")
    out: dict = {"run": str(run.relative_to(ROOT)) if run.is_relative_to(ROOT) else str(run),
                 "epoch": getattr(meta, "epoch", None), "dims": {}}
    heads = [k for k in ("expr", "au") if k in pte]  # a single-task VA network has neither
    out["heads"] = sorted(k for k in pte if k != "features")
    perceived_tr = np.concatenate([ptr[k] for k in heads], 1) if heads else None
    perceived_te = np.concatenate([pte[k] for k in heads], 1) if heads else None
    for d, dim in enumerate(DIMS):
        ytr, yte = ttr[dim].to_numpy(), tte[dim].to_numpy()
        p, q = pte["va"][:, d], ptr["va"][:, d]
        probe = make_pipeline(StandardScaler(), RidgeCV(alphas=np.logspace(-2, 4, 13))).fit(ptr["features"], ytr)
        probe_te = _match(probe.predict(ptr["features"]), ytr)(probe.predict(pte["features"]))
        perceived = _va_model(perceived_tr, ytr)(perceived_te) if heads else None
        out["dims"][dim] = {
            "ccc": ccc(p, yte), "pearson_r": _r(p, yte),
            "pred_mean": float(p.mean()), "pred_std": float(p.std()),
            "label_mean": float(yte.mean()), "label_std": float(yte.std()),
            "ccc_moments_matched_on_train": ccc(_match(q, ytr)(p), yte),
            "ccc_train_split": ccc(q, ytr),
            "ridge_probe_ccc": ccc(probe_te, yte),
            "perceived_ceiling_ccc": ccc(perceived, yte) if heads else None,
            "share_of_ceiling": ccc(p, yte) / ceilings["all_aus"][dim],
        }
    # AU detection on the synth_affwild test images (truth: intensity > 0)
    out["au_detection"] = _au_aucs(pte, tte)
    if deep and heads:
        # the perceived-AU ceiling with one AU's perception made perfect (its true intensity and
        # presence in place of the network's probability): which AU's perception limits each dim?
        from facebehavior.evaluation.ceiling import features

        ftr, fte = features(ttr), features(tte)
        n = len(AUS)
        base = {dim: out["dims"][dim]["perceived_ceiling_ccc"] for dim in DIMS}
        off = ptr["expr"].shape[1] if "expr" in heads else 0
        swap = {}
        for j, a in enumerate(AUS):
            xtr, xte = perceived_tr.copy(), perceived_te.copy()
            if "au" in heads:
                xtr[:, off + j], xte[:, off + j] = ftr[:, j], fte[:, j]
            xtr, xte = np.c_[xtr, ftr[:, j + n]], np.c_[xte, fte[:, j + n]]
            swap[f"au{a}"] = {dim: _tree_ccc(xtr, ttr[dim].to_numpy(), xte, tte[dim].to_numpy()) - base[dim]
                              for dim in DIMS}
        out["perceived_ceiling_gain_if_au_perfect"] = swap
        # the same network's AU detection on the other databases' test images (cleaner or not)
        out["au_detection_other_databases"] = {
            db: _au_aucs(*_predict(run, "test", db)[:2])
            for db in ("synth_disfa", "synth_affectnet", "synth_emotionet")}
    # the expression head on the synth_affwild test images (their latent expression, never trained on)
    latent = np.array([EXPRESSIONS.index(e) for e in tte["latent_expr"]])
    out["expr_recall_on_affwild"] = {e: float((pte["expr"].argmax(1)[latent == k] == k).mean())
                                     for k, e in enumerate(EXPRESSIONS)} if "expr" in pte else {}
    # arousal / valence per latent expression, and each expression's share of the squared error
    per = {}
    for k, e in enumerate(EXPRESSIONS):
        rows = latent == k
        cell = {"n": int(rows.sum())}
        for d, dim in enumerate(DIMS):
            y, p = tte[dim].to_numpy(), pte["va"][:, d]
            cell[dim] = {"label_mean": float(y[rows].mean()), "pred_mean": float(p[rows].mean()),
                         "sq_error_share": float(((p - y)[rows] ** 2).sum() / ((p - y) ** 2).sum())}
        per[e] = cell
    out["per_expression"] = per
    # nuisances: Spearman correlation of the absolute error with each image factor
    from scipy.stats import spearmanr

    nuis = {}
    for name in NUISANCES:
        x = tte[name].to_numpy(float)
        x = np.abs(x) if name in ("yaw", "roll") else x
        nuis[name] = {dim: float(spearmanr(x, np.abs(pte["va"][:, d] - tte[dim].to_numpy())).statistic)
                      for d, dim in enumerate(DIMS)}
    out["abs_error_spearman"] = nuis
    return out


# ---------------------------------------------------------------------------------------------- 4
def au_visibility(n_faces: int = 100, sizes=(64, 112), intensities=(0.5, 1.0)) -> dict:
    """How many pixels each AU moves: the first `n_faces` synth_affwild test faces (their identity,
    pose and lighting) rendered with every AU at 0, then with one AU at `intensity`. Signal = the
    L2 norm of the grey-level difference image (mean over faces), and how many pixels change by
    more than 4 grey levels, at each image size (noise and blur are the same in both renders)."""
    from facebehavior.labels import AUS
    from facebehavior.synthface.presets import affect_databases
    from facebehavior.synthface.render import render_faces
    from facebehavior.synthface.sample import sample_batch

    preset = __import__("json").loads((DATA / "preset.json").read_text())
    spec = next(d for d in affect_databases() if d.name == DB).scaled(preset.get("scale", 1.0))
    start = spec.sizes["train"] + spec.sizes["val"]  # the test split follows train and val
    batch = sample_batch(spec, preset["seed"], start, start + n_faces)
    zero = {f"au{a}": 0.0 for a in AUS}
    base = [batch.params(i).with_aus(**zero) for i in range(len(batch))]
    out: dict = {}
    for size in sizes:
        ref = render_faces(base, size).astype(np.float32)
        for inten in intensities:
            cells = {}
            for a in AUS:
                diff = (render_faces([q.with_aus(**{f"au{a}": inten}) for q in base], size).astype(np.float32)
                        - ref).mean(3)
                cells[f"au{a}"] = {"l2": float(np.sqrt((diff ** 2).sum((1, 2))).mean()),
                                   "pixels_over_4": float((np.abs(diff) > 4).sum((1, 2)).mean())}
            out[f"{size}px@{inten}"] = cells
    return out


# ---------------------------------------------------------------------------------------------- main
def _fmt(x) -> str:
    return "    -" if x is None else f"{x:>5.3f}"


def _print_tables(result: dict) -> None:
    print("\n1. Labels: std and how much the generator's latent expression·strength explains")
    print(f"{'database/split':<24} {'n':>5} {'V mean':>7} {'V std':>6} {'V latR2':>7} {'A mean':>7} {'A std':>6} "
          f"{'A latR2':>7} {'orcl V':>6} {'orcl A':>6}")
    for key, c in result["labels"].items():
        v, a = c["valence"], c["arousal"]
        print(f"{key:<24} {c['n']:>5} {v['mean']:>7.3f} {v['std']:>6.3f} {v['latent_r2']:>7.3f} {a['mean']:>7.3f} "
              f"{a['std']:>6.3f} {a['latent_r2']:>7.3f} {v['latent_oracle_ccc']:>6.3f} {a['latent_oracle_ccc']:>6.3f}")
    print("   VA-labelled training images (synth_affwild + synth_affectnet train) per latent expression: "
          + ", ".join(f"{e} {n}" for e, n in result["va_training_mix"].items()))
    c = result["truth_ceilings"]
    print(f"\n2. Truth ceilings on {DB} test (trees fitted on train truth)")
    for name in ("all_aus", "expression", "expression+strength", "aus+expression+strength", *GROUPINGS):
        print(f"   {name:<52} CCC-V {c[name]['valence']:.3f}  CCC-A {c[name]['arousal']:.3f}")
    for name, sub in result["subset_ceilings"].items():
        print(f"   {name:<52} CCC-V {sub['valence']:.3f}  CCC-A {sub['arousal']:.3f}  ({', '.join(sub['aus'])})")
    print("   AU    ΔV(drop)  ΔA(drop)  V(only)  A(only)")
    for au, dd in c["drop_one_au"].items():
        oo = c["only_au"][au]
        print(f"   {au:<5} {dd['valence']:>8.3f} {dd['arousal']:>9.3f} {oo['valence']:>8.3f} {oo['arousal']:>8.3f}")
    print(f"\n3. Networks on {DB} test")
    print(f"{'run':<44} {'dim':<8} {'CCC':>5} {'r':>5} {'pμ':>6} {'yμ':>6} {'pσ':>5} {'yσ':>5} {'CCCmm':>5} "
          f"{'train':>5} {'probe':>5} {'perc':>5} {'%ceil':>5}")
    for net in result["networks"]:
        for dim, m in net["dims"].items():
            print(f"{net['run']:<44} {dim:<8} {m['ccc']:>5.3f} {m['pearson_r']:>5.3f} {m['pred_mean']:>6.3f} "
                  f"{m['label_mean']:>6.3f} {m['pred_std']:>5.3f} {m['label_std']:>5.3f} "
                  f"{m['ccc_moments_matched_on_train']:>5.3f} {m['ccc_train_split']:>5.3f} "
                  f"{m['ridge_probe_ccc']:>5.3f} {_fmt(m['perceived_ceiling_ccc'])} {m['share_of_ceiling']:>5.2f}")
    net = result["networks"][0]
    print(f"\n   {net['run']}: AU detection on {DB} test (ROC AUC vs true presence)")
    print("   " + "  ".join(f"{au}:{v['auc']:.2f}/{v['prevalence']:.2f}" for au, v in net["au_detection"].items()
                          if v["auc"] is not None))
    print("   per latent expression (n, label mean → pred mean, share of squared error) for arousal | valence")
    for e, c in net["per_expression"].items():
        a, v = c["arousal"], c["valence"]
        print(f"   {e:<10} {c['n']:>4}  A {a['label_mean']:>6.3f} → {a['pred_mean']:>6.3f} "
              f"({a['sq_error_share']:.2f})"
              f"  V {v['label_mean']:>6.3f} → {v['pred_mean']:>6.3f} ({v['sq_error_share']:.2f})"
              f"  expr-head recall {_fmt(net['expr_recall_on_affwild'].get(e))}")
    print("   Spearman(|error|, factor):  " + "  ".join(
        f"{k} {v['arousal']:+.2f}/{v['valence']:+.2f}" for k, v in net["abs_error_spearman"].items()) + "  (A/V)")
    if "perceived_ceiling_gain_if_au_perfect" in net:
        print("   perceived-AU ceiling gain if one AU were perceived perfectly (ΔCCC-V / ΔCCC-A):")
        print("   " + "  ".join(f"{au} {g['valence']:+.3f}/{g['arousal']:+.3f}"
                              for au, g in net["perceived_ceiling_gain_if_au_perfect"].items()))
        print("   AU ROC AUC per test set:   "
              + " ".join(f"{d:>8}" for d in (DB, *net["au_detection_other_databases"])))
        for au, v in net["au_detection"].items():
            others = [net["au_detection_other_databases"][d].get(au, {}).get("auc")
                      for d in net["au_detection_other_databases"]]
            print(f"   {au:<25}" + " ".join(_fmt(x).rjust(8) for x in [v["auc"], *others]))
    print("\n4. AU visibility (synth_affwild test faces, one AU on): L2 of the grey difference / pixels changed > 4")
    vis = result["au_visibility"]
    print("   " + " " * 6 + "".join(f"{k:>14}" for k in vis))
    for au in next(iter(vis.values())):
        print(f"   {au:<6}" + "".join(f"{vis[k][au]['l2']:>8.0f}/{vis[k][au]['pixels_over_4']:<5.0f}" for k in vis))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", nargs="*", default=list(DEFAULT_RUNS),
                        help="run folders with checkpoints/best (default: the full study's and the demo's seed-0 runs)")
    parser.add_argument("--out", default=str(RESULT))
    args = parser.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    start = time.time()
    result: dict = {"database": DB, "labels": label_stats(), "va_training_mix": va_training_mix(),
                    "truth_ceilings": truth_ceilings(), "au_visibility": au_visibility()}
    runs = [ROOT / r for r in args.runs]
    missing = [str(r) for r in runs if not (r / "checkpoints/best").is_dir()]
    if missing:
        print(f"skipped (no checkpoints/best): {', '.join(missing)}", file=sys.stderr)
    kept = [r for r in runs if str(r) not in missing]
    result["networks"] = [network(r, result["truth_ceilings"], deep=k == 0) for k, r in enumerate(kept)]
    result["skipped_runs"] = missing
    if result["networks"]:  # ceilings from the AUs the first network detects well / badly on synth_affwild
        det = result["networks"][0]["au_detection"]
        good = [au for au, v in det.items() if v["auc"] is not None and v["auc"] >= 0.9]
        bad = [au for au, v in det.items() if au not in good]
        result["subset_ceilings"] = {f"AUs with AUC>=0.9 ({len(good)})": {**subset_ceiling(good), "aus": good},
                                     f"AUs with AUC<0.9 ({len(bad)})": {**subset_ceiling(bad), "aus": bad}}
    else:
        result["subset_ceilings"] = {}
    result["seconds"] = round(time.time() - start, 1)
    result["command"] = "nice -n 10 .venv/bin/python benchmarks/arousal_limits.py" + (
        "" if args.runs == list(DEFAULT_RUNS) else " --runs " + " ".join(args.runs))
    result["machine"] = machine(threads=1, load=os.getloadavg()[0])
    _print_tables(result)
    write_result(args.out, result)
    return result


if __name__ == "__main__":
    main()
