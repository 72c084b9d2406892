"""The server's API through Starlette's TestClient: photos, a video, the numbers against the CLI's,
bad files, limits, file names that try to escape, jobs and their files' lifetimes."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest

from tests.serve.conftest import upload, wait_done


@pytest.fixture(scope="module")
def photo_and_video(media, runners, checkpoint, tmp_path_factory):
    """One job with the astronaut photo and the face clip, kept with its downloads."""
    from starlette.testclient import TestClient

    from facebehavior.serve.app import ServeSettings, create_app

    app = create_app(ServeSettings(checkpoint=str(checkpoint), tmp_dir=str(tmp_path_factory.mktemp("srv"))), runners)
    with TestClient(app) as client:
        r = upload(client, [("astronaut.jpg", media["astronaut"].read_bytes()),
                            ("clip.mp4", media["video"].read_bytes())])
        assert r.status_code == 202, r.text
        job = wait_done(client, r.json()["id"])
        files = {d["name"]: client.get(f"/api/jobs/{job['id']}/files/{d['name']}").content
                 for d in job["result"]["downloads"]}
        yield {"job": job, "files": files, "client": client, "app": app}


def test_photo_and_video_results(photo_and_video):
    job = photo_and_video["job"]
    assert job["state"] == "done", job["message"]
    photo, video = job["result"]["files"]
    assert (photo["name"], photo["media"], photo["status"]) == ("astronaut.jpg", "image", "ok")
    assert len(photo["faces"]) == 1
    values = photo["faces"][0]["values"]
    assert math.isclose(sum(values[f"expr_{e}"] for e in ("neutral", "anger", "disgust", "fear", "happiness",
                                                         "sadness", "surprise")), 1.0, abs_tol=1e-5)
    assert values["valence"] is not None and values["au1"] is not None
    assert photo["annotated"] == "annotated-0.jpg"
    assert photo_and_video["files"]["annotated-0.jpg"][:3] == b"\xff\xd8\xff"
    assert (video["media"], video["frames"], video["frames_without_face"]) == ("video", 20, 0)
    track = video["tracks"][0]
    assert track["rows"] == 20 and len(track["series"]["t"]) == 20
    assert math.isclose(sum(track["summary"]["expr"].values()), 1.0)
    assert video["preview"].endswith(".webm") and photo_and_video["files"][video["preview"]][:4] == b"\x1a\x45\xdf\xa3"
    assert video["keyframes"] and video["plots"]
    assert photo_and_video["files"][video["plots"][0]["url"]][:8] == b"\x89PNG\r\n\x1a\n"
    assert job["progress"]["frames_total"] == 20 and job["progress"]["files_done"] == 2
    names = {d["name"] for d in job["result"]["downloads"]}
    assert {"results.csv", "results.parquet", "results.csv.meta.json", "results.csv.errors.csv", "uploads.csv"} <= names


def test_page_numbers_equal_the_cli(photo_and_video, media, checkpoint, tmp_path):
    """The downloads are the table `facebehavior analyze` writes for the same files and model, and
    the numbers the page shows are that table's."""
    from facebehavior.cli.main import main
    from facebehavior.inference.output import read_results

    files = photo_and_video["files"]
    cli_csv, cli_parquet = tmp_path / "cli.csv", tmp_path / "cli.parquet"
    for out in (cli_csv, cli_parquet):
        assert main(["analyze", str(media["astronaut"]), str(media["video"]), "--checkpoint", str(checkpoint),
                     "--out", str(out), "--no-progress"]) == 0
    cli = read_results(cli_csv)
    page = pd.read_csv(io.BytesIO(files["results.csv"]), keep_default_na=False, na_values=[""])
    uploads = pd.read_csv(io.BytesIO(files["uploads.csv"]))
    names = dict(zip(uploads["source"], uploads["uploaded_name"]))
    originals = {"astronaut.jpg": str(media["astronaut"]), "clip.mp4": str(media["video"])}
    page["source"] = page["source"].map(names).map(originals)
    assert list(page.columns) == list(cli.columns)
    pd.testing.assert_frame_equal(page, cli, check_exact=True)
    parquet, cli_pq = pd.read_parquet(io.BytesIO(files["results.parquet"])), read_results(cli_parquet)
    assert [originals[names[s]] for s in parquet["source"]] == list(cli_pq["source"])
    pd.testing.assert_frame_equal(parquet.drop(columns="source"), cli_pq.drop(columns="source"), check_exact=True)
    # the numbers on the page
    result = photo_and_video["job"]["result"]
    row = cli[cli["source"] == str(media["astronaut"])].iloc[0]
    for column, value in result["files"][0]["faces"][0]["values"].items():
        expected = row[column]
        assert value == (None if pd.isna(expected) else expected.item() if hasattr(expected, "item") else expected)
    video_rows = cli[cli["source"] == str(media["video"])].sort_values("frame")
    track = result["files"][1]["tracks"][0]
    for column in ("expr_happiness", "au12", "valence"):
        assert track["series"][column] == [round(v, 5) for v in video_rows[column]]
    top = video_rows["expr_top"].value_counts(normalize=True)
    assert track["summary"]["expr"] == {e: float(top.get(e, 0.0)) for e in track["summary"]["expr"]}
    assert math.isclose(track["summary"]["va"]["valence"], video_rows["valence"].mean())


