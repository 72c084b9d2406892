"""Figures of a run, each drawn from the run's own files (JSONL log, metrics.json, predictions).

Uses matplotlib's object API with the Agg canvas, imported inside each function: nothing here
changes the process-wide pyplot backend, and importing this module stays cheap.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError


def _figure(width: float, height: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout="constrained")


def _save(fig, out_png) -> Path:
    path = Path(out_png)
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=110)
    return path


# ---------------------------------------------------------------- training curves

def read_jsonl(path) -> tuple[list[dict], list[str]]:
    """Records of a JSONL log and the lines that could not be read ("line N: why")."""
    path = Path(path)
    if not path.is_file():
        raise FaceBehaviorError(f"training log {path} does not exist")
    records, skipped = [], []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:  # e.g. the last line of a run that was killed mid-write
            skipped.append(f"line {number}: not JSON ({exc.msg})")
            continue
        if not isinstance(record, dict):
            skipped.append(f"line {number}: not a JSON object")
            continue
        records.append(record)
    return records, skipped


def _series(records: list[dict], keep) -> dict[str, tuple[list, list]]:
    """``key -> (steps, values)`` for numeric entries whose key passes ``keep``."""
    out: dict[str, tuple[list, list]] = {}
    for i, rec in enumerate(records):
        step = rec.get("step", i)
        for key, value in rec.items():
            if keep(key) and isinstance(value, (int, float)) and not isinstance(value, bool) \
                    and math.isfinite(value):
                xs, ys = out.setdefault(key, ([], []))
                xs.append(step)
                ys.append(value)
    return out


def _eval_key_parts(key: str) -> list[str] | None:
    """``eval/<database>/<task>/<metric>`` -> its parts; None for per-label keys (one more level)
    and for row counts (``n``, ``n_labels``, ...), which would dwarf the metrics on one axis."""
    parts = key.split("/")
    if len(parts) != 4 or parts[0] != "eval" or parts[3] == "n" or parts[3].startswith("n_"):
        return None
    return parts


def plot_training_curves(jsonl_log_path, out_png) -> dict:
    """Losses (one panel) and summary eval metrics (one panel per database) against step.

    Returns ``{"path", "records", "skipped", "series"}`` (``series``: the eval keys drawn);
    unreadable lines are skipped, listed in ``skipped`` and noted on the figure.
    """
    records, skipped = read_jsonl(jsonl_log_path)
    losses = _series(records, lambda k: k.startswith("loss/"))
    evals = _series(records, lambda k: _eval_key_parts(k) is not None)
    if not losses and not evals:
        raise FaceBehaviorError(f"{jsonl_log_path}: no 'loss/...' or 'eval/<database>/<task>/<metric>' "
                                f"values in {len(records)} record(s)")
    databases = list(dict.fromkeys(_eval_key_parts(k)[1] for k in evals))
    panels = 1 + len(databases)
    cols = min(panels, 3)
    rows = math.ceil(panels / cols)
    fig = _figure(5.2 * cols, 3.6 * rows)
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    ax = axes[0]
    for key, (xs, ys) in losses.items():
        ax.plot(xs, ys, label=key[len("loss/"):], lw=1.6 if key == "loss/total" else 1.0)
    if losses and all(v > 0 for _, ys in losses.values() for v in ys):
        ax.set_yscale("log")
    ax.set(title="training losses", xlabel="step")
    if losses:
        ax.legend(fontsize=7)
    for ax, db in zip(axes[1:], databases):
        for key, (xs, ys) in evals.items():
            _, key_db, task, metric = _eval_key_parts(key)
            if key_db == db:
                ax.plot(xs, ys, marker="o", ms=3, label=f"{task} {metric}")
        ax.set(title=f"eval: {db}", xlabel="step")
        ax.legend(fontsize=7)
    for ax in axes[panels:]:
        ax.set_visible(False)
    if skipped:
        fig.suptitle(f"{len(skipped)} unreadable log line(s) skipped", fontsize=8, color="tab:red")
    return {"path": _save(fig, out_png), "records": len(records), "skipped": skipped, "series": list(evals)}


# ---------------------------------------------------------------- evaluation figures

def plot_per_label_f1(results: dict, database: str, task: str, out_png, metric: str = "f1") -> Path:
    """Bars of ``<metric>/<label>`` entries of ``results[database][task]`` with their mean."""
    values = results.get(database, {}).get(task)
    if values is None:
        raise FaceBehaviorError(f"no results for database {database!r}, task {task!r}; "
                                f"have {[(d, t) for d in results for t in results[d]]}")
    prefix = f"{metric}/"
    per_label = {k[len(prefix):]: v for k, v in values.items() if k.startswith(prefix) and v is not None}
    if not per_label:
        raise FaceBehaviorError(f"results for {database!r}/{task!r} have no '{prefix}<label>' entries; "
                                f"keys: {sorted(values)}")
    names, heights = list(per_label), np.asarray(list(per_label.values()), float)
    fig = _figure(max(4.0, 0.42 * len(names) + 1.5), 3.4)
    ax = fig.subplots()
    ax.bar(range(len(names)), heights, color="tab:blue")
    ax.axhline(heights.mean(), color="tab:red", ls="--", lw=1, label=f"mean {heights.mean():.3f}")
    ax.set_xticks(range(len(names)), names, rotation=60 if len(names) > 8 else 0, fontsize=8)
    ax.set(ylim=(min(0.0, heights.min() - 0.05), 1), ylabel=metric,
           title=f"{database} — {task}: per-label {metric} (n = {values.get('n')})")
    ax.legend(fontsize=8)
    return _save(fig, out_png)


def plot_confusion(cm, class_names, out_png, title: str = "") -> Path:
    """Row-normalised confusion matrix (colour = recall share), each cell annotated with its count."""
    cm = np.asarray(cm, dtype=np.int64)
    names = list(class_names)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] != len(names):
        raise FaceBehaviorError(f"confusion matrix of shape {cm.shape} does not fit {len(names)} class names")
    support = cm.sum(1, keepdims=True)
    share = np.divide(cm, support, out=np.zeros(cm.shape), where=support > 0)
    k = len(names)
    fig = _figure(max(4.0, 0.55 * k + 2), max(3.5, 0.5 * k + 1.5))
    ax = fig.subplots()
    im = ax.imshow(share, vmin=0, vmax=1, cmap="Blues")
    ax.set_xticks(range(k), names, rotation=60, fontsize=8)
    ax.set_yticks(range(k), names, fontsize=8)
    present = support[:, 0] > 0
    summary = f"mean diag {np.diag(share)[present].mean():.3f}" if present.any() else "no samples"
    ax.set(xlabel="predicted", ylabel="true", title=title or f"confusion ({summary})")
    if k <= 30:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{share[i, j]:.2f}\n{cm[i, j]}", ha="center", va="center", fontsize=6,
                        color="white" if share[i, j] > 0.5 else "black")
    fig.colorbar(im, ax=ax, fraction=0.04)
    return _save(fig, out_png)


def plot_va_scatter(pred, target, out_png, names=("valence", "arousal")) -> Path:
    """Predicted against true value per dimension, with the identity line and each CCC."""
    from facebehavior.evaluation.metrics import ccc

    pred, target = np.atleast_2d(np.asarray(pred, float)), np.atleast_2d(np.asarray(target, float))
    if pred.shape != target.shape or pred.shape[1] != len(names):
        raise FaceBehaviorError(f"pred {pred.shape} and target {target.shape} must both be (N, {len(names)})")
    fig = _figure(4.2 * len(names), 4.0)
    for ax, j, name in zip(fig.subplots(1, len(names), squeeze=False)[0], range(len(names)), names):
        keep = ~np.isnan(target[:, j]) & np.isfinite(pred[:, j])
        x, y = target[keep, j], pred[keep, j]
        if x.size > 5000:
            ax.hexbin(x, y, gridsize=60, extent=(-1, 1, -1, 1), mincnt=1, cmap="viridis")
        else:
            ax.scatter(x, y, s=6, alpha=0.5)
        ax.plot([-1, 1], [-1, 1], color="tab:red", lw=1)
        dropped = int((~keep).sum())
        note = f", {dropped} unlabelled/invalid left out" if dropped else ""
        ax.set(xlim=(-1.05, 1.05), ylim=(-1.05, 1.05), aspect="equal", xlabel=f"true {name}",
               ylabel=f"predicted {name}", title=f"{name}: CCC {ccc(y, x):.3f} (n = {x.size}{note})")
        ax.title.set_fontsize(8)
    return _save(fig, out_png)


def figures_from_metrics(metrics_json, out_dir) -> list[Path]:
    """Every figure a ``metrics.json`` supports: per-label bars and confusion matrices."""
    path = Path(metrics_json)
    path = path / "metrics.json" if path.is_dir() else path
    from facebehavior.evaluation.report import load_results

    results = load_results(path)
    extra = json.loads(path.read_text(encoding="utf-8")).get("extra") or {}
    out, written = Path(out_dir), []
    for db, tasks in results.items():
        for task, values in tasks.items():
            for metric in ("f1", "ccc", "recall"):
                if any(k.startswith(f"{metric}/") for k in values):
                    written.append(plot_per_label_f1(results, db, task, out / f"{db}_{task}_{metric}.png", metric))
    for db, tasks in (extra.get("confusion") or {}).items():
        for task, cm in tasks.items():
            if "matrix" not in cm:  # too many classes to store; the report says why
                continue
            written.append(plot_confusion(cm["matrix"], cm["labels"], out / f"{db}_{task}_confusion.png",
                                          f"{db} — {task}"))
    return written
