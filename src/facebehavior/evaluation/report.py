"""Evaluation reports: ``metrics.json`` (everything) and ``report.md`` (tables), and paper-style
comparison tables across runs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError
from facebehavior.evaluation.protocols import normalise_name

MISSING = "–"


def to_jsonable(value):
    """NumPy scalars/arrays to Python, NaN/inf to None (strict JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_jsonable(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value, digits: int = 3) -> str:
    if isinstance(value, bool) or value is None:
        return MISSING if value is None else str(value)
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        return f"{value:.{digits}f}" if math.isfinite(value) else MISSING
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(r) + " |" for r in rows]


def _is_count(key: str) -> bool:
    return key == "n" or key.startswith("n_")


def _task_section(database: str, task: str, values: dict) -> list[str]:
    primary = values.get("primary")
    counts = ", ".join(f"{k} = {v}" for k, v in values.items() if _is_count(k))
    lines = [f"### {database} — {task}", "", f"{counts}; primary metric: **{primary}**", ""]
    summary = [[f"**{k}**" if k == primary else k, _fmt(v)] for k, v in values.items()
               if "/" not in k and k != "primary" and not _is_count(k)]
    lines += _table(["metric", "value"], summary) + [""]
    per_label: dict[str, dict[str, float]] = {}
    for key, v in values.items():
        if "/" in key:
            metric, label = key.split("/", 1)
            per_label.setdefault(label, {})[metric] = v
    if per_label:
        metrics = list(dict.fromkeys(m for d in per_label.values() for m in d))
        rows = [[label] + [_fmt(d.get(m)) for m in metrics] for label, d in per_label.items()]
        lines += _table(["label", *metrics], rows) + [""]
    return lines


def _extra_section(extra: dict) -> list[str]:
    lines = [f"- {k}: {_fmt(v)}" for k, v in extra.items() if not isinstance(v, (dict, list, tuple))]
    nested = [k for k, v in extra.items() if isinstance(v, (dict, list, tuple)) and k != "confusion"]
    if nested:
        lines.append(f"- also in metrics.json: {', '.join(nested)}")
    return lines + [""] if lines else []


def _confusion_section(confusion: dict) -> list[str]:
    lines = ["## Confusion matrices", "", "Rows: true class; columns: predicted class.", ""] if confusion else []
    for db, tasks in confusion.items():
        for task, cm in tasks.items():
            lines += [f"### {db} — {task}", ""]
            if "matrix" not in cm:
                lines += [f"not stored: {cm.get('skipped', 'no matrix')}", ""]
                continue
            labels = cm["labels"]
            lines += _table(["", *labels], [[lab, *map(str, row)] for lab, row in zip(labels, cm["matrix"])])
            lines.append("")
    return lines


def render_markdown(results: dict, title: str, extra: dict | None = None) -> str:
    extra = extra or {}
    lines = [f"# {title}", ""] + _extra_section(extra)
    overview = [[db, task, str(v.get("primary")), _fmt(v.get(v.get("primary"))), _fmt(v.get("n"))]
                for db, tasks in results.items() for task, v in tasks.items()]
    lines += ["## Overview", ""] + _table(["database", "task", "primary", "value", "n"], overview) + [""]
    for db, tasks in results.items():
        lines += [f"## {db}", ""]
        for task, values in tasks.items():
            lines += _task_section(db, task, values)
    return "\n".join(lines + _confusion_section(extra.get("confusion") or {}))


def write_report(results: dict, out_dir, title: str, extra: dict | None = None) -> dict[str, Path]:
    """Write ``metrics.json`` (``{"title", "results", "extra"}``) and ``report.md`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    payload = to_jsonable({"title": title, "results": results, "extra": extra or {}})
    paths = {"json": out / "metrics.json", "markdown": out / "report.md"}
    atomic.write_text(paths["json"], json.dumps(payload, indent=2, allow_nan=False) + "\n")
    atomic.write_text(paths["markdown"], render_markdown(results, title, extra))
    return paths


def load_results(path) -> dict:
    """The ``results`` of a ``metrics.json`` written by `write_report`."""
    path = Path(path)
    if path.is_dir():
        path = path / "metrics.json"
    try:
        payload = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise FaceBehaviorError(f"{path}: cannot read evaluation results ({exc}); "
                                "point at a metrics.json written by an evaluation") from exc
    if "results" not in payload:
        raise FaceBehaviorError(f"{path}: no 'results' key; is it a metrics.json from an evaluation?")
    return payload["results"]


def lookup(results: dict, database: str, task: str, metric: str):
    """``results[database][task][metric]`` with loose database matching; None when absent."""
    key = normalise_name(database)
    for db, tasks in results.items():
        if normalise_name(db) == key:
            value = tasks.get(task, {}).get(metric)
            return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value
    return None


def _cell(runs: list[dict], column, digits: int) -> tuple[str, float | None]:
    values = [v for v in (lookup(r, *column[:3]) for r in runs) if v is not None]
    if not values:
        return MISSING, None
    mean = float(np.mean(values))
    if len(runs) == 1:
        return _fmt(mean, digits), mean
    text = f"{mean:.{digits}f} ± {float(np.std(values, ddof=1)) if len(values) > 1 else 0.0:.{digits}f}"
    return (text if len(values) == len(runs) else f"{text} ({len(values)}/{len(runs)} runs)"), mean


def comparison_table(rows: dict, columns: list[tuple], digits: int = 3, bold_best: bool = False) -> str:
    """Markdown table: one row per method/run, one column per ``(database, task, metric[, header])``.

    A row's value is one results dict or a list of them (seeds): cells then show mean ± sample std,
    with a ``(k/n runs)`` note when only k runs have the value. ``bold_best`` bolds each column's
    highest mean (every metric here is higher-is-better except ``rmse``, which is never bolded).
    """
    headers = [c[3] if len(c) > 3 and c[3] else f"{c[0]} {c[2]}" for c in columns]
    cells = {name: [_cell(r if isinstance(r, list) else [r], c, digits) for c in columns]
             for name, r in rows.items()}
    if bold_best:
        for j, col in enumerate(columns):
            means = [cells[n][j][1] for n in cells if cells[n][j][1] is not None]
            if means and col[2] != "rmse":
                for n in cells:
                    text, mean = cells[n][j]
                    if mean is not None and mean == max(means):
                        cells[n][j] = (f"**{text}**", mean)
    body = [[name, *(text for text, _ in cells[name])] for name in rows]
    return "\n".join(_table(["method", *headers], body)) + "\n"