def test_meta_json_is_analyzes(photo_and_video, checkpoint):
    import json

    meta = json.loads(photo_and_video["files"]["results.csv.meta.json"])
    assert meta["format"] == "facebehavior-analysis-1"
    assert meta["checkpoint"] == str(checkpoint.resolve())
    assert meta["settings"]["detect_every"] == 5


def test_uploads_are_deleted_once_analysed_and_everything_at_stop(photo_and_video):
    app = photo_and_video["app"]
    job = app.state.jobs.get(photo_and_video["job"]["id"])
    assert not job.inputs.exists() and job.folder.is_dir()
    assert (job.folder / "results" / "results.csv").is_file()


def test_bad_files_are_reported_and_the_server_goes_on(make_client, media, tmp_path):
    client = make_client()
    r = upload(client, [("corrupt.jpg", media["corrupt"].read_bytes()),
                        ("truncated.mp4", media["truncated"].read_bytes()),
                        ("blank.png", media["blank"].read_bytes()), ("notes.txt", b"not a picture at all\n"),
                        ("empty.jpg", b"")])
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["state"] == "done"
    by_name = {f["name"]: f for f in job["result"]["files"]}
    assert by_name["corrupt.jpg"]["error"]["reason"] == "unreadable_image"
    assert by_name["truncated.mp4"]["error"]["reason"] == "unreadable_video"
    assert by_name["notes.txt"]["error"]["reason"] == "unreadable_image"
    assert by_name["empty.jpg"]["error"]["reason"] == "unreadable_image"
    assert by_name["blank.png"]["status"] == "no_face" and by_name["blank.png"]["faces"] == []
    for f in job["result"]["files"]:
        if f["error"]:
            assert str(tmp_path) not in f["error"]["detail"]  # server paths are not shown
            assert f["error"]["text"]
    assert job["result"]["counts"]["failed"] == 4
    errors = pd.read_csv(io.BytesIO(client.get(f"/api/jobs/{job['id']}/files/results.csv.errors.csv").content))
    assert len(errors) == 4
    assert client.get("/api/health").json()["ok"]


def test_only_non_media_files_are_refused(make_client, tmp_path):
    client = make_client()
    r = upload(client, [("notes.txt", b"hello"), ("report.pdf", b"%PDF-1.4 ...")])
    assert r.status_code == 415
    assert "not an image or a video: notes.txt, report.pdf" in r.json()["error"]
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing kept


def test_a_file_over_the_size_limit(make_client, media, tmp_path):
    client = make_client(max_upload_bytes=50_000)
    r = upload(client, [("small.png", media["blank"].read_bytes()), ("astronaut.jpg", media["astronaut"].read_bytes())])
    assert r.status_code == 413
    assert r.json()["error"].startswith("astronaut.jpg is larger than the limit of 0.1 MB per file")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    # the declared length alone is enough to refuse a body far over every limit
    r = client.post("/api/jobs", content=b"x" * 10, headers={"content-type": "multipart/form-data; boundary=b",
                                                             "content-length": str(10**12)})
    assert r.status_code == 413 and "at most 20 files" in r.json()["error"]


def test_too_many_files(make_client, media, tmp_path):
    client = make_client(max_files=2)
    blank = media["blank"].read_bytes()
    r = upload(client, [(f"{i}.png", blank) for i in range(5)])
    assert r.status_code == 413
    assert r.json()["error"] == "too many files: 5 at once; at most 2 per upload (the server's --max-files)"
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


