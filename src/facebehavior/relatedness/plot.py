"""Heatmap of a relatedness matrix (matplotlib, imported lazily)."""

from __future__ import annotations

from pathlib import Path

from facebehavior import atomic
from facebehavior.relatedness.tables import Relatedness


def plot_heatmap(rel: Relatedness, path: str | Path, title: str = "") -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    h, w = rel.weights.shape
    fig, ax = plt.subplots(figsize=(max(4, 0.45 * w + 2), max(3, 0.4 * h + 1.5)))
    im = ax.imshow(rel.weights, vmin=0, vmax=1, cmap="viridis", aspect="auto")
    ax.set_xticks(range(w), rel.cols, rotation=90, fontsize=8)
    ax.set_yticks(range(h), rel.rows, fontsize=8)
    if h * w <= 600:
        for i in range(h):
            for j in range(w):
                v = rel.weights[i, j]
                if v > 0:
                    ax.text(j, i, f"{v:.2f}", ha="center", va="center", fontsize=6,
                            color="black" if v > 0.5 else "white")
    ax.set_title(title or rel.source)
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    path = Path(path)
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=120)
    plt.close(fig)
    return path
