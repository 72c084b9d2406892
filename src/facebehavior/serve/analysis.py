"""What a job does: the uploaded files through `analyze_files` (the code behind `facebehavior analyze`,
with the server's one loaded model), then what the page shows, drawn from the table it wrote.

Files of a finished job (names as served under ``/api/jobs/<id>/files/``):

- ``results.csv``, ``results.csv.meta.json``, ``results.csv.errors.csv``: exactly what
  ``facebehavior analyze <files> --out results.csv`` writes; ``results.parquet``: the same rows
  through the same Parquet writer; ``uploads.csv``: each row's ``source`` beside the name the
  browser gave the file (the server stores uploads under names it chooses);
- ``annotated-<k>.jpg`` (photos: boxes and face numbers drawn by `inference.annotate`),
  ``annotated-<k>.webm`` (videos, at most 960 px wide) and ``keyframe-<k>-<n>.jpg``;
- ``timeline-<k>-<n>.png``: `facebehavior plot`'s timelines, one per face track.
"""

from __future__ import annotations

import csv
import math
import re
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.inference.analyzer import SourceDone, SourceFailed
from facebehavior.inference.timing import StageTimes

MAX_POINTS = 1500      # timeline points per face track on the page (the table has every frame)
MAX_TRACKS = 8         # face tracks per video on the page (the longest)
KEYFRAMES = 12         # still frames per video (more when no WebM preview can be written)
PREVIEW_WIDTH = 960    # annotated WebM preview: at most this wide
SERIES_DECIMALS = 5    # timeline values on the page are rounded to this many decimals
_PLOT_LOCK = threading.Lock()  # matplotlib's pyplot is not thread-safe

REASONS = {  # analyze's error reasons (docs/analyze.md) in words for the page
    "missing_file": "the file was not found",
    "unreadable_file": "the file could not be read",
    "unreadable_image": "not a readable image (corrupt, truncated, or not an image at all)",
    "unreadable_video": "the video cannot be opened (corrupt, truncated, or a codec OpenCV lacks)",
    "truncated_video": "the video is truncated: only the frames that could be decoded were analysed",
    "decode_error": "decoding stopped part-way through the video: the frames before were analysed",
    "error": "the analysis failed on this file",
}
TITLES = {"multiclass": "Expressions", "multilabel": "Action units", "regression": "Valence and arousal"}


# ---- progress -------------------------------------------------------------------------------------------

class ProgressTimes(StageTimes):
    """The analyzer's stage timer; counts video frames as they are decoded (`hook` is called per frame)."""

    def __init__(self):
        super().__init__()
        self.hook = None

    def add(self, stage: str, seconds: float) -> None:
        super().add(stage, seconds)
        hook = self.hook
        if stage == "decode" and hook is not None:
            hook()


class JobAnalyzer:
    """The loaded `FaceBehavior` as one job's `analyze_files` sees it: the same object, but `process`
    reports which file is being read and stops at the next chunk of rows when the job is removed."""

    def __init__(self, analyzer, job, on_file):
        self._analyzer, self._job, self._on_file = analyzer, job, on_file

    def __getattr__(self, name):
        return getattr(self._analyzer, name)

    def process(self, inputs, opts):
        def announced():
            for item in inputs:
                self._on_file(item)
                yield item

        for event in self._analyzer.process(announced(), opts):
            self._job.check_cancelled()
            yield event
            if isinstance(event, (SourceDone, SourceFailed)):
                self._job.progress["files_done"] = self._job.progress.get("files_done", 0) + 1


def video_frame_count(path: Path) -> tuple[int, float]:
    """(frames the container declares, frames per second), (0, 0.0) when unknown."""
    from facebehavior.inference.video import VideoReadError, open_video

    try:
        capture, info = open_video(path)
    except VideoReadError:
        return 0, 0.0
    capture.release()
    return max(0, info.frame_count), info.fps


# ---- the job ----------------------------------------------------------------------------------------------

