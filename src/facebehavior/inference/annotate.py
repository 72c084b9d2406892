"""Annotated copies of the inputs: on each face its box, the top expression, a valence/arousal
marker and AU bars (OpenCV drawing). Images keep their names; videos are written as MP4 (mp4v) at
the analysed frame rate (the original rate divided by the stride)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.data.faces.io import encode_image
from facebehavior.labels import TaskSpec

# Colours (RGB) for the basic expressions; other labels get grey.
EXPRESSION_COLOURS = {
    "neutral": (200, 200, 200), "anger": (230, 40, 40), "disgust": (120, 170, 40), "fear": (150, 80, 200),
    "happiness": (250, 200, 30), "sadness": (60, 110, 230), "surprise": (250, 130, 30),
}
WRITABLE_IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


def _font_scale(image: np.ndarray) -> float:
    return max(0.35, min(image.shape[:2]) / 900)


def _text(image, text, org, scale, colour, thickness=1):
    x, y = int(org[0]), int(org[1])
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thickness + 2, cv2.LINE_AA)
    cv2.putText(image, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, scale, colour, thickness, cv2.LINE_AA)


def _label(image, text, x, y_bottom, scale, colour):
    """Text on a filled box in `colour` whose bottom-left corner is (x, y_bottom)."""
    (tw, th), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    x, y_bottom = int(max(0, x)), int(max(th + base + 2, y_bottom))
    cv2.rectangle(image, (x, y_bottom - th - base - 4), (x + tw + 6, y_bottom), colour, -1)
    cv2.putText(image, text, (x + 3, y_bottom - base - 1), cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), 1,
                cv2.LINE_AA)


def _va_marker(image, x, y, size, valence, arousal):
    """A circle with valence to the right and arousal up, and a dot where the face is."""
    r = size // 2
    centre = (int(x + r), int(y + r))
    overlay = image.copy()
    cv2.circle(overlay, centre, r, (0, 0, 0), -1)
    cv2.addWeighted(overlay, 0.45, image, 0.55, 0, dst=image)
    cv2.circle(image, centre, r, (255, 255, 255), 1, cv2.LINE_AA)
    cv2.line(image, (centre[0] - r, centre[1]), (centre[0] + r, centre[1]), (160, 160, 160), 1)
    cv2.line(image, (centre[0], centre[1] - r), (centre[0], centre[1] + r), (160, 160, 160), 1)
    if np.isfinite(valence) and np.isfinite(arousal):
        dot = (int(centre[0] + valence * r), int(centre[1] - arousal * r))
        cv2.circle(image, dot, max(2, r // 6), (255, 60, 60), -1, cv2.LINE_AA)


def _au_bars(image, x, y, width, height, probs, on, names, scale):
    """One bar per AU, filled to its probability; green when the AU is on."""
    n = len(probs)
    step = max(3.0, width / n)
    small = max(0.28, scale * 0.55)
    (_, text_h), _ = cv2.getTextSize("26", cv2.FONT_HERSHEY_SIMPLEX, small, 1)
    labels = step >= 12
    panel_bottom = int(y + height + (text_h + 6 if labels else 2))
    cv2.rectangle(image, (int(x) - 2, int(y) - 2), (int(x + n * step) + 1, panel_bottom), (0, 0, 0), -1)
    for k, (p, active, name) in enumerate(zip(probs, on, names)):
        x0 = int(x + k * step)
        x1 = int(x + (k + 1) * step) - 2
        cv2.rectangle(image, (x0, int(y)), (x1, int(y + height)), (70, 70, 70), -1)
        if np.isfinite(p):
            top = int(y + height * (1 - p))
            cv2.rectangle(image, (x0, top), (x1, int(y + height)), (40, 210, 90) if active else (150, 150, 150), -1)
        if labels:
            cv2.putText(image, name.replace("au", ""), (x0, int(y + height + text_h + 3)), cv2.FONT_HERSHEY_SIMPLEX,
                        small, (255, 255, 255), 1, cv2.LINE_AA)


def _task(tasks: list[TaskSpec], name: str, fits) -> TaskSpec | None:
    """The task called `name` if it fits, else the first task that does."""
    named = [t for t in tasks if t.name == name and fits(t)]
    return named[0] if named else next((t for t in tasks if fits(t)), None)


def draw_faces(image: np.ndarray, rows: pd.DataFrame, tasks: list[TaskSpec]) -> np.ndarray:
    """A copy of `image` (RGB) with every face row drawn on it."""
    out = image.copy()
    scale = _font_scale(out)
    expr = _task(tasks, "expr", lambda t: t.kind == "multiclass")
    aus = _task(tasks, "au", lambda t: t.kind == "multilabel")
    va = _task(tasks, "va", lambda t: t.kind == "regression" and len(t.labels) == 2)
    for _, row in rows[rows["status"] == "ok"].iterrows():
        x, y, w, h = (float(row[c]) for c in ("box_x", "box_y", "box_w", "box_h"))
        top = row.get(f"{expr.name}_top") if expr else None
        colour = EXPRESSION_COLOURS.get(str(top), (220, 220, 220))
        cv2.rectangle(out, (int(x), int(y)), (int(x + w), int(y + h)), colour, max(1, int(2 * scale)))
        label = f"#{int(row['track_id'])} " if pd.notna(row.get("track_id")) else ""
        if top is not None and pd.notna(top):
            label += f"{top} {float(row[f'{expr.name}_{top}']):.2f}"
        if label:
            _label(out, label, x - 1, y - 1, scale, colour)
        side = int(max(40, min(w, h) * 0.5))
        if va is not None and pd.notna(row.get(va.labels[0])):
            _va_marker(out, x + w + 6, y, side, float(row[va.labels[0]]), float(row[va.labels[1]]))
            _label(out, f"V {float(row[va.labels[0]]):+.2f} A {float(row[va.labels[1]]):+.2f}", x + w + 6,
                   y + side + 20 * scale / 0.5, scale * 0.8, (230, 230, 230))
        if aus is not None and pd.notna(row.get(aus.labels[0])):
            probs = [float(row[a]) for a in aus.labels]
            on = [bool(row[f"{a}_on"]) if pd.notna(row[f"{a}_on"]) else False for a in aus.labels]
            width = max(w, 13 * len(probs))
            _au_bars(out, x, y + h + 6, width, max(16, h * 0.22), probs, on, aus.labels, scale)
    return out


class Annotator:
    """Receives analysed frames with their rows and writes annotated copies under `folder`."""

    def __init__(self, folder: str | Path, tasks: list[TaskSpec], names: dict[str, str]):
        self.folder, self.tasks, self.names = Path(folder), tasks, names
        self.writers: dict[str, tuple[cv2.VideoWriter, Path, Path]] = {}  # source: writer, temporary, final
        self.written: list[Path] = []

    def target(self, source: str, media: str) -> Path:
        name = Path(self.names.get(source, Path(source).name))
        if media == "video":
            name = name.with_suffix(".mp4")
        elif name.suffix.lower() not in WRITABLE_IMAGE_SUFFIXES:
            name = name.with_suffix(name.suffix + ".png")
        path = self.folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        return path

    def add(self, job, rows: pd.DataFrame) -> None:
        if job.image is None:
            return
        drawn = draw_faces(job.image, rows, self.tasks)
        if job.media == "image":
            path = self.target(job.source, "image")
            atomic.write_bytes(path, encode_image(drawn, path.suffix))  # raises, never skips, if it cannot encode
            self.written.append(path)
            return
        drawn = cv2.cvtColor(drawn, cv2.COLOR_RGB2BGR)
        if job.source not in self.writers:
            path = self.target(job.source, "video")
            tmp = atomic.temp_path(path)  # streamed frame by frame; renamed into place by `finish`
            h, w = drawn.shape[:2]
            writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), float(job.fps or 25.0), (w, h))
            self.writers[job.source] = (writer, tmp, path)
            self.written.append(path)
        self.writers[job.source][0].write(drawn)

    def add_rows(self, jobs, table: pd.DataFrame) -> None:
        """Annotate `jobs` given the rows made from them (one per face, or one per faceless frame)."""
        start = 0
        for job in jobs:
            n = max(1, len(job.faces))
            self.add(job, table.iloc[start:start + n])
            start += n

    def finish(self, source: str) -> None:
        entry = self.writers.pop(source, None)
        if entry is not None:
            writer, tmp, path = entry
            writer.release()
            if tmp.is_file():
                tmp.replace(path)

    def close(self) -> None:
        for source in list(self.writers):
            self.finish(source)
