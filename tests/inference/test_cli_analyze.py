"""`facebehavior analyze / export / plot` end to end: formats, errors file, resume, annotation."""

import json
import os
import shutil
import subprocess
import sys

import cv2
import pandas as pd
import pytest

from facebehavior.cli.main import main
from facebehavior.inference.output import errors_path, meta_path, parts_dir, read_results


def analyze(*args) -> int:
    return main(["analyze", *map(str, args), "--no-progress"])


@pytest.fixture(scope="module")
def first_run(checkpoint, media, tmp_path_factory):
    """Images (one without a face), a video, broken files and a missing path, with annotation."""
    out = tmp_path_factory.mktemp("run") / "results.csv"
    inputs = [media["root"] / "images", media["video"], media["corrupt"], media["truncated"],
              media["root"] / "missing.jpg"]
    code = analyze(*inputs, "--checkpoint", checkpoint, "--out", out, "--annotate", out.parent / "annotated",
                   "--median", "3", "--batch-size", "16")
    return code, out


def test_rows_for_every_input_and_errors_for_bad_ones(first_run, media):
    code, out = first_run
    assert code == 0
    rows = read_results(out)
    assert set(rows["source"]) == {str(media[k]) for k in ("astronaut", "blank", "video")}
    assert (rows["source"] == str(media["video"])).sum() == 20
    assert rows.loc[rows["source"] == str(media["blank"]), "status"].tolist() == ["no_face"]
    errors = pd.read_csv(errors_path(out))
    reasons = dict(zip(errors["source"], errors["reason"]))
    assert reasons == {str(media["corrupt"]): "unreadable_image", str(media["truncated"]): "unreadable_video",
                       str(media["root"] / "missing.jpg"): "missing_file"}
    assert not parts_dir(out).exists()
    assert json.loads(meta_path(out).read_text())["settings"]["median"] == 3


def test_annotated_copies(first_run, media):
    _, out = first_run
    folder = out.parent / "annotated"
    drawn = cv2.imread(str(folder / "astronaut.jpg"))
    original = cv2.imread(str(media["astronaut"]))
    assert drawn.shape == original.shape and (cv2.absdiff(drawn, original) > 40).sum() > 500
    assert (folder / "sub" / "blank.png").is_file()
    video = cv2.VideoCapture(str(folder / "clip.mp4"))
    assert int(video.get(cv2.CAP_PROP_FRAME_COUNT)) == 20


def test_formats_hold_the_same_table(first_run, checkpoint, media, tmp_path):
    _, out = first_run
    reference = read_results(out)
    reference = reference[reference["source"] == str(media["astronaut"])].reset_index(drop=True)
    for suffix in (".parquet", ".jsonl"):
        other = tmp_path / f"r{suffix}"
        assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", other) == 0
        table = read_results(other)
        assert list(table.columns) == list(reference.columns)
        pd.testing.assert_frame_equal(table[["expr_happiness", "au12", "valence"]],
                                      reference[["expr_happiness", "au12", "valence"]], atol=1e-9,
                                      check_dtype=False)
        assert table["au12_on"].iloc[0] == reference["au12_on"].iloc[0]