@pytest.mark.parametrize("name", ["../../escaped.png", "/etc/escaped.png", "..\\..\\escaped.png",
                                  "a/b/../../../escaped.png", "escaped.png\x07.txt", "..", ""])
def test_file_names_are_never_paths(make_client, media, tmp_path, name):
    client = make_client()
    r = upload(client, [(name, media["blank"].read_bytes())])
    if name == "":  # sent without a file name: not a file part
        assert r.status_code == 400 and "no file" in r.json()["error"]
        return
    assert r.status_code == 202, r.text
    job = wait_done(client, r.json()["id"])
    assert job["state"] == "done"
    shown = job["result"]["files"][0]["name"]
    assert "/" not in shown and "\\" not in shown and "\x00" not in shown
    root = client.app.state.jobs.root
    everything = [p for p in tmp_path.rglob("*")]
    assert all(p == root or root in p.parents for p in everything)
    assert not any("escaped" in p.name for p in everything)
    uploads = pd.read_csv(io.BytesIO(client.get(f"/api/jobs/{job['id']}/files/uploads.csv").content))
    assert uploads["source"].iloc[0].endswith("/inputs/0.png")


def test_not_multipart_and_empty_uploads(make_client):
    client = make_client()
    r = client.post("/api/jobs", json={"files": "x"})
    assert r.status_code == 400 and "multipart/form-data" in r.json()["error"]
    r = client.post("/api/jobs", files={"other": ("a.png", b"123")})
    assert r.status_code == 400 and "no file" in r.json()["error"]


def test_unknown_jobs_and_files(photo_and_video):
    client, job_id = photo_and_video["client"], photo_and_video["job"]["id"]
    assert client.get("/api/jobs/" + "x" * 24).status_code == 404
    assert client.get("/api/jobs/..%2F..%2Fetc").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/files/results.csv.parts").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/files/..%2Fresults%2Fresults.csv").status_code == 404
    assert client.get(f"/api/jobs/{job_id}/files/inputs").status_code == 404
    page = client.get(f"/jobs/{job_id}")
    assert page.status_code == 200 and "/static/app.js" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]


def test_delete_a_job_and_stop_the_server(make_client, media):
    client = make_client()
    ids = []
    for _ in range(3):
        r = upload(client, [("astronaut.jpg", media["astronaut"].read_bytes())])
        assert r.status_code == 202
        ids.append(r.json()["id"])
    jobs = client.app.state.jobs
    folder = jobs.get(ids[0]).folder
    wait_done(client, ids[0])
    assert client.delete(f"/api/jobs/{ids[0]}").status_code == 200
    assert not folder.exists() and client.get(f"/api/jobs/{ids[0]}").status_code == 404
    listed = [j["id"] for j in client.get("/api/jobs").json()["jobs"]]
    assert ids[0] not in listed and ids[2] in listed
    root = jobs.root
    client.__exit__(None, None, None)  # the server stops: every job's files go
    assert not root.exists()


def test_jobs_queue_in_order(make_client, media):
    client = make_client()
    aheads = []
    for _ in range(3):
        r = upload(client, [("astronaut.jpg", media["astronaut"].read_bytes())])
        aheads.append(r.json()["ahead"])
        queued = client.get(f"/api/jobs/{r.json()['id']}").json()
        assert queued["state"] in ("queued", "running", "done")
    assert aheads == sorted(aheads) and aheads[-1] >= 1
    for j in client.get("/api/jobs").json()["jobs"]:
        assert wait_done(client, j["id"])["state"] == "done"


def test_a_full_queue_says_busy(make_client, media):
    client = make_client(max_queue=1)
    codes = [upload(client, [("clip.mp4", media["video"].read_bytes())]).status_code for _ in range(4)]
    assert 503 in codes and codes[0] == 202


def test_only_the_heads_the_model_trained_are_shown(make_client, checkpoint_no_va, media):
    from facebehavior.serve.app import ServeSettings, load_runners

    client = make_client(runners_=load_runners(ServeSettings(checkpoint=str(checkpoint_no_va))))
    info = client.get("/api/info").json()
    assert [t["name"] for t in info["model"]["tasks"]] == ["expr", "au"]
    assert any("never trained its va head" in w for w in info["warnings"])
    job = wait_done(client, upload(client, [("a.jpg", media["astronaut"].read_bytes())]).json()["id"])
    values = job["result"]["files"][0]["faces"][0]["values"]
    assert "valence" not in values and "expr_happiness" in values
    au = next(t for t in info["model"]["tasks"] if t["name"] == "au")
    assert set(au["labels"]).isdisjoint(au["hidden"]) and len(au["labels"]) + len(au["hidden"]) == 17
    assert all(values[label] is not None for label in au["labels"])


