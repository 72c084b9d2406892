import numpy as np
import pandas as pd
import pytest

from facebehavior.errors import FaceBehaviorError
from facebehavior.inference.video import (DecodeSummary, IoUTracker, MedianSmoother, SmoothItem, VideoReadError,
                                          iter_frames)


def test_tracker_keeps_identity_and_starts_new_tracks():
    tracker = IoUTracker(min_iou=0.3, max_age=2)
    a, b = np.array([10, 10, 50, 50.0]), np.array([200, 20, 40, 40.0])
    assert tracker.update([a, b]) == [0, 1]
    assert tracker.update([b + [3, 0, 0, 0], a + [5, 2, 0, 0]]) == [1, 0]  # order changes, ids follow boxes
    assert tracker.update([]) == []
    assert tracker.update([a]) == [0]              # back after one missed frame
    for _ in range(3):
        tracker.update([])
    assert tracker.update([a]) == [2]              # too long gone: a new track


def _smooth_streaming(frames, window):
    smoother = MedianSmoother(window, ("expr",))
    out = []
    for ids, values in frames:
        out += smoother.push(SmoothItem(ids, {"va": values, "expr": np.abs(values) + 0.1}))
    return out + smoother.finish()


def test_median_filter_matches_offline_rolling_median_per_track():
    rng = np.random.default_rng(0)
    frames = []
    for f in range(30):
        ids = [0, 1] if f % 7 else [1]      # track 0 missing on some frames
        if f > 20:
            ids = [1, 2]                     # track 0 ends, track 2 begins
        frames.append((ids, rng.normal(size=(len(ids), 2))))
    released = _smooth_streaming(frames, 5)
    assert len(released) == len(frames)
    # Offline reference: per track, the median over the frames within +-2 of each frame.
    rows = [(f, k, *v) for f, (ids, vals) in enumerate(frames) for k, v in zip(ids, vals)]
    table = pd.DataFrame(rows, columns=["frame", "track", "v", "a"])
    for f, item in enumerate(released):
        for i, k in enumerate(item.track_ids):
            near = table[(table.track == k) & (table.frame.between(f - 2, f + 2))]
            assert np.allclose(item.smoothed["va"][i], near[["v", "a"]].median().to_numpy())
    sums = np.concatenate([item.smoothed["expr"].sum(1) for item in released])
    assert np.allclose(sums, 1.0)  # multiclass outputs renormalised


def test_median_window_must_be_odd():
    with pytest.raises(FaceBehaviorError, match="odd"):
        MedianSmoother(4)


def test_frames_stream_with_stride_and_timestamps(media):
    summary = DecodeSummary()
    frames = list(iter_frames(media["video"], stride=3, summary=summary))
    assert [f.index for f in frames] == list(range(0, 20, 3))
    assert frames[1].timestamp == pytest.approx(0.3)
    assert frames[0].image.shape == (240, 320, 3)
    assert summary.decoded == 20 and summary.problem() is None


def test_stopping_early_releases_the_decoder(media):
    stream = iter_frames(media["video"], prefetch=1)
    next(stream)
    stream.close()  # must not hang on the decode thread blocked on a full queue


def test_unreadable_videos_raise_with_a_reason(media, tmp_path):
    with pytest.raises(VideoReadError) as err:
        list(iter_frames(media["truncated"]))
    assert err.value.reason == "unreadable_video"
    with pytest.raises(VideoReadError) as err:
        list(iter_frames(tmp_path / "missing.mp4"))
    assert err.value.reason == "missing_file"


@pytest.fixture(scope="module")
def damaged_clip(tmp_path_factory):
    """A 20-frame MJPG clip whose frames 10 and 11 (0-based) are damaged in the file."""
    from tests.inference.media import damage_mjpeg_frames, write_face_video

    root = tmp_path_factory.mktemp("damaged")
    clip = write_face_video(root / "clip.avi", seconds=2.0, fps=10.0, width=160, height=120, scale=0.3,
                            fourcc="MJPG")
    return clip, damage_mjpeg_frames(clip, [10, 11], root / "damaged.avi")


def test_damaged_frames_are_skipped_and_counted_and_decoding_goes_on(damaged_clip):
    clean, damaged = damaged_clip
    summary = DecodeSummary()
    frames = list(iter_frames(damaged, summary=summary))
    assert [f.index for f in frames] == [*range(10), *range(12, 20)]  # frames 12-19 are not lost
    assert frames[10].timestamp == pytest.approx(1.2)
    assert summary.bad_frames == [10, 11] and summary.decoded == 18
    reason, detail = summary.problem()
    assert reason == "corrupt_frames" and "2 corrupt frame(s) skipped (frame 10, 11)" in detail
    reference = {f.index: f.image for f in iter_frames(clean)}
    assert all(np.array_equal(f.image, reference[f.index]) for f in frames)
    # with a stride, the frames after the damage keep their places in the file
    strided = list(iter_frames(damaged, stride=3, summary=(s := DecodeSummary())))
    assert [f.index for f in strided] == [0, 3, 6, 9, 12, 15, 18] and s.bad_frames == [10, 11]


class _Reader:
    """A stand-in for cv2.VideoCapture with `n` frames, failing to grab or retrieve chosen ones."""

    def __init__(self, n: int, bad_grab=(), bad_retrieve=(), declared: int | None = None):
        from facebehavior.inference.video import VideoInfo

        self.n, self.bad_grab, self.bad_retrieve, self.pos = n, set(bad_grab), set(bad_retrieve), 0
        self.info = VideoInfo(10.0, n if declared is None else declared, 8, 6)
        self.grabs = 0

    def __call__(self, path):
        return self, self.info

    def grab(self):
        self.grabs += 1
        if self.pos >= self.n:
            return False
        self.pos += 1
        return self.pos - 1 not in self.bad_grab

    def retrieve(self):
        if self.pos - 1 in self.bad_retrieve:
            return False, None
        return True, np.full((6, 8, 3), self.pos - 1, np.uint8)

    def release(self):
        pass


def test_reads_that_fail_in_the_middle_skip_frames_and_at_the_end_end_the_video():
    reader = _Reader(30, bad_grab=[4, 5, 6], bad_retrieve=[9])
    summary = DecodeSummary()
    frames = list(iter_frames("x.avi", summary=summary, capture_factory=reader))
    assert [f.index for f in frames] == [i for i in range(30) if i not in (4, 5, 6, 9)]
    assert all(int(f.image[0, 0, 0]) == f.index for f in frames)
    assert summary.bad_frames == [4, 5, 6, 9] and summary.problem()[0] == "corrupt_frames"
    assert reader.grabs < 30 + 30  # the end is found after a bounded number of failed reads
    # a long damaged stretch inside the declared length is still read through
    reader = _Reader(200, bad_grab=range(50, 150))
    frames = list(iter_frames("x.avi", summary=(s := DecodeSummary()), capture_factory=reader))
    assert len(frames) == 100 and frames[50].index == 150 and len(s.bad_frames) == 100


def test_a_video_that_ends_before_its_declared_length_is_truncated():
    summary = DecodeSummary()
    frames = list(iter_frames("x.avi", summary=summary, capture_factory=_Reader(20, declared=40)))
    assert len(frames) == 20 and summary.bad_frames == []
    assert summary.problem()[0] == "truncated_video"
    # damaged frames and a truncation are both told
    summary = DecodeSummary()
    list(iter_frames("x.avi", summary=summary, capture_factory=_Reader(20, bad_grab=[3], declared=40)))
    reason, detail = summary.problem()
    assert reason == "truncated_video" and "1 corrupt frame(s) skipped (frame 3)" in detail