class JobRunner:
    """Runs jobs with one loaded model (one runner per worker thread)."""

    def __init__(self, analyzer, settings: dict, times: ProgressTimes):
        self.analyzer, self.settings, self.times = analyzer, settings, times

    def config(self, inputs: list[str], out: Path):
        from facebehavior.inference.run import AnalyzeConfig

        return AnalyzeConfig(inputs=inputs, out=str(out), overwrite=True, progress=False, **self.settings)

    def run(self, job) -> None:
        from facebehavior.inference.run import analyze_files

        uploads = job.uploads
        progress = job.progress
        progress.update(stage="analysing", files_total=len(uploads), files_done=0, current=None, media=None,
                        frames_done=0, frames_total=0, fps=None)
        totals = {str(u.path): video_frame_count(u.path)[0] if u.media == "video" else 0 for u in uploads}
        names = {str(u.path): u.name for u in uploads}
        clock = {"start": time.perf_counter()}

        def on_file(item):
            progress.update(current=names.get(item.source, item.name), media=item.media, frames_done=0,
                            frames_total=totals.get(item.source, 0), fps=None)
            clock["start"] = time.perf_counter()

        def on_frame():
            progress["frames_done"] = progress.get("frames_done", 0) + 1
            elapsed = time.perf_counter() - clock["start"]
            if elapsed > 0.2:
                progress["fps"] = round(progress["frames_done"] / elapsed, 1)

        results = job.folder / "results"
        results.mkdir()
        out = results / "results.csv"
        cfg = self.config([str(u.path) for u in uploads], out)
        said: list[str] = []
        self.times.hook = on_frame
        try:
            summary = analyze_files(cfg, say=said.append, analyzer=JobAnalyzer(self.analyzer, job, on_file))
        finally:
            self.times.hook = None
        job.check_cancelled()
        progress.update(stage="drawing", current=None, media=None)
        job.result = PageBuilder(job, self.analyzer.info, self.analyzer.columns, out, summary, said).build()
        progress["stage"] = "done"


# ---- what the page shows -----------------------------------------------------------------------------------

def _num(value, decimals: int | None = None):
    """A JSON number, or None for a missing / non-finite value."""
    if value is None or value is pd.NA:
        return None
    try:
        x = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(x):
        return None
    return round(x, decimals) if decimals is not None else x


