"""FER+ test evaluation under both protocols, and the recipe's report.

- ``ferplus8``: the 8 FER+ classes (contempt included), as Barsoum et al. (2016): accuracy against
  the majority label over test images that have one (their majority rule, see the importer);
- ``expr7``: our canonical 7 classes from the ``expr`` head (the one ``analyze`` uses); test
  images whose majority is contempt have no 7-class label and are left out;
- ``expr7_from_ferplus8_head``: the 8-class head with contempt removed and renormalised, to show
  whether the jointly trained 7-class head gives anything away.

Each reports accuracy, mean per-class recall (mean diagonal), macro F1, per-class recall, the
confusion matrix (JSON and PNG), and the cross entropy against the vote distribution,
mean −Σ share·log p over every test image with votes (majority or not), next to the mean entropy
of the vote distributions — the lowest value any model could reach.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.evaluation import metrics

PROB_FLOOR = 1e-7  # log p of an exactly-zero probability would be -inf


def vote_cross_entropy(probs: np.ndarray, shares: np.ndarray) -> tuple[float, int]:
    """Mean −Σ_c share_c · log p_c over rows whose vote shares are present (no NaN); (value, rows)."""
    probs, shares = np.asarray(probs, np.float64), np.asarray(shares, np.float64)
    if probs.shape != shares.shape:
        raise ValueError(f"probabilities {probs.shape} and vote shares {shares.shape} differ in shape")
    rows = ~np.isnan(shares).any(1)
    if not rows.any():
        return float("nan"), 0
    ce = -(shares[rows] * np.log(np.clip(probs[rows], PROB_FLOOR, 1.0))).sum(1)
    return float(ce.mean()), int(rows.sum())


def vote_entropy(shares: np.ndarray) -> float:
    """Mean entropy of the vote distributions: the cross entropy a perfect model would reach."""
    shares = np.asarray(shares, np.float64)
    shares = shares[~np.isnan(shares).any(1)]
    if not len(shares):
        return float("nan")
    logs = np.log(np.where(shares > 0, shares, 1.0))
    return float(-(shares * logs).sum(1).mean())


def protocol_metrics(probs: np.ndarray, hard: np.ndarray, shares: np.ndarray | None, names) -> dict:
    """Majority-label metrics over rows with a hard label (−1 = none) and vote cross entropy."""
    k = len(names)
    hard = np.asarray(hard).astype(np.int64)
    pred = np.asarray(probs).argmax(1)
    rows = hard >= 0
    t, p = hard[rows], pred[rows]
    recall = metrics.per_class_recall(t, p, k)
    out = {
        "labels": list(names), "n_majority": int(rows.sum()),
        "accuracy": metrics.accuracy(t, p), "mean_diag": metrics.mean_diag_confusion(t, p, k),
        "macro_f1": metrics.macro_f1(t, p, k),
        "per_class_recall": {n: (None if np.isnan(r) else float(r)) for n, r in zip(names, recall)},
        "support": {n: int(c) for n, c in zip(names, np.bincount(t, minlength=k))},
        "confusion": metrics.confusion(t, p, k).tolist(),
    }
    if shares is not None:
        out["vote_cross_entropy"], out["n_votes"] = vote_cross_entropy(probs, shares)
        out["vote_entropy"] = vote_entropy(shares)
    return out


def ferplus8_to_expr7(probs8: np.ndarray) -> np.ndarray:
    """8-class FER+ probabilities → canonical 7-class ones (contempt dropped, renormalised)."""
    from facebehavior.data.importers.ferplus import TO_CANONICAL
    from facebehavior.labels import EXPRESSIONS

    probs7 = np.zeros((len(probs8), len(EXPRESSIONS)))
    for i, j in TO_CANONICAL.items():
        probs7[:, j] = probs8[:, i]
    return probs7 / np.maximum(probs7.sum(1, keepdims=True), PROB_FLOOR)


def ferplus_predictions(checkpoint, manifest, split: str = "test", device: str = "cpu", batch_size: int = 256,
                        flip_average: bool | None = None):
    """(probabilities per head, labels per task, tasks, model, meta) of `checkpoint` on the `split`
    rows of `manifest`. `flip_average` overrides the checkpoint's preprocessing (None: as recorded)."""
    from dataclasses import replace

    import torch

    from facebehavior.data.datasets import ImageTable
    from facebehavior.data.manifest import load_split
    from facebehavior.errors import FaceBehaviorError
    from facebehavior.evaluation.predict import predict_table
    from facebehavior.models.checkpoint import load_model

    model, meta, cfg = load_model(checkpoint, device)
    if flip_average is not None:
        model.preprocessing = replace(model.preprocessing, flip_average=flip_average)
    tasks = cfg.task_specs()
    rows = load_split([str(manifest)], tasks, split, None)
    if rows is None:
        raise FaceBehaviorError(f"{manifest}: no rows with split {split!r} to evaluate")
    table = ImageTable(rows, tasks, cfg.data.image_size)
    preds = predict_table(model, table, tasks, torch.device(device), batch_size)
    return preds, {k: v.numpy() for k, v in table.labels.items()}, tasks, model, meta