def test_the_page_and_its_assets_come_from_the_package(make_client):
    client = make_client()
    page = client.get("/").text
    assert "http://" not in page and "https://" not in page
    for asset in ("/static/app.js", "/static/style.css", "/static/favicon.svg"):
        r = client.get(asset)
        assert r.status_code == 200
        assert "https://" not in r.text and "http://" not in r.text.replace("http://www.w3.org/2000/svg", "")


def test_progress_counts_video_frames(make_client, media):
    from facebehavior.serve.analysis import ProgressTimes

    times = ProgressTimes()
    seen = []
    times.hook = lambda: seen.append(1)
    times.add("decode", 0.01)
    times.add("network", 0.01)
    assert len(seen) == 1
    client = make_client()
    job = wait_done(client, upload(client, [("clip.mp4", media["video"].read_bytes())]).json()["id"])
    assert job["progress"]["frames_total"] == 20 and job["progress"]["stage"] == "done"


def test_sniffing_decides_the_stored_type():
    from facebehavior.serve.uploads import display_name, media_and_extension

    assert media_and_extension(b"\xff\xd8\xff\xe0" + b"\0" * 20, "x.txt") == ("image", ".jpg")
    assert media_and_extension(b"\0\0\0\x18ftypisom" + b"\0" * 8, "clip") == ("video", ".mp4")
    assert media_and_extension(b"\x1a\x45\xdf\xa3" + b"webm", "v.bin") == ("video", ".webm")
    assert media_and_extension(b"garbage", "photo.JPG") == ("image", ".jpg")
    assert media_and_extension(b"garbage", "notes.txt") == (None, ".bin")
    assert media_and_extension(b"garbage", "x.j/../pg") == (None, ".bin")
    assert display_name("C:\\Users\\me\\face.png") == "face.png"
    assert display_name("../../a\x07b.jpg") == "ab.jpg"
    assert np.all([len(display_name("x" * 1000)) == 200])


def test_serve_cli_errors(tmp_path, monkeypatch, capsys):
    from facebehavior.cli.main import main
    from facebehavior.cli.serve import bind, is_loopback

    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2")
    import facebehavior.models.pretrained as pretrained

    monkeypatch.setattr(pretrained, "WEIGHTS_DIR", tmp_path / "no_weights")
    assert main(["serve", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert "no shipped model named" in err and "start it with --checkpoint CKPT" in err
    assert main(["serve", "--port", "0", "--checkpoint", str(tmp_path / "missing")]) == 2
    assert "no such checkpoint" in capsys.readouterr().err
    assert main(["serve", "--max-files", "0"]) == 2
    assert "--max-files must be at least 1" in capsys.readouterr().err
    taken = bind("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        assert main(["serve", "--port", str(port), "--checkpoint", str(tmp_path)]) == 2
        assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    finally:
        taken.close()


def test_a_job_removed_while_it_runs_stops_and_the_next_one_runs(make_client, media, tmp_path):
    import time

    from tests.inference.media import write_face_video

    client = make_client()
    long_clip = write_face_video(tmp_path / "long.mp4", seconds=20.0, fps=15.0, width=320, height=240, scale=0.5)
    first = upload(client, [("long.mp4", long_clip.read_bytes())]).json()["id"]
    second = upload(client, [("a.jpg", media["astronaut"].read_bytes())]).json()["id"]
    jobs = client.app.state.jobs
    deadline = time.time() + 30
    while jobs.get(first).state == "queued" and time.time() < deadline:
        time.sleep(0.02)
    folder = jobs.get(first).folder
    assert client.delete(f"/api/jobs/{first}").status_code == 200
    assert wait_done(client, second)["state"] == "done"
    assert not folder.exists()


def test_the_model_badge_names_a_shipped_model_by_its_name_and_a_run_by_run_and_checkpoint():
    from facebehavior.models.pretrained import DEFAULT, shipped_checkpoint
    from facebehavior.serve.app import model_name

    assert model_name(str(shipped_checkpoint(DEFAULT))) == DEFAULT  # not its folder, ferplus_expr
    assert model_name("runs/fer/train/checkpoints/best") == "train/best"
    assert model_name("exports/expression.onnx") == "expression.onnx"
