"""Video as a stream: frame decoding, face identity across frames, and the paper's median filter.

Frames are decoded one at a time (OpenCV `VideoCapture`) by a background thread into a short queue,
so decoding overlaps with detection and the network while memory stays flat however long the video.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from facebehavior.data.faces import box_iou
from facebehavior.errors import FaceBehaviorError
from facebehavior.inference.timing import NO_TIMES, StageTimes

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv")


class VideoReadError(FaceBehaviorError):
    """A video that cannot be opened or decoded; `reason` is a short key for the errors file."""

    def __init__(self, reason: str, detail: str):
        super().__init__(detail)
        self.reason = reason


@dataclass
class VideoInfo:
    fps: float
    frame_count: int  # as the container declares it (may be 0 or wrong for some files)
    width: int
    height: int


def open_video(path: str | Path):
    """An opened `cv2.VideoCapture` and its `VideoInfo`, or `VideoReadError`."""
    import cv2

    path = Path(path)
    if not path.is_file():
        raise VideoReadError("missing_file", f"{path}: file not found")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        capture.release()
        raise VideoReadError("unreadable_video", f"{path}: OpenCV cannot open it as a video (corrupt, truncated "
                                                 "or an unsupported codec)")
    info = VideoInfo(float(capture.get(cv2.CAP_PROP_FPS) or 0.0), int(capture.get(cv2.CAP_PROP_FRAME_COUNT) or 0),
                     int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)))
    return capture, info


@dataclass
class VideoFrame:
    index: int            # frame number in the file
    timestamp: float      # seconds
    image: np.ndarray     # RGB uint8


MIN_FAILED_GRABS_AT_END = 25  # failed reads in a row after which a video with no declared frames left has ended
MAX_FAILED_GRABS = 10_000      # ... and after which any video has (a failed read at the end costs ~1 µs)


@dataclass
class DecodeSummary:
    """Filled in while a video streams; read it after the iterator ends."""

    info: VideoInfo | None = None
    decoded: int = 0      # frames decoded (including skipped by the stride)
    yielded: int = 0
    bad_frames: list[int] = field(default_factory=list)  # frames that could not be decoded, skipped

    @property
    def read(self) -> int:
        """Frames the file was read through: decoded and bad ones."""
        return self.decoded + len(self.bad_frames)

    def problem(self) -> tuple[str, str] | None:
        """Bad frames skipped and/or a truncation the container's frame count reveals, as (reason, detail)."""
        declared = self.info.frame_count if self.info else 0
        if self.decoded == 0:
            return "unreadable_video", "no frame could be decoded"
        bad = ""
        if self.bad_frames:
            shown = ", ".join(map(str, self.bad_frames[:10])) + (", ..." if len(self.bad_frames) > 10 else "")
            bad = f"{len(self.bad_frames)} corrupt frame(s) skipped (frame {shown}); rows cover the others"
        # Containers round their frame counts; a shortfall of a few frames is not truncation.
        if declared and self.read < declared - max(2, declared // 100):
            detail = f"decoded {self.decoded} of {declared} declared frames; rows cover those"
            return "truncated_video", detail + (f"; {bad}" if bad else "")
        return ("corrupt_frames", bad) if bad else None


def iter_frames(path: str | Path, stride: int = 1, summary: DecodeSummary | None = None,
                prefetch: int = 4, times: StageTimes = NO_TIMES, capture_factory=None):
    """Yield every `stride`-th frame as a `VideoFrame`, decoded ahead by a background thread.

    Frames that are skipped by the stride are grabbed but not converted (`grab` without `retrieve`).
    A frame that cannot be decoded is skipped and counted in `summary.bad_frames` (OpenCV reads on
    past a damaged frame); the video has ended when reads keep failing where no declared frame is
    left (or after MAX_FAILED_GRABS). `capture_factory(path)` (tests) replaces `open_video`.
    """
    import cv2

    if stride < 1:
        raise FaceBehaviorError(f"--stride must be at least 1, got {stride}")
    capture, info = (capture_factory or open_video)(path)
    summary = summary if summary is not None else DecodeSummary()
    summary.info = info
    fps = info.fps if info.fps > 0 else 25.0  # a container without a rate: assume 25 fps for timestamps
    frames: queue.Queue = queue.Queue(maxsize=max(1, prefetch))
    stop = threading.Event()
    done = object()
    failure: list[BaseException] = []

    def give(item) -> None:
        while not stop.is_set():
            try:
                frames.put(item, timeout=0.1)
                return
            except queue.Full:
                continue

    def decode():
        try:
            index = 0      # the frame the next read returns
            failed = []    # frames whose reads failed since the last decoded one
            while not stop.is_set():
                start = time.perf_counter()
                if not capture.grab():
                    failed.append(index)
                    index += 1
                    past_declared = index >= info.frame_count  # always, when the container declares none
                    enough = MIN_FAILED_GRABS_AT_END if past_declared else MAX_FAILED_GRABS
                    if len(failed) >= enough:
                        break  # the end: the failed reads were past the last frame
                    continue
                summary.bad_frames.extend(failed)  # a frame decodes after them: they were damaged
                failed = []
                if index % stride:
                    summary.decoded += 1
                    times.add("decode", time.perf_counter() - start)
                else:
                    ok, bgr = capture.retrieve()
                    if not ok or bgr is None:
                        summary.bad_frames.append(index)
                    else:
                        summary.decoded += 1
                        item = VideoFrame(index, index / fps, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
                        times.add("decode", time.perf_counter() - start)
                        give(item)
                index += 1
        except Exception as exc:  # surfaced in the consuming thread below
            failure.append(exc)
        finally:
            capture.release()
            frames.put(done)

    thread = threading.Thread(target=decode, name=f"decode:{Path(path).name}", daemon=True)
    thread.start()
    try:
        while (item := frames.get()) is not done:
            summary.yielded += 1
            yield item
        if failure:
            raise VideoReadError("decode_error", f"{path}: decoding failed after {summary.decoded} frames: "
                                                 f"{failure[0]}")
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            try:
                frames.get(timeout=0.05)
            except queue.Empty:
                pass
        thread.join()


class IoUTracker:
    """Greedy IoU matching of each frame's face boxes to the tracks of earlier frames.

    A box continues the track whose last box overlaps it most (IoU >= `min_iou`); a track not seen
    for `max_age` processed frames ends; an unmatched box starts a new track id (0, 1, ...).
    """

    def __init__(self, min_iou: float = 0.3, max_age: int = 15):
        self.min_iou, self.max_age = min_iou, max_age
        self.tracks: dict[int, tuple[np.ndarray, int]] = {}  # id -> (last box, step last seen)
        self.next_id = 0
        self.step = 0

    def update(self, boxes: list[np.ndarray]) -> list[int]:
        self.step += 1
        self.tracks = {k: v for k, v in self.tracks.items() if self.step - v[1] <= self.max_age}
        pairs = sorted(((box_iou(b, t[0]), i, k) for i, b in enumerate(boxes) for k, t in self.tracks.items()),
                       key=lambda p: -p[0])
        ids: list[int | None] = [None] * len(boxes)
        used: set[int] = set()
        for iou, i, k in pairs:
            if iou < self.min_iou:
                break
            if ids[i] is None and k not in used:
                ids[i] = k
                used.add(k)
        for i, box in enumerate(boxes):
            if ids[i] is None:
                ids[i] = self.next_id
                self.next_id += 1
            self.tracks[ids[i]] = (np.asarray(box, np.float64), self.step)
        return ids


@dataclass
class SmoothItem:
    """One processed frame in the smoother: its track ids and per-task outputs (n_faces, K)."""

    track_ids: list[int]
    outputs: dict[str, np.ndarray]
    payload: object = None
    smoothed: dict[str, np.ndarray] = field(default_factory=dict)


class MedianSmoother:
    """Centred running median over each track's per-frame outputs, `window` processed frames wide.

    Streaming: a frame is released once the `window // 2` frames after it have arrived, so memory
    holds `window` frames. At the ends of the video the window is cut short. Multiclass probabilities
    are renormalised after the median so they still sum to one.
    """

    def __init__(self, window: int, multiclass: tuple[str, ...] = ()):
        if window < 1 or window % 2 == 0:
            raise FaceBehaviorError(f"--median must be an odd number of frames (e.g. 5, 9, 15), got {window}")
        self.half = window // 2
        self.multiclass = set(multiclass)
        self.buffer: deque[SmoothItem] = deque()
        self.released = 0  # items of `buffer` already released (kept as left context)

    def push(self, item: SmoothItem) -> list[SmoothItem]:
        self.buffer.append(item)
        out = []
        while len(self.buffer) - self.released > self.half:
            out.append(self._release(self.released))
            self.released += 1
            if self.released > self.half:  # drop context no future frame needs
                self.buffer.popleft()
                self.released -= 1
        return out

    def finish(self) -> list[SmoothItem]:
        out = [self._release(i) for i in range(self.released, len(self.buffer))]
        self.buffer.clear()
        self.released = 0
        return out

    def _release(self, pos: int) -> SmoothItem:
        item = self.buffer[pos]
        window = [self.buffer[i] for i in range(max(0, pos - self.half), min(len(self.buffer), pos + self.half + 1))]
        for task, values in item.outputs.items():
            out = np.empty_like(values)
            for row, track in enumerate(item.track_ids):
                series = [w.outputs[task][w.track_ids.index(track)] for w in window if track in w.track_ids]
                out[row] = np.median(np.stack(series), axis=0)
            if task in self.multiclass and len(out):
                out = out / out.sum(1, keepdims=True)
            item.smoothed[task] = out
        return item
