"""Shared by the demo studies: report columns, seed summaries, significance verdicts, bar plots."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.evaluation.report import lookup
from facebehavior.evaluation.significance import welch_difference
from facebehavior.host import cpu_model


def environment() -> dict:
    """What a study's numbers came from: the CPU (a shared machine changes host between sessions, and
    CPU kernels differ in their last bits), Python, torch, NumPy, OpenCV, and the SHA-256 of the
    requirements.lock `make` installed from (when run from the repository; None otherwise)."""
    import hashlib
    import platform

    import cv2
    import torch

    lock = Path(__file__).resolve().parents[3] / "requirements.lock"
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()[:12] if lock.is_file() else None
    return {"cpu": cpu_model(), "python": platform.python_version(), "torch": torch.__version__,
            "numpy": np.__version__, "opencv": cv2.__version__, "requirements_lock_sha256": digest,
            "installed_sha256": installed_digest()}


def installed_digest() -> str:
    """SHA-256 (12 hex) of every installed distribution's `name==version`, sorted: what identifies the
    environment when the package runs from a pip install, with no requirements.lock beside it."""
    import hashlib
    from importlib.metadata import distributions

    pins = sorted({f"{(d.metadata['Name'] or '').lower()}=={d.version}" for d in distributions()})
    return hashlib.sha256("\n".join(pins).encode()).hexdigest()[:12]


def environment_line(env: dict) -> str:
    lock = f"requirements.lock {env['requirements_lock_sha256']}" if env.get("requirements_lock_sha256") \
        else "no requirements.lock (not run from the repository)"
    if env.get("installed_sha256"):
        lock += f"; installed packages {env['installed_sha256']} (every name==version, sorted)"
    cpu = f"CPU {env['cpu']}; " if env.get("cpu") else ""
    return (f"Versions: {cpu}Python {env['python']}, torch {env['torch']}, NumPy {env['numpy']}, "
            f"OpenCV {env['opencv']}; {lock}.")


# How a task's protocol metric becomes table columns: (metric key, header suffix).
_COLUMN_METRICS = {"ccc": [("ccc/valence", "CCC-V"), ("ccc/arousal", "CCC-A")]}


def report_columns(preset: dict) -> list[tuple[str, str, str, str]]:
    """(database, task, metric, header) for every training and unseen database of a preset."""
    cols = []
    for db in preset["databases"]:
        if db["role"] not in ("train", "unseen"):
            continue
        for task, metric in db["metrics"].items():
            tag = f"{db['name']}{' (unseen)' if db['role'] == 'unseen' else ''}"
            for key, header in _COLUMN_METRICS.get(metric, [(metric, metric)]):
                cols.append((db["name"], task, key, f"{tag} {task} {header}"))
    return cols


def values(results_list: list[dict], column) -> np.ndarray:
    db, task, metric = column[:3]
    got = [lookup(r, db, task, metric) for r in results_list]
    return np.array([np.nan if v is None else float(v) for v in got])


def signed(x, digits: int = 3) -> str:
    """A difference as '+0.012' ('–' when missing or NaN)."""
    return "–" if x is None or not np.isfinite(x) else f"{x:+.{digits}f}"


def interval_table(cells: list[dict], row_key: str, column_key: str, corner: str, bold) -> str:
    """Markdown grid of 'difference [low, high]' cells (dicts with diff, low, high), one row per
    distinct `row_key` value and one column per distinct `column_key` value, in first-seen order;
    `bold(cell)` says which to set in bold."""
    rows = list(dict.fromkeys(c[row_key] for c in cells))
    columns = list(dict.fromkeys(c[column_key] for c in cells))
    by = {(c[row_key], c[column_key]): c for c in cells}
    lines = [f"| {corner} | " + " | ".join(columns) + " |", "|" + "---|" * (len(columns) + 1)]
    for r in rows:
        texts = []
        for col in columns:
            c = by.get((r, col))
            text = "" if c is None else f"{signed(c['diff'])} [{signed(c['low'])}, {signed(c['high'])}]"
            texts.append(f"**{text}**" if c is not None and bold(c) else text)
        lines.append(f"| {r} | " + " | ".join(texts) + " |")
    return "\n".join(lines)


def summarise_runs(rows: dict[str, list[dict]], columns) -> dict:
    """{row: {header: {"mean", "std", "n"}}} plus each row's mean over all columns."""
    out = {}
    for name, results_list in rows.items():
        cells = {}
        for col in columns:
            v = values(results_list, col)
            v = v[~np.isnan(v)]
            cells[col[3]] = {"mean": float(v.mean()) if len(v) else None,
                             "std": float(v.std(ddof=1)) if len(v) > 1 else None, "n": int(len(v))}
        means = [c["mean"] for c in cells.values() if c["mean"] is not None]
        cells["average"] = {"mean": float(np.mean(means)) if means else None, "std": None, "n": len(means)}
        out[name] = cells
    return out


def compare_to_baseline(rows: dict[str, list[dict]], baseline: str, columns, alpha: float = 0.05) -> list[str]:
    """Plain-language verdict per variant and metric: helped / hurt / no significant difference."""
    base = rows[baseline]
    lines = []
    for name, results_list in rows.items():
        if name == baseline:
            continue
        helped, hurt, same = [], [], []
        for col in columns:
            diff, p = welch_difference(values(results_list, col), values(base, col))
            if np.isnan(diff):  # a side without this score
                continue
            cell = f"{col[3]} ({diff:+.3f}{'' if np.isnan(p) else f', p={p:.2f}'})"
            if not np.isnan(p) and p < alpha:
                (helped if diff > 0 else hurt).append(cell)
            else:
                same.append(cell)
        verdict = "helped" if helped and not hurt else "hurt" if hurt and not helped else \
            "mixed" if helped and hurt else "made no significant difference"
        lines.append(f"- **{name}** {verdict}. Significantly better: {', '.join(helped) or 'none'}. "
                     f"Significantly worse: {', '.join(hurt) or 'none'}. No significant difference: "
                     f"{', '.join(same) or 'none'}.")
    if any("p=" not in line for line in lines) and len(base) < 2:
        lines.append("- With one seed per variant no significance test is possible; differences above are single runs.")
    return lines


def plot_variant_bars(summary: dict, columns, out_png: Path) -> Path:
    """Grouped bars: one group per metric column, one bar per row, error bars = std over seeds."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    headers = [c[3] for c in columns]
    names = list(summary)
    fig = Figure(figsize=(max(8, 0.9 * len(headers) + 2), 4.5))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    width = 0.8 / max(1, len(names))
    for i, name in enumerate(names):
        means = [summary[name][h]["mean"] or 0 for h in headers]
        errs = [summary[name][h]["std"] or 0 for h in headers]
        ax.bar(np.arange(len(headers)) + i * width, means, width, yerr=errs, label=name, capsize=2)
    ax.set_xticks(np.arange(len(headers)) + 0.4 - width / 2, headers, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("metric (higher is better)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    with atomic.replacing(out_png) as tmp:
        fig.savefig(tmp, dpi=110)
    return out_png
