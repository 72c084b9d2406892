"""Per-video timelines from an analysis table: expression probabilities, valence and arousal, and
an AU heatmap over time; one PNG per face track (the longest tracks when there are many)."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError
from facebehavior.inference.annotate import EXPRESSION_COLOURS
from facebehavior.inference.output import read_results
from facebehavior.labels import AU_NAMES, EXPRESSIONS, VA_NAMES


def _file_stem(source: str, track, n_tracks: int) -> str:
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(source).stem)[:60]
    tag = hashlib.sha1(source.encode()).hexdigest()[:6]  # two videos may share a name
    return f"{stem}_{tag}" + (f"_track{int(track)}" if n_tracks > 1 else "")


def _columns_present(table: pd.DataFrame, names) -> list[str]:
    return [c for c in names if c in table and table[c].notna().any()]


def plot_track(rows: pd.DataFrame, title: str, path: Path) -> Path:
    """One figure: expression probabilities, valence/arousal and AU probabilities against time."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = rows.sort_values("frame")
    t = rows["timestamp"].to_numpy(float)
    exprs = _columns_present(rows, [f"expr_{e}" for e in EXPRESSIONS])
    vas = _columns_present(rows, VA_NAMES)
    aus = _columns_present(rows, AU_NAMES)
    fig, axes = plt.subplots(3, 1, figsize=(11, 8.5), sharex=True,
                             gridspec_kw={"height_ratios": [1.1, 0.9, 1.3]})
    ax = axes[0]
    for col in exprs:
        name = col.removeprefix("expr_")
        ax.plot(t, rows[col].to_numpy(float), label=name, lw=1.4,
                color=np.array(EXPRESSION_COLOURS.get(name, (128, 128, 128))) / 255)
    ax.set_ylim(0, 1)
    ax.set_ylabel("probability")
    ax.set_title("expressions" if exprs else "expressions: no values (head absent or never trained)")
    if exprs:
        ax.legend(loc="upper left", ncol=7, fontsize=8, frameon=False)
    ax = axes[1]
    for col, colour in zip(vas, ("tab:red", "tab:blue")):
        ax.plot(t, rows[col].to_numpy(float), label=col, color=colour, lw=1.4)
    ax.axhline(0, color="0.6", lw=0.8)
    ax.set_ylim(-1, 1)
    ax.set_ylabel("value")
    ax.set_title("valence and arousal" if vas else "valence/arousal: no values (head absent or never trained)")
    if vas:
        ax.legend(loc="upper left", ncol=2, fontsize=8, frameon=False)
    ax = axes[2]
    if aus:
        heat = rows[aus].to_numpy(float).T
        edges = _edges(t)
        mesh = ax.pcolormesh(edges, np.arange(len(aus) + 1), np.ma.masked_invalid(heat), cmap="viridis",
                             vmin=0, vmax=1, shading="flat")
        ax.set_yticks(np.arange(len(aus)) + 0.5, [a.upper() for a in aus], fontsize=7)
        ax.invert_yaxis()
        fig.colorbar(mesh, ax=axes, location="right", fraction=0.025, pad=0.01, label="AU probability")
    ax.set_title("action units" if aus else "action units: no values (head absent or never trained)")
    ax.set_xlabel("time (s)")
    fig.suptitle(title, fontsize=10)
    with atomic.replacing(path) as tmp:
        fig.savefig(tmp, dpi=110)
    plt.close(fig)
    return path


def _edges(t: np.ndarray) -> np.ndarray:
    """Cell edges around sample times (for a heatmap column per frame)."""
    if len(t) == 1:
        return np.array([t[0] - 0.5, t[0] + 0.5])
    mid = (t[1:] + t[:-1]) / 2
    return np.concatenate([[t[0] - (mid[0] - t[0])], mid, [t[-1] + (t[-1] - mid[-1])]])


def plot_timelines(results: str | Path, out_dir: str | Path, max_tracks: int = 4, min_rows: int = 2) -> list[Path]:
    """Timeline PNGs for every video in `results`; returns the files written."""
    wanted = ["source", "media", "frame", "timestamp", "track_id", "status",
              *[f"expr_{e}" for e in EXPRESSIONS], *VA_NAMES, *AU_NAMES]
    table = read_results(results)
    missing = [c for c in ("source", "media", "frame", "timestamp", "track_id") if c not in table]
    if missing:
        raise FaceBehaviorError(f"{results}: not an analysis table (no column(s) {missing})")
    table = table[[c for c in wanted if c in table]]
    videos = table[(table["media"] == "video") & (table["status"] == "ok")]
    if videos.empty:
        raise FaceBehaviorError(f"{results}: no video rows with faces to plot (timelines are drawn for videos)")
    written = []
    for source, rows in videos.groupby("source", sort=False):
        lengths = rows.groupby("track_id").size().sort_values(ascending=False)
        tracks = [k for k, n in lengths.items() if n >= min_rows][:max_tracks]
        for track in tracks:
            part = rows[rows["track_id"] == track]
            title = f"{Path(source).name} — face track {int(track)} ({len(part)} frames)"
            written.append(plot_track(part, title, Path(out_dir) / f"{_file_stem(source, track, len(tracks))}.png"))
    return written