def test_resume_skips_done_inputs_and_redoes_interrupted_ones(checkpoint, media, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", out) == 0
    # Without --resume an existing table is never silently replaced or extended.
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", out) == 2
    assert "--resume" in capsys.readouterr().err
    # A crash while the video was being written: rows in the part file, no done record.
    parts = parts_dir(out)
    parts.mkdir()
    read_results(out).assign(source=str(media["video"])).to_csv(parts / "rank-0.csv", index=False)
    capsys.readouterr()
    assert analyze(media["astronaut"], media["blank"], media["video"], "--checkpoint", checkpoint, "--out", out,
                   "--resume") == 0
    assert "1 input(s) skipped" in capsys.readouterr().out
    rows = read_results(out)
    assert rows["source"].value_counts().to_dict() == {str(media["video"]): 20, str(media["astronaut"]): 1,
                                                       str(media["blank"]): 1}
    # Other settings would mix incomparable rows: refused.
    assert analyze(media["video"], "--checkpoint", checkpoint, "--out", out, "--resume", "--stride", "2") == 2
    assert "stride" in capsys.readouterr().err


def test_untrained_heads_warned_and_left_empty(checkpoint_no_va, media, tmp_path, capsys):
    out = tmp_path / "r.jsonl"
    assert analyze(media["astronaut"], "--checkpoint", checkpoint_no_va, "--out", out) == 0
    err = capsys.readouterr().err
    assert "never trained the head(s) ['va']" in err and "no training annotations for au5," in err
    line = json.loads(out.read_text().splitlines()[0])
    assert line["valence"] is None and line["arousal"] is None and line["untrained_heads"] == "va"
    assert isinstance(line["expr_happiness"], float) and isinstance(line["au12"], float)
    assert line["au9"] is None and line["au9_on"] is None and "au9" in line["untrained_labels"].split(",")


def test_bad_face_finding_options_are_clear_errors(checkpoint, media, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", out, "--min-face", "big") == 2
    assert "--min-face must be 'auto' or a face width in pixels" in capsys.readouterr().err
    assert analyze(media["video"], "--checkpoint", checkpoint, "--out", out, "--detect-every", "0") == 2
    assert "--detect-every must be at least 1" in capsys.readouterr().err


def test_cli_default_matches_the_library():
    from facebehavior.cli import analyze as cli
    from facebehavior.inference import analyzer

    assert cli.DEFAULT_DETECT_EVERY == analyzer.DEFAULT_DETECT_EVERY == analyzer.AnalyzeOptions().detect_every


def test_absent_device_is_a_clear_error(checkpoint, media, tmp_path, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA device is present")
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", tmp_path / "r.csv",
                   "--device", "cuda") == 2
    assert "no CUDA device" in capsys.readouterr().err


@pytest.mark.slow  # two spawned processes each import torch: ~8 s on 2 idle cores
def test_aligned_ferplus_with_two_workers_matches_one(checkpoint, ferplus_images, tmp_path):
    folder = tmp_path / "crops"
    folder.mkdir()
    for p in ferplus_images[:6]:
        shutil.copy(p, folder)
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert analyze(folder, "--checkpoint", checkpoint, "--out", one, "--aligned") == 0
    assert analyze(folder, "--checkpoint", checkpoint, "--out", two, "--aligned", "--workers", "2") == 0
    a = read_results(one).sort_values("source").reset_index(drop=True)
    b = read_results(two).sort_values("source").reset_index(drop=True)
    assert len(a) == 6 and (a["face_from"] == "aligned_input").all()
    pd.testing.assert_frame_equal(a, b, atol=1e-6)


@pytest.mark.slow  # two torchrun processes each import torch: ~10 s on 2 idle cores
def test_two_torchrun_ranks_give_the_table_of_one_process_and_end_cleanly(checkpoint, media, tmp_path):
    """Each rank analyses its share; the ranks end their process group together (a group left to
    interpreter shutdown aborted a rank: "terminate called without an active exception")."""
    one, two = tmp_path / "one.csv", tmp_path / "two.csv"
    assert analyze(media["root"] / "images", "--checkpoint", checkpoint, "--out", one) == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
           "-m", "facebehavior", "analyze", str(media["root"] / "images"), "--checkpoint", str(checkpoint),
           "--out", str(two), "--no-progress", "--threads", "1"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-3000:]
    assert "terminate called" not in done.stderr
    a = read_results(one).sort_values(["source", "face_index"]).reset_index(drop=True)
    b = read_results(two).sort_values(["source", "face_index"]).reset_index(drop=True)
    assert len(a) >= 2
    pd.testing.assert_frame_equal(a, b, atol=1e-5)


def test_export_and_analyze_with_onnxruntime(checkpoint, media, tmp_path, capsys):
    model = tmp_path / "model.onnx"
    assert main(["export", str(checkpoint), "--format", "onnx", "--out", str(model)]) == 0
    assert "largest difference" in capsys.readouterr().out
    a, b = tmp_path / "torch.csv", tmp_path / "ort.csv"
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", a) == 0
    assert analyze(media["astronaut"], "--checkpoint", model, "--out", b) == 0
    cols = ["expr_happiness", "au12", "valence", "box_x"]
    assert (read_results(a)[cols] - read_results(b)[cols]).abs().to_numpy().max() < 1e-4


def test_plot_writes_a_timeline_per_video(first_run, tmp_path, capsys):
    _, out = first_run
    assert main(["plot", str(out), "--out", str(tmp_path / "plots")]) == 0
    pngs = list((tmp_path / "plots").glob("*.png"))
    assert len(pngs) == 1 and pngs[0].name.startswith("clip_")
    image = cv2.imread(str(pngs[0]))
    assert image.shape[0] > 500 and image.shape[1] > 800


def test_plot_refuses_a_table_without_videos(checkpoint, media, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", out) == 0
    assert main(["plot", str(out), "--out", str(tmp_path / "plots")]) == 2
    assert "no video rows" in capsys.readouterr().err


def test_the_summary_counts_images_without_a_face(checkpoint, media, tmp_path, capsys):
    assert analyze(media["astronaut"], media["blank"], "--checkpoint", checkpoint, "--out", tmp_path / "r.csv") == 0
    assert "1 image(s)/frame(s) without a face" in capsys.readouterr().out


# ---- issue 18: nothing lost, nothing guessed ------------------------------------------------------------

@pytest.mark.parametrize("option, value, message", [
    ("--stride", "0", "--stride must be a whole number of at least 1, got 0"),
    ("--detector", "retinafacez", "unknown face detector 'retinafacez'; available: "),
    ("--median", "4", "--median must be 0 (off) or an odd number"),
    ("--batch-size", "0", "--batch-size must be a whole number of at least 1"),
])
def test_bad_options_are_refused_before_any_input_is_read(checkpoint, media, tmp_path, capsys, monkeypatch,
                                                          option, value, message):
    from facebehavior.inference import run

    def never(*args, **kwargs):
        raise AssertionError("inputs were looked at before the options were checked")

    monkeypatch.setattr(run, "discover", never)
    out = tmp_path / "r.csv"
    assert analyze(media["video"], media["astronaut"], "--checkpoint", checkpoint, "--out", out, option, value) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and len(err.strip().splitlines()) == 1
    assert not out.exists() and not meta_path(out).exists() and not parts_dir(out).exists()


def test_a_detector_that_cannot_be_built_is_one_error_before_any_input(checkpoint, media, tmp_path, capsys):
    out = tmp_path / "r.csv"
    assert analyze(media["astronaut"], media["blank"], "--checkpoint", checkpoint, "--out", out,
                   "--detector-opt", "no_such_option=1") == 2
    err = capsys.readouterr().err
    assert "face detector 'mtcnn'" in err and "no_such_option" in err and len(err.strip().splitlines()) == 1
    assert not parts_dir(out).exists() and not errors_path(out).exists()


def test_when_every_input_fails_the_table_still_has_its_header(checkpoint, media, tmp_path):
    out = tmp_path / "r.csv"
    assert analyze(media["corrupt"], media["root"] / "missing.jpg", "--checkpoint", checkpoint, "--out", out) == 1
    table = read_results(out)
    assert len(table) == 0 and table.columns[0] == "source" and "expr_top" in table.columns
    assert len(pd.read_csv(errors_path(out))) == 2


def test_a_merge_interrupted_after_its_rows_are_in_place_is_not_merged_twice(checkpoint, media, tmp_path, capsys,
                                                                            monkeypatch):
    from facebehavior.inference import output

    reference = tmp_path / "ref.csv"
    inputs = [media["astronaut"], media["blank"]]
    assert analyze(*inputs, "--checkpoint", checkpoint, "--out", reference) == 0
    out = tmp_path / "r.csv"
    real_rmtree = output.shutil.rmtree

    def interrupted(path, *args, **kwargs):  # Ctrl-C once the merged rows are in place, before the parts go
        monkeypatch.setattr(output.shutil, "rmtree", real_rmtree)
        raise KeyboardInterrupt

    monkeypatch.setattr(output.shutil, "rmtree", interrupted)
    assert analyze(*inputs, "--checkpoint", checkpoint, "--out", out) == 130
    capsys.readouterr()
    assert analyze(*inputs, "--checkpoint", checkpoint, "--out", out, "--resume") == 0
    assert "2 input(s) skipped" in capsys.readouterr().out
    pd.testing.assert_frame_equal(read_results(out), read_results(reference))
    assert not parts_dir(out).exists()


def test_a_full_disk_while_analysing_is_one_line_and_resume_finishes(checkpoint, media, tmp_path, capsys,
                                                                   monkeypatch):
    import errno

    out = tmp_path / "r.csv"

    def full(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(pd.DataFrame, "to_csv", full)
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", out) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and [line for line in err.splitlines() if not line.startswith("warning: ")] == [
        f"error: {parts_dir(out) / 'rank-0.csv'}: no space left on the device; the inputs finished before are kept: "
        "free some space and rerun the same command with --resume"]
    monkeypatch.undo()
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", out, "--resume") == 0
    assert read_results(out)["source"].tolist() == [str(media["astronaut"])]


def test_a_video_with_damaged_frames_keeps_every_other_frame(checkpoint, tmp_path, capsys):
    from tests.inference.media import damage_mjpeg_frames, write_face_video

    clip = write_face_video(tmp_path / "clip.avi", seconds=2.0, fps=10.0, width=320, height=240, scale=0.5,
                            fourcc="MJPG")
    damaged = damage_mjpeg_frames(clip, [10, 11], tmp_path / "damaged.avi")
    out = tmp_path / "r.csv"
    assert analyze(damaged, "--checkpoint", checkpoint, "--out", out) == 0
    assert "2 corrupt video frame(s) skipped" in capsys.readouterr().out
    rows = read_results(out)
    assert sorted(set(rows["frame"])) == [*range(10), *range(12, 20)]  # not 11 rows and "truncated"
    errors = pd.read_csv(errors_path(out))
    assert errors["reason"].tolist() == ["corrupt_frames"] and "frame 10, 11" in errors["detail"][0]


def test_an_out_that_is_a_folder_or_under_a_file_is_one_error_and_nothing_is_deleted(checkpoint, media, tmp_path,
                                                                                     capsys):
    folder = tmp_path / "results.csv"
    (folder / "keep").mkdir(parents=True)
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", folder, "--overwrite") == 2
    assert "is a folder" in capsys.readouterr().err and (folder / "keep").is_dir()  # --overwrite deleted it before
    (tmp_path / "afile").write_text("x")
    assert analyze(media["astronaut"], "--checkpoint", checkpoint, "--out", tmp_path / "afile" / "r.csv") == 2
    err = capsys.readouterr().err
    assert "its folder cannot be created" in err and "Traceback" not in err
