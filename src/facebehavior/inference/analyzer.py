"""`FaceBehavior`: faces in images and videos → one table row per face per image or frame.

The pipeline is a chain of generators, so a video of any length streams through in bounded memory:

    inputs ─decode─▶ frames ─detect/track, align─▶ face crops ─network, in batches─▶ outputs
           ─median filter (videos, optional)─▶ rows (pandas chunks) + markers (input done / failed)

    >>> fb = FaceBehavior.load("runs/x/checkpoints/best")
    >>> fb.predict("photo.jpg")               # or an RGB uint8 array, a PIL image, a list of those
    >>> fb.predict(crop, aligned=True)         # an aligned face crop: no detection
    >>> fb.predict_video("clip.mp4", stride=2, median=5)

Videos default to the fast face finding measured in benchmarks/bench_detect_quality.py: detection
on every 5th frame with optical-flow tracking in between, at a scale whose smallest face is 1/12 of
the frame's shorter side, checked every 2 s at full sensitivity (at most once per 12 detections;
see locate.py). Images get full detection. `detect_every=1, min_face=None` is the exact, slow path.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import pandas as pd

from facebehavior.errors import FaceBehaviorError
from facebehavior.inference import columns as C
from facebehavior.inference.inputs import Input
from facebehavior.inference.locate import AUTO, FaceFinder, FoundFace, VideoFaceTracker
from facebehavior.inference.timing import NO_TIMES, StageTimes
from facebehavior.inference.video import DecodeSummary, MedianSmoother, SmoothItem, VideoReadError, iter_frames


DEFAULT_DETECT_EVERY = 5  # videos: see the module docstring
CHECK_SECONDS = 2.0       # videos: a full-sensitivity detection this often while the scale is reduced,
CHECK_MIN_DETECTIONS = 12  # ... but only once per this many regular detections


@dataclass
class AnalyzeOptions:
    aligned: bool = False        # inputs are aligned face crops: no detection
    stride: int = 1              # videos: analyse every N-th frame
    median: int = 0              # videos: centred median filter over each track, in processed frames (0 = off)
    detect_every: int = DEFAULT_DETECT_EVERY  # videos: run the detector every K-th processed frame, track in between
    keep_images: bool = False    # keep frame pixels on each FrameJob (for annotated copies)
    compound: str | None = None  # zero-shot compound classes to score ("rafdb" / "emotionet")
    min_face: int | str | None = AUTO  # smallest face to find (px); None/0 = the detector's own; "auto": see above

    def __post_init__(self):
        self.min_face = check_min_face(self.min_face)
        if int(self.detect_every) < 1:
            raise FaceBehaviorError(f"--detect-every must be at least 1, got {self.detect_every}")
        if isinstance(self.stride, bool) or not isinstance(self.stride, (int, np.integer)) or self.stride < 1:
            raise FaceBehaviorError(f"--stride must be a whole number of at least 1, got {self.stride!r}")
        if isinstance(self.median, bool) or not isinstance(self.median, (int, np.integer)) or self.median < 0 \
                or (self.median and self.median % 2 == 0):
            raise FaceBehaviorError(f"--median must be 0 (off) or an odd number of frames (e.g. 5, 9, 15), "
                                    f"got {self.median!r}")

    @property
    def image_min_face(self) -> int | None:
        """Images: full sensitivity unless a size was given."""
        return None if self.min_face == AUTO else self.min_face


def check_min_face(value) -> int | str | None:
    """`value` as "auto", None (the detector's minimum) or a positive number of pixels."""
    if value is None or value == AUTO:
        return value
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise FaceBehaviorError(f"--min-face must be 'auto' or a face width in pixels (0 = the detector's own "
                                f"minimum), got {value!r}")
    return int(value) or None


@dataclass
class FrameJob:
    """One image or video frame on its way through the pipeline."""

    source: str
    media: str
    frame: int | None
    timestamp: float | None
    faces: list[FoundFace]
    image: np.ndarray | None = None
    fps: float | None = None  # videos: analysed frames per second (the file's rate / stride)
    outputs: dict[str, np.ndarray] = field(default_factory=dict)  # task -> (n_faces, K)


@dataclass
class SourceDone:
    source: str
    problem: tuple[str, str] | None = None  # (reason, detail): rows were written but something was off
    notes: list[str] = field(default_factory=list)  # faces the fast video settings may have missed
    bad_frames: int = 0  # videos: frames that could not be decoded and were skipped


@dataclass
class SourceFailed:
    source: str
    reason: str
    detail: str


@dataclass
class Rows:
    table: pd.DataFrame
    jobs: list[FrameJob]  # the frames these rows come from, in order (for annotation)


class FaceBehavior:
    def __init__(self, backend, finder: FaceFinder, batch_size: int = 64, times: StageTimes = NO_TIMES):
        self.backend, self.finder, self.batch_size, self.times = backend, finder, batch_size, times
        self.info = backend.info
        self._compound_fn = None
        self._schema: dict[str, str] | None = None
        self._compound_types: dict[str, str] | None = None

    @classmethod
    def load(cls, path: str | Path | None = None, device: str = "cpu", backend: str = "auto", detector: str = "mtcnn",
             detector_options: dict | None = None, detect_size: int | None = None, batch_size: int = 64,
             threads: int | None = None, times: StageTimes = NO_TIMES, warn: bool = True) -> "FaceBehavior":
        """A checkpoint folder, an exported .onnx file or a shipped model's name (None: the shipped
        default model, `facebehavior.models.pretrained.DEFAULT`), ready to analyse faces.

        `detect_size`: detect on a copy whose shorter side is at most this many pixels (faster on
        large frames). `warn`: issue a warning when the checkpoint has heads it never trained.
        """
        import warnings

        from facebehavior.inference.backends import load_backend

        net = load_backend(path, backend, device, threads)
        if warn and net.info.domain == "synthetic":
            warnings.warn(f"{path}: trained on synthetic faces only (SynthFace); its outputs on real photos are not "
                          "meaningful", stacklevel=2)
        if warn and net.info.untrained:
            warnings.warn(f"{path}: the head(s) {net.info.untrained} were never trained; their columns are left "
                          "empty (see the 'untrained_heads' column)", stacklevel=2)
        finder = FaceFinder(net.info.image_size, detector, detector_options, detect_size=detect_size, times=times,
                            points=net.info.preprocessing.template())
        return cls(net, finder, batch_size, times)

    # ---- the public API ---------------------------------------------------------------------------

    def predict(self, images, aligned: bool = False, min_face: int | None = None) -> pd.DataFrame:
        """Rows for one image or a list: file paths, RGB uint8 arrays (H, W, 3) or PIL images."""
        items = images if isinstance(images, (list, tuple)) else [images]
        opts = AnalyzeOptions(aligned=aligned, min_face=min_face)
        return self._collect(self._run(self._memory_jobs(items, opts), opts))

    def predict_video(self, path: str | Path, stride: int = 1, median: int = 0,
                      detect_every: int = DEFAULT_DETECT_EVERY, aligned: bool = False,
                      min_face: int | str | None = AUTO) -> pd.DataFrame:
        """Rows for every `stride`-th frame of a video (one per face; `no_face` rows for empty frames)."""
        return pd.concat(list(self.iter_video(path, stride, median, detect_every, aligned, min_face)),
                         ignore_index=True)

    def iter_video(self, path: str | Path, stride: int = 1, median: int = 0,
                   detect_every: int = DEFAULT_DETECT_EVERY, aligned: bool = False,
                   min_face: int | str | None = AUTO) -> Iterator[pd.DataFrame]:
        """The rows of `predict_video` in chunks, as the video streams (memory stays flat). Faces the
        fast settings may have missed are reported by a `UserWarning` at the end."""
        import warnings

        opts = AnalyzeOptions(aligned=aligned, stride=stride, median=median, detect_every=detect_every,
                              min_face=min_face)
        source = Input(Path(path).resolve(), "video", Path(path).name)
        for event in self.process([source], opts):
            if isinstance(event, SourceFailed):
                raise VideoReadError(event.reason, event.detail)
            if isinstance(event, Rows):
                yield event.table
            if isinstance(event, SourceDone) and event.problem:  # e.g. corrupt frames skipped, truncation
                warnings.warn(f"{path}: {event.problem[0]}: {event.problem[1]}", stacklevel=2)
            if isinstance(event, SourceDone) and event.notes:
                warnings.warn("; ".join(event.notes), stacklevel=2)

    def process(self, inputs: Iterable[Input], opts: AnalyzeOptions) -> Iterator[Rows | SourceDone | SourceFailed]:
        """Events for files: `Rows` chunks, then `SourceDone` per input, or `SourceFailed` with a reason."""
        return self._run(self._file_jobs(inputs, opts), opts)

    @property
    def columns(self) -> dict[str, str]:
        """Every output column and its pandas dtype, in order."""
        if self._schema is None:
            self._schema = C.schema(self.info.tasks, self._compound_schema())
        return self._schema

    # ---- stage 1: frames and their faces --------------------------------------------------------------

    def _finder(self, opts: AnalyzeOptions) -> FaceFinder:
        if opts.aligned == self.finder.aligned:
            return self.finder
        f = self.finder
        other = FaceFinder(f.size, f.detector_name, f.detector_options, opts.aligned, f.detect_size, f.times,
                           f.points)
        other._detector, other._refiner = f._detector, f._refiner
        return other

    def _memory_jobs(self, items, opts: AnalyzeOptions):
        from facebehavior.data.faces.io import ImageReadError, read_image

        finder = self._finder(opts)
        for k, item in enumerate(items):
            if isinstance(item, (str, Path)):
                source = str(Path(item).resolve())
                try:
                    image = read_image(item)
                except ImageReadError as exc:
                    raise FaceBehaviorError(str(exc)) from None
            else:
                source, image = f"<image {k}>", _as_rgb_array(item)
            yield FrameJob(source, "image", None, None, finder.find(image, opts.image_min_face, retry_padded=True),
                           image if opts.keep_images else None)
            yield SourceDone(source)

    def _file_jobs(self, inputs: Iterable[Input], opts: AnalyzeOptions):
        finder = self._finder(opts)
        for item in inputs:
            if item.media == "video":
                yield from self._video_jobs(item, finder, opts)
            else:
                yield from self._image_jobs(item, finder, opts)

    def _image_jobs(self, item: Input, finder: FaceFinder, opts: AnalyzeOptions):
        from facebehavior.data.faces.io import ImageReadError, read_image

        try:
            with self.times("decode"):
                image = read_image(item.path)
            faces = finder.find(image, opts.image_min_face, retry_padded=True)
        except ImageReadError as exc:
            yield SourceFailed(item.source, exc.reason, str(exc))
            return
        except Exception as exc:  # one bad input must not stop a large run; it is reported instead
            yield SourceFailed(item.source, "error", f"{item.path}: {type(exc).__name__}: {exc}")
            return
        yield FrameJob(item.source, "image", None, None, faces, image if opts.keep_images else None)
        yield SourceDone(item.source)

    def _video_jobs(self, item: Input, finder: FaceFinder, opts: AnalyzeOptions):
        tracker = VideoFaceTracker(finder, opts.detect_every, opts.min_face)
        summary = DecodeSummary()
        problem = None
        try:
            for vf in iter_frames(item.path, opts.stride, summary, times=self.times):
                fps = (summary.info.fps or 25.0) / opts.stride
                # Every 2 s of video, but at most once per 12 detections (low frame rates).
                tracker.check_every = max(round(CHECK_SECONDS * fps), CHECK_MIN_DETECTIONS * opts.detect_every)
                faces = tracker.step(vf.image)
                yield FrameJob(item.source, "video", vf.index, vf.timestamp, faces,
                               vf.image if opts.keep_images else None, fps)
        except VideoReadError as exc:
            problem = (exc.reason, str(exc))
        except Exception as exc:  # reported like an unreadable video; rows already made are kept
            problem = ("error", f"{item.path}: {type(exc).__name__}: {exc}")
        problem = problem or summary.problem()
        if summary.yielded == 0:
            reason, detail = problem or ("unreadable_video", "no frames")
            yield SourceFailed(item.source, reason, detail if str(item.path) in detail else f"{item.path}: {detail}")
        else:
            yield SourceDone(item.source, problem, tracker.report.notes(item.source), len(summary.bad_frames))

    # ---- stages 2-4: network, smoothing, rows -------------------------------------------------------

    def _run(self, jobs, opts: AnalyzeOptions):
        if opts.compound:
            self.enable_compound(opts.compound)
        stream = self._with_outputs(jobs)
        if opts.median:
            stream = _smoothed(stream, opts.median, [t.name for t in self.info.tasks if t.kind == "multiclass"])
        return self._as_rows(stream, opts)

    def _with_outputs(self, items):
        """Items in order, frames with their network outputs. The network runs in a background
        thread on one batch while the next is being decoded, detected and aligned."""
        from concurrent.futures import ThreadPoolExecutor

        pending: list = []
        crops: list[np.ndarray] = []
        in_flight: deque = deque()
        with ThreadPoolExecutor(1, thread_name_prefix="network") as pool:
            for item in items:
                pending.append(item)
                if isinstance(item, FrameJob):
                    crops.extend(f.crop for f in item.faces)
                if len(crops) >= self.batch_size or len(pending) >= 4 * self.batch_size:
                    in_flight.append(self._submit(pool, pending, crops))
                    pending, crops = [], []
                    while len(in_flight) > 1:  # at most one batch waits while another runs
                        yield from self._finish(*in_flight.popleft())
            in_flight.append(self._submit(pool, pending, crops))
            while in_flight:
                yield from self._finish(*in_flight.popleft())

    def _submit(self, pool, items: list, crops: list):
        for item in items:
            if isinstance(item, FrameJob):
                for face in item.faces:
                    face.crop = None  # the batch holds the pixels now; keep memory flat
        return (pool.submit(self._network, np.stack(crops)) if crops else None), items

    def _network(self, batch: np.ndarray) -> dict[str, np.ndarray]:
        with self.times("network"):
            return self.backend.run(batch)

    def _finish(self, future, items: list):
        outputs = future.result() if future is not None else {}
        offset = 0
        for item in items:
            if isinstance(item, FrameJob):
                n = len(item.faces)
                item.outputs = {k: v[offset:offset + n] for k, v in outputs.items()}
                offset += n
            yield item

    def _as_rows(self, stream, opts: AnalyzeOptions, chunk_rows: int = 512):
        chunk: list[FrameJob] = []
        count = 0
        for item in stream:
            if isinstance(item, FrameJob):
                chunk.append(item)
                count += max(1, len(item.faces))
                if count < chunk_rows:
                    continue
            if chunk:
                yield Rows(self.table(chunk), chunk)
                chunk, count = [], 0
            if not isinstance(item, FrameJob):
                yield item
        if chunk:
            yield Rows(self.table(chunk), chunk)

    def table(self, jobs: list[FrameJob]) -> pd.DataFrame:
        """The rows of some analysed frames: one per face, or one `no_face` row for a frame without."""
        info = self.info
        meta: dict[str, list] = {c: [] for c in C.META_SCHEMA}
        values = {t.name: [] for t in info.tasks}
        for job in jobs:
            for i, face in enumerate(job.faces or [None]):
                _meta_row(meta, job, i, face)
                for t in info.tasks:
                    values[t.name].append(job.outputs[t.name][i] if face is not None
                                          else np.full(t.size, np.nan, np.float32))
        n = len(meta["source"])
        data = {c: pd.array(v, dtype=d) for (c, v), d in zip(meta.items(), C.META_SCHEMA.values())}
        task_values = {t.name: np.stack(values[t.name]).astype(np.float64) for t in info.tasks}
        untrained_labels = info.untrained_labels
        for t in info.tasks:
            shown = None
            if t.name in info.trained:
                shown = C.blank_labels(t, task_values[t.name], (untrained_labels or {}).get(t.name, []))
            data.update(C.task_frame(t, shown, C.thresholds_for(t, info.thresholds), n))
        if self._compound_fn is not None:
            data.update(self._compound_columns(task_values, valid=np.array([bool(j.faces) for j in jobs
                                                                             for _ in (j.faces or [None])])))
        data[C.NOTE_COLUMN] = pd.array([",".join(info.untrained)] * n, dtype="string")
        labels_note = None if untrained_labels is None else C.untrained_label_columns(info.tasks, untrained_labels)
        data[C.LABELS_NOTE_COLUMN] = pd.array([labels_note] * n, dtype="string")
        return C.coerce(pd.DataFrame(data), self.columns)

    # ---- zero-shot compound expressions (optional module) ------------------------------------------

    def enable_compound(self, classes: str):
        """Add zero-shot compound expression scores (eq. 8) for `classes` ("rafdb" / "emotionet")."""
        try:
            from facebehavior.compound import compound_columns
        except ImportError as exc:
            raise FaceBehaviorError(f"--compound needs facebehavior.compound, which this install lacks ({exc})") from None
        self._compound_fn = lambda outputs: compound_columns(outputs, classes)
        self._schema, self._compound_types = None, None

    def _compound_columns(self, task_values: dict, valid: np.ndarray) -> dict:
        """Compound scores per row; null where there is no face or a head they need was never trained."""
        n = len(valid)
        usable = valid & (not self.info.untrained)
        columns = {c: C.nulls(n, d) for c, d in self._compound_schema().items()}
        if usable.any():
            # AUs without training annotations count as absent (0): eq. 8 sums evidence over AUs.
            untrained = self.info.untrained_labels or {}
            inputs = {t.name: C.blank_labels(t, task_values[t.name][usable], untrained.get(t.name, []),
                                             0.0 if t.kind == "multilabel" else np.nan) for t in self.info.tasks}
            frame = self._compound_frame(inputs)
            for c in columns:
                values = np.asarray(frame[c].to_numpy(), dtype=object if columns[c].dtype != np.float64 else None)
                full = np.full(n, None, object) if values.dtype == object else np.full(n, np.nan)
                full[usable] = values
                columns[c] = full
        return columns

    def _compound_frame(self, task_values: dict) -> pd.DataFrame:
        out = self._compound_fn(task_values)
        return out if isinstance(out, pd.DataFrame) else pd.DataFrame(out)

    def _compound_schema(self) -> dict[str, str]:
        if self._compound_fn is None:
            return {}
        if self._compound_types is None:  # ask the scorer once which columns it makes
            probe = self._compound_frame({t.name: np.full((1, t.size), 1.0 / t.size) for t in self.info.tasks})
            self._compound_types = {c: ("float64" if pd.api.types.is_float_dtype(probe[c]) else "string")
                                    for c in probe.columns}
        return self._compound_types

    def _collect(self, events) -> pd.DataFrame:
        tables = [e.table for e in events if isinstance(e, Rows)]
        return pd.concat(tables, ignore_index=True) if tables else C.coerce(pd.DataFrame(), self.columns)


def _meta_row(meta: dict, job: FrameJob, index: int, face: FoundFace | None) -> None:
    meta["source"].append(job.source)
    meta["media"].append(job.media)
    meta["frame"].append(job.frame)
    meta["timestamp"].append(job.timestamp)
    meta["face_index"].append(None if face is None else index)
    meta["track_id"].append(None if face is None else face.track_id)
    meta["status"].append("no_face" if face is None else "ok")
    meta["face_from"].append(None if face is None else face.origin)
    box = [None] * 4 if face is None else list(face.box)
    for c, v in zip(C.BOX_COLUMNS, box):
        meta[c].append(v)
    marks = [None] * 10 if face is None or face.landmarks is None else list(np.asarray(face.landmarks).ravel())
    for c, v in zip(C.LANDMARK_COLUMNS, marks):
        meta[c].append(v)
    meta["det_score"].append(None if face is None else face.score)


def _smoothed(stream, window: int, multiclass: list[str]):
    """Median-filter each video's frames over its tracks; other items pass through in order."""
    smoother: MedianSmoother | None = None
    for item in stream:
        if isinstance(item, FrameJob) and item.media == "video":
            smoother = smoother or MedianSmoother(window, tuple(multiclass))
            for done in smoother.push(SmoothItem([f.track_id for f in item.faces], item.outputs, item)):
                done.payload.outputs = done.smoothed
                yield done.payload
            continue
        if smoother is not None:  # the video ended: release its last frames before the marker
            for done in smoother.finish():
                done.payload.outputs = done.smoothed
                yield done.payload
            smoother = None
        yield item


def _as_rgb_array(item) -> np.ndarray:
    from facebehavior.data.faces import as_rgb

    if hasattr(item, "convert"):  # a PIL image
        item = np.asarray(item.convert("RGB"))
    array = np.asarray(item)
    if array.dtype != np.uint8 or array.ndim not in (2, 3):
        raise FaceBehaviorError(f"expected an RGB uint8 image (H, W, 3), a path or a PIL image; got an array of "
                                f"{array.dtype} with shape {array.shape}")
    return as_rgb(array)


__all__ = ["AnalyzeOptions", "FaceBehavior", "FrameJob", "Rows", "SourceDone", "SourceFailed"]