def evaluate_ferplus(checkpoint, manifest, out_dir, device: str = "cpu", batch_size: int = 256,
                     split: str = "test", flip_average: bool | None = None) -> dict:
    """Both protocols on the `split` rows of `manifest` (which must carry the soft columns); writes
    the confusion matrices to ``<out_dir>/figures``. `flip_average` overrides the checkpoint's
    preprocessing (None: as recorded), to measure test-time mirroring."""
    from facebehavior.evaluation import plots
    from facebehavior.labels import EXPRESSIONS

    preds, labels, tasks, model, meta = ferplus_predictions(checkpoint, manifest, split, device, batch_size,
                                                            flip_average)
    names8 = next(t.labels for t in tasks if t.name == "ferplus8")
    results = {"checkpoint": str(checkpoint), "split": split, "n_test_images": len(labels["ferplus8"]),
               "preprocessing": model.preprocessing.to_dict(), "protocols": {
        "ferplus8": protocol_metrics(preds["ferplus8"], labels["ferplus8"], labels.get("ferplus8_soft"), names8),
        "expr7": protocol_metrics(preds["expr"], labels["expr"], labels.get("expr_soft"), EXPRESSIONS),
        "expr7_from_ferplus8_head": protocol_metrics(ferplus8_to_expr7(preds["ferplus8"]), labels["expr"],
                                                     labels.get("expr_soft"), EXPRESSIONS),
    }, "validation": meta.scores}
    figures = Path(out_dir) / "figures"
    for name, values in results["protocols"].items():
        if name != "expr7_from_ferplus8_head":
            plots.plot_confusion(np.array(values["confusion"]), values["labels"], figures / f"confusion_{name}.png",
                                 title=f"FER+ {split}, {name}: accuracy {values['accuracy']:.3f}")
    log = Path(checkpoint).parent.parent / "log.jsonl"
    if log.is_file():
        plots.plot_training_curves(log, figures / "training_curves.png")
    return results


def _f(value, digits: int = 3) -> str:
    return "–" if value is None or value != value else f"{value:.{digits}f}"


def write_markdown(results: dict, path) -> Path:
    """A short human-readable report next to results.json."""
    run, protos = results.get("run", {}), results["protocols"]
    lines = [f"# FER+ recipe ({run.get('mode', '?')} mode)", "",
             f"Reproduce: `{run.get('command', '?')}`", "",
             "| protocol | test images (majority) | accuracy | mean recall | macro F1 | vote CE | vote entropy |",
             "|---|---|---|---|---|---|---|"]
    for name, m in protos.items():
        lines.append(f"| {name} | {m['n_majority']} | {_f(m['accuracy'])} | {_f(m['mean_diag'])} | "
                     f"{_f(m['macro_f1'])} | {_f(m.get('vote_cross_entropy'))} | {_f(m.get('vote_entropy'))} |")
    for name in ("ferplus8", "expr7"):
        m = protos[name]
        lines += ["", f"Per-class recall, {name} (support):", "",
                  "| " + " | ".join(m["labels"]) + " |", "|" + "---|" * len(m["labels"]),
                  "| " + " | ".join(f"{_f(m['per_class_recall'][n])} ({m['support'][n]})" for n in m["labels"]) + " |"]
    if run:
        lines += ["", f"Model: {run['model']}; {run['epochs_done']}/{run['epochs_planned']} epochs, "
                      f"{run['steps_done']} steps of {run['batch_size']}; best epoch {run['best_epoch']} "
                      f"(valid 8-class accuracy {_f(run['best_val_ferplus8_accuracy'])}); wall time "
                      f"{run['wall_seconds_total'] / 60:.1f} min over all sessions; trained tasks "
                      f"{run['trained_tasks']}.",
                  "", "Figures: `figures/confusion_ferplus8.png`, `figures/confusion_expr7.png`, "
                      "`figures/training_curves.png`."]
    return atomic.write_text(path, "\n".join(lines) + "\n")
