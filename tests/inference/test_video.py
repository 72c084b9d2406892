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
