"""Negative transfer: each multi-task variant minus the single-task networks, per task and database.

The study's answer to "which tasks does sharing hurt, and does coupling or balancing repair it?": for
every variant (a coupling or balancing row) and every report column (a database's metric for one
task), the variant's mean over seeds minus the single-task network's, with Welch's 95% interval over
seeds. Below zero is negative transfer: that task, on that database, is worse learned alongside the
others than alone. The intervals are per cell and not corrected for the many cells; the study's
Holm-corrected family is in its comparisons with the baseline rows.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.studies.common import interval_table, values
from facebehavior.evaluation.significance import welch_interval


def negative_transfer(table: dict[str, list[dict]], columns, single_task: dict[str, str]) -> list[dict]:
    """[{variant, single_task, column, diff, low, high, n, n_single}] for every variant row of `table`
    (per-seed results by row name) and column both sides have a score in. `single_task`: {variant name:
    the name of the single-task row it is compared with} (scarce rows have their own)."""
    out = []
    for name, st in single_task.items():
        if name not in table or st not in table:
            continue
        for col in columns:
            a, b = values(table[name], col), values(table[st], col)
            a, b = a[~np.isnan(a)], b[~np.isnan(b)]
            if not len(a) or not len(b):
                continue
            low, high = welch_interval(a, b)
            out.append({"variant": name, "single_task": st, "column": col[3], "diff": float(a.mean() - b.mean()),
                        "low": low, "high": high, "n": int(len(a)), "n_single": int(len(b))})
    return out


def _excludes_zero(c: dict) -> bool:
    return bool(np.isfinite(c["low"]) and (c["low"] > 0 or c["high"] < 0))


def transfer_table(cells: list[dict]) -> str:
    """Markdown: one row per column (task on a database), one column per variant; each cell
    'difference [95% interval]', bold where the interval excludes zero."""
    return interval_table(cells, "column", "variant", "task on database", _excludes_zero)


def transfer_summary(cells: list[dict]) -> list[str]:
    """One line per variant: the cells whose interval lies below zero (hurt) and above it (helped)."""
    lines = []
    for v in dict.fromkeys(c["variant"] for c in cells):
        mine = [c for c in cells if c["variant"] == v]
        hurt = [c["column"] for c in mine if _excludes_zero(c) and c["diff"] < 0]
        helped = [c["column"] for c in mine if _excludes_zero(c) and c["diff"] > 0]
        tested = sum(np.isfinite(c["low"]) for c in mine)
        lines.append(f"- **{v}**: worse than single-task on {', '.join(hurt) or 'none'}; better on "
                     f"{', '.join(helped) or 'none'} ({tested} of {len(mine)} cells have an interval).")
    if cells and not any(np.isfinite(c["low"]) for c in cells):
        lines.append("- No cell has an interval: both sides need at least two seeds.")
    return lines


def plot_transfer(cells: list[dict], out_png: Path) -> Path:
    """Heat map: one row per task on a database, one column per variant, diverging colours centred on
    zero (blue: better than single-task, red: worse); a dot marks an interval that excludes zero."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import TwoSlopeNorm
    from matplotlib.figure import Figure

    variants = list(dict.fromkeys(c["variant"] for c in cells))
    columns = list(dict.fromkeys(c["column"] for c in cells))
    grid = np.full((len(columns), len(variants)), np.nan)
    for c in cells:
        grid[columns.index(c["column"]), variants.index(c["variant"])] = c["diff"]
    limit = float(np.nanmax(np.abs(grid))) if np.isfinite(grid).any() else 1.0
    limit = limit or 1.0
    fig = Figure(figsize=(2.2 + 1.1 * len(variants), 2.4 + 0.38 * len(columns)))  # room for slanted names
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    image = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", norm=TwoSlopeNorm(0.0, -limit, limit), aspect="auto")
    for c in cells:
        i, j = columns.index(c["column"]), variants.index(c["variant"])
        mark = "•" if _excludes_zero(c) else ""
        ax.text(j, i, f"{c['diff']:+.3f}{mark}", ha="center", va="center", fontsize=6.5,
                color="white" if abs(c["diff"]) > 0.6 * limit else "black")
    ax.set_xticks(range(len(variants)), variants, rotation=35, ha="right", fontsize=7)
    ax.set_yticks(range(len(columns)), columns, fontsize=7)
    ax.set_title("multi-task minus single-task (• 95% interval excludes 0)", fontsize=8)
    fig.colorbar(image, ax=ax, fraction=0.04, pad=0.02).ax.tick_params(labelsize=7)
    fig.tight_layout()
    with atomic.replacing(out_png) as tmp:
        fig.savefig(tmp, dpi=110)
    return out_png