def _bool(value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    return bool(value)


def shown_tasks(info) -> list[dict]:
    """The heads the page shows: those the model has and trained, each with its columns."""
    from facebehavior.inference.columns import label_column

    out = []
    untrained = info.untrained_labels or {}
    for t in info.tasks:
        if t.name not in info.trained:
            continue
        # AU / regression labels without training annotations have no values (analyze leaves them null)
        hidden = [] if t.kind == "multiclass" else [label for label in t.labels if label in untrained.get(t.name, [])]
        labels = [label for label in t.labels if label not in hidden]
        if not labels:
            continue
        entry = {"name": t.name, "kind": t.kind, "labels": labels, "title": TITLES[t.kind],
                 "columns": [label_column(t, label) for label in labels], "hidden": hidden}
        if t.kind == "multiclass":
            entry["top"] = f"{t.name}_top"
            if set(t.labels) != {"neutral", "anger", "disgust", "fear", "happiness", "sadness", "surprise"}:
                entry["title"] = t.name
        elif t.kind == "multilabel":
            entry["on"] = [f"{label}_on" for label in labels]
            if not all(re.fullmatch(r"au\d+", label) for label in t.labels):
                entry["title"] = t.name
        else:
            entry["circumplex"] = tuple(labels) == ("valence", "arousal")
            if not entry["circumplex"]:
                entry["title"] = t.name
        out.append(entry)
    return out


def write_parquet(csv_path: Path, parquet_path: Path, columns: dict[str, str]) -> None:
    """The CSV table as Parquet, through analyze's own writer (the rows read back as it reads its parts)."""
    from facebehavior.inference.columns import coerce
    from facebehavior.inference.output import TableAppender

    appender = TableAppender(parquet_path, columns)
    try:
        if csv_path.is_file() and csv_path.stat().st_size:
            for table in pd.read_csv(csv_path, dtype=str, keep_default_na=False, na_values=[""], chunksize=20000):
                appender.write(coerce(table, columns))
    finally:
        appender.close()


class PageBuilder:
    def __init__(self, job, info, columns: dict[str, str], out: Path, summary: dict, said: list[str]):
        self.job, self.info, self.columns, self.out, self.summary = job, info, columns, out, summary
        self.said = said
        self.tasks = shown_tasks(info)
        self.paths = {str(u.path): u for u in job.uploads}

    def _names(self, text: str) -> str:
        """Server paths in a message replaced by the names the files were uploaded with."""
        for source, upload in self.paths.items():
            text = text.replace(source, upload.name)
        return text.replace(str(self.job.folder), "")

    def build(self) -> dict:
        from facebehavior.inference.output import errors_path, meta_path, read_results

        job, out = self.job, self.out
        write_parquet(out, out.with_suffix(".parquet"), self.columns)
        self._write_uploads_csv(out.parent / "uploads.csv")
        job.add_file("results.csv", out, "text/csv", "Table (CSV)")
        job.add_file("results.parquet", out.with_suffix(".parquet"), "application/vnd.apache.parquet",
                     "Table (Parquet)")
        job.add_file("results.csv.meta.json", meta_path(out), "application/json", "Run details (JSON)")
        job.add_file("results.csv.errors.csv", errors_path(out), "text/csv", "Files not analysed (CSV)")
        job.add_file("uploads.csv", out.parent / "uploads.csv", "text/csv", "Uploaded file names (CSV)")
        from facebehavior.inference.columns import coerce

        table = coerce(read_results(out) if out.stat().st_size else pd.DataFrame(), self.columns)
        errors: dict[str, dict] = {}
        for e in self.summary.get("errors", []):
            errors.setdefault(e["source"], e)
        files = []
        for upload in job.uploads:
            job.check_cancelled()
            rows = table[table["source"] == str(upload.path)]
            entry = {**upload.as_dict(), "status": "ok", "error": None}
            error = errors.get(str(upload.path))
            if error:
                entry["error"] = {"reason": error["reason"], "text": REASONS.get(error["reason"], error["reason"]),
                                  "detail": self._names(error["detail"])}
            media = (rows["media"].iloc[0] if len(rows) else None) or upload.media
            entry["media"] = media
            if rows.empty:
                entry["status"] = "error" if error else "no_rows"
            elif media == "video":
                entry.update(self.video(upload, rows))
            else:
                entry.update(self.image(upload, rows))
            if error and not rows.empty:
                entry["status"] = "partial"
            files.append(entry)
        self.timelines(files)
        s = self.summary
        counts = {k: s.get(k, 0) for k in ("inputs", "analysed", "failed", "partial", "rows", "faces", "frames",
                                           "no_face")}
        notes = [self._names(n) for n in self.said + s.get("notes", [])]
        downloads = [{"name": name, "label": f.label, "size": f.path.stat().st_size if f.path.is_file() else 0}
                     for name, f in job.files.items() if f.label]
        return {"tasks": self.tasks, "files": files, "counts": counts, "notes": notes, "downloads": downloads}

    def _write_uploads_csv(self, path: Path) -> None:
        with atomic.replacing(path) as tmp, tmp.open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow(["source", "uploaded_name", "media", "bytes"])
            for u in self.job.uploads:
                w.writerow([str(u.path), u.name, u.media or "", u.size])

    def values(self, row, decimals: int | None = None) -> dict:
        out = {}
        for t in self.tasks:
            for c in t["columns"]:
                out[c] = _num(row.get(c), decimals)
            if "top" in t:
                top = row.get(t["top"])
                out[t["top"]] = None if top is None or pd.isna(top) else str(top)
            for c in t.get("on", []):
                out[c] = _bool(row.get(c))
        return out

    # photos
    def image(self, upload, rows: pd.DataFrame) -> dict:
        from facebehavior.data.faces.io import ImageReadError, encode_image, read_image
        from facebehavior.inference.annotate import draw_faces

        ok = rows[rows["status"] == "ok"]
        faces = []
        for _, row in ok.iterrows():
            faces.append({"face_index": int(row["face_index"]),
                          "box": [_num(row[c]) for c in ("box_x", "box_y", "box_w", "box_h")],
                          "det_score": _num(row.get("det_score")), "values": self.values(row)})
        entry = {"status": "ok" if faces else "no_face", "faces": faces}
        try:
            image = read_image(upload.path)
        except ImageReadError:
            return entry
        numbered = rows.assign(track_id=rows["face_index"])  # the face numbers of the page on the picture
        drawn = draw_faces(image, numbered, self.info.tasks)
        name = f"annotated-{upload.index}.jpg"
        path = self.job.folder / name
        atomic.write_bytes(path, encode_image(drawn, "jpg", 90))
        entry.update(annotated=self.job.add_file(name, path, "image/jpeg", f"Annotated: {upload.name} (JPEG)"),
                     width=int(image.shape[1]), height=int(image.shape[0]))
        return entry

    # videos
    def video(self, upload, rows: pd.DataFrame) -> dict:
        rows = rows.sort_values(["frame", "face_index"], na_position="first")
        frames = rows.drop_duplicates("frame")[["frame", "timestamp"]]
        ok = rows[rows["status"] == "ok"]
        lengths = ok.groupby("track_id").size().sort_values(ascending=False, kind="stable")
        tracks = [self.track(int(k), ok[ok["track_id"] == k]) for k in list(lengths.index)[:MAX_TRACKS]]
        _, fps = video_frame_count(upload.path)
        entry = {"status": "ok" if len(ok) else "no_face", "frames": int(len(frames)),
                 "frames_without_face": int((rows["status"] == "no_face").sum()),
                 "duration": _num(frames["timestamp"].max()), "fps": _num(fps) if fps else None,
                 "tracks": tracks, "tracks_not_shown": max(0, len(lengths) - MAX_TRACKS)}
        entry.update(self.preview(upload, rows, frames))
        return entry

    def track(self, track_id: int, rows: pd.DataFrame) -> dict:
        n = len(rows)
        keep = np.unique(np.linspace(0, n - 1, min(n, MAX_POINTS)).round().astype(int))
        sample = rows.iloc[keep]
        series = {"t": [_num(v) for v in sample["timestamp"]], "frame": [int(v) for v in sample["frame"]]}
        summary: dict = {}
        for t in self.tasks:
            for c in t["columns"]:
                series[c] = [_num(v, SERIES_DECIMALS) for v in sample[c]]
            for c in t.get("on", []):
                series[c] = [_bool(v) for v in sample[c]]
            if t["kind"] == "multiclass":
                top = rows[t["top"]].dropna()
                summary[t["name"]] = {label: float((top == label).sum() / n) for label in t["labels"]}
            elif t["kind"] == "multilabel":
                summary[t["name"]] = {label: _num(rows[on].astype("Float64").mean())
                                      for label, on in zip(t["labels"], t["on"])}
            else:
                summary[t["name"]] = {label: _num(rows[c].mean()) for label, c in zip(t["labels"], t["columns"])}
        times = rows["timestamp"].to_numpy(float)
        return {"track_id": track_id, "rows": n, "start": _num(times.min()), "end": _num(times.max()),
                "series": series, "summary": summary, "points": len(keep)}

    def preview(self, upload, rows: pd.DataFrame, frames: pd.DataFrame) -> dict:
        """The video with the results drawn on it (WebM, for the page's player) and key frames."""
        import cv2

        from facebehavior.data.faces.io import encode_image
        from facebehavior.inference.annotate import draw_faces
        from facebehavior.inference.video import VideoReadError, iter_frames, open_video

        by_frame = {int(k): g for k, g in rows.groupby("frame")}
        order = sorted(by_frame)
        try:
            capture, info = open_video(upload.path)
            capture.release()
        except VideoReadError:
            return {}
        scale = min(1.0, PREVIEW_WIDTH / max(1, info.width))
        size = (int(round(info.width * scale / 2)) * 2, int(round(info.height * scale / 2)) * 2)
        # Streamed, not atomic: it lives in the job's temporary folder and the page links it only after release.
        webm = self.job.folder / f"annotated-{upload.index}.webm"
        writer = cv2.VideoWriter(str(webm), cv2.VideoWriter_fourcc(*"VP80"), float(info.fps or 25.0), size)
        if not writer.isOpened():
            writer = None
        count = min(len(order), KEYFRAMES if writer is not None else 4 * KEYFRAMES)
        picks = np.unique(np.linspace(0, len(order) - 1, count).round().astype(int)) if order else []
        wanted = {order[i] for i in picks}
        keyframes = []
        times = dict(zip(frames["frame"].astype(int), frames["timestamp"].astype(float)))
        self.job.progress.update(stage="drawing", current=upload.name, media="video", frames_done=0,
                                 frames_total=len(order))
        try:
            for vf in iter_frames(upload.path):
                group = by_frame.get(vf.index)
                if group is None:
                    continue
                self.job.progress["frames_done"] += 1
                if self.job.progress["frames_done"] % 50 == 0:
                    self.job.check_cancelled()
                drawn = draw_faces(vf.image, group, self.info.tasks)
                small = cv2.resize(drawn, size, interpolation=cv2.INTER_AREA) if size != drawn.shape[1::-1] else drawn
                if writer is not None:
                    writer.write(cv2.cvtColor(small, cv2.COLOR_RGB2BGR))
                if vf.index in wanted:
                    k = len(keyframes)
                    thumb_w = min(480, small.shape[1])
                    thumb = cv2.resize(small, (thumb_w, int(round(small.shape[0] * thumb_w / small.shape[1]))),
                                       interpolation=cv2.INTER_AREA)
                    name = f"keyframe-{upload.index}-{k}.jpg"
                    path = self.job.folder / name
                    atomic.write_bytes(path, encode_image(thumb, "jpg", 85))
                    keyframes.append({"t": _num(times.get(vf.index)), "frame": int(vf.index),
                                      "url": self.job.add_file(name, path, "image/jpeg", attachment=False)})
        except VideoReadError:
            pass  # the rows say how far the analysis got; the preview stops where decoding does
        finally:
            if writer is not None:
                writer.release()
        out = {"keyframes": keyframes}
        if writer is not None and webm.is_file() and webm.stat().st_size:
            out["preview"] = self.job.add_file(webm.name, webm, "video/webm", f"Annotated: {upload.name} (WebM)")
        return out

    def timelines(self, files: list[dict]) -> None:
        """`facebehavior plot`'s PNG timelines for the videos, attached to their files."""
        from facebehavior.errors import FaceBehaviorError
        from facebehavior.inference.timeline import plot_timelines

        videos = {f["index"]: f for f in files if f.get("media") == "video" and f.get("tracks")}
        if not videos:
            return
        folder = self.job.folder / "plots"
        with _PLOT_LOCK:
            try:
                written = plot_timelines(self.out, folder)
            except FaceBehaviorError:
                return
        for n, path in enumerate(written):
            index = int(path.name.split("_")[0]) if path.name.split("_")[0].isdigit() else None
            entry = videos.get(index)
            if entry is None:
                continue
            m = re.search(r"_track(\d+)\.png$", path.name)
            track = int(m.group(1)) if m else entry["tracks"][0]["track_id"]
            name = f"timeline-{index}-{track}.png"
            self.job.add_file(name, path, "image/png", f"Timeline: {entry['name']}, face track {track} (PNG)")
            entry.setdefault("plots", []).append({"track_id": track, "url": name})
