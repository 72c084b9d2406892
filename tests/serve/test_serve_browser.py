"""The page in a real browser: Debian's headless Chromium driven by Playwright, against
`facebehavior serve` running in its own process on 127.0.0.1.

It uploads a photo and a short video as a person would (the file chooser), waits for the results,
checks what the page shows against the server's table, scrubs a timeline, downloads the CSV, and
checks that every request the page made went to the server itself (docs/serve.md's screenshots
come from tests/serve/screenshots.py).
"""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import pandas as pd
import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
pytestmark = [pytest.mark.slow,  # a server process and a browser
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed (apt-get install -y "
                                                           "chromium; .ci/run installs it)")]


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture()
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    page = context.new_page()
    page.requests, page.problems = [], []
    page.on("request", lambda r: page.requests.append(r.url))
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    page.on("console", lambda m: page.problems.append(f"console {m.type}: {m.text}") if m.type == "error" else None)
    yield page
    context.close()
    outside = [u for u in page.requests if not u.startswith(live_server.url + "/")]
    assert not outside, f"the page asked for something outside the server: {outside}"
    assert not page.problems, page.problems


def analyse(page, live_server, files: list[Path]) -> str:
    page.goto(live_server.url + "/")
    page.wait_for_selector("#drop")
    page.set_input_files("#file-input", [str(f) for f in files])
    page.wait_for_selector(f"#analyse:has-text('Analyse {len(files)} file')")
    page.click("#analyse")
    page.wait_for_url("**/jobs/*")
    page.wait_for_selector("#status[data-state=done]", timeout=120_000)
    page.wait_for_function("() => Array.from(document.images).every((i) => i.complete)")
    return page.url.rsplit("/", 1)[1]


def test_a_photo_in_the_browser(page, live_server, media):
    job_id = analyse(page, live_server, [media["astronaut"]])
    job = live_server.get_json(f"/api/jobs/{job_id}")
    face = job["result"]["files"][0]["faces"][0]["values"]
    card = page.locator("article.photo")
    assert card.locator(".file-head .name").inner_text() == "astronaut.jpg"
    assert card.locator(".shot img").evaluate("(img) => img.naturalWidth") == 512
    assert card.locator(".face").count() == 1
    bars = card.locator(".panel.multiclass .bar-row")
    assert bars.count() == 7
    top = face["expr_top"]
    top_row = card.locator(f".panel.multiclass .bar-row[data-label={top}]")
    assert "top" in top_row.get_attribute("class")
    assert top_row.locator(".value").inner_text() == f"{round(face[f'expr_{top}'] * 100)}%"
    assert card.locator(".panel.multilabel .au-row").count() == sum(1 for k in face if k.startswith("au") and
                                                                    not k.endswith("_on"))
    assert card.locator(".circumplex .va-dot").get_attribute("visibility") == "visible"
    sign = "+" if face["valence"] >= 0 else "−"
    assert card.locator(".va-values .valence").inner_text() == f"{sign}{abs(face['valence']):.2f}"
    # the CSV the page offers is the server's table
    with page.expect_download() as download:
        page.click("a.download[data-name='results.csv']")
    got = pd.read_csv(download.value.path())
    assert len(got) == 1 and got["status"].tolist() == ["ok"]
    assert got["expr_top"].iloc[0] == top and got[f"expr_{top}"].iloc[0] == face[f"expr_{top}"]
    with page.expect_download() as download:
        page.click("a.download[data-name='results.parquet']")
    assert pd.read_parquet(download.value.path())["expr_top"].tolist() == [top]


def test_a_video_in_the_browser(page, live_server, media):
    job_id = analyse(page, live_server, [media["video"]])
    job = live_server.get_json(f"/api/jobs/{job_id}")
    video = job["result"]["files"][0]
    card = page.locator("article.video")
    assert "20 frames" in card.locator(".file-head .meta").inner_text()
    player = card.locator("video.player")
    page.wait_for_function("() => document.querySelector('video.player').readyState >= 1")
    assert abs(player.evaluate("(v) => v.duration") - 2.0) < 0.2
    # the summary: share of time per expression, per face track
    track = video["tracks"][0]
    row = card.locator(f".summary-table tr[data-track='{track['track_id']}']")
    for label, share in track["summary"]["expr"].items():
        assert row.locator(f"td[data-label={label}]").inner_text() == f"{round(share * 100)}%"
    # scrubbing the timeline moves the video and the values shown
    timeline = card.locator(".timeline-wrap").first
    timeline.scroll_into_view_if_needed()
    box = timeline.bounding_box()
    assert box["width"] > 300 and timeline.locator("canvas").evaluate("(c) => c.width") > 0
    left, right = 46, 8  # the timeline's margins (app.js)
    x = box["x"] + left + 0.75 * (box["width"] - left - right)
    page.mouse.click(x, box["y"] + box["height"] / 2)
    page.wait_for_function("() => Math.abs(document.querySelector('video.player').currentTime - 1.425) < 0.05")
    head = card.locator(".readout-head").inner_text()
    frame = int(head.split("frame ")[1].split(" ")[0])
    assert abs(frame - 14) <= 1
    values = {k: v[track["series"]["frame"].index(frame)] for k, v in track["series"].items()}
    top = max((lbl for lbl in track["summary"]["expr"]), key=lambda lbl: values[f"expr_{lbl}"])
    shown = card.locator(f".readout .panel.multiclass .bar-row[data-label={top}] .value").inner_text()
    assert shown == f"{round(values[f'expr_{top}'] * 100)}%"
    assert card.locator(".keyframe").count() == len(video["keyframes"])
    with page.expect_download() as download:
        page.click("a.download[data-name='results.csv']")
    got = pd.read_csv(download.value.path())
    assert len(got) == 20 and sorted(got["frame"]) == list(range(20))
    server = pd.read_csv(io.StringIO(_text(live_server, f"/api/jobs/{job_id}/files/results.csv")))
    pd.testing.assert_frame_equal(got, server)


def test_bad_files_in_the_browser(page, live_server, media, tmp_path):
    text = tmp_path / "notes.txt"
    text.write_text("not a picture")
    page.goto(live_server.url + "/")
    page.wait_for_selector("#drop")
    page.set_input_files("#file-input", [str(text)])
    page.click("#analyse")
    page.wait_for_selector("#upload-msg.error")
    assert "not an image or a video: notes.txt" in page.locator("#upload-msg").inner_text()
    assert "/jobs/" not in page.url
    # a photo without a face and a broken one, beside a text file: each gets its message
    analyse(page, live_server, [media["blank"], media["corrupt"], text])
    assert "No face found in this photo." in page.locator("article[data-file='0']").inner_text()
    for index in (1, 2):
        card = page.locator(f"article[data-file='{index}']")
        assert "error-card" in card.get_attribute("class")
        assert "Not analysed: not a readable image" in card.inner_text()
    page.goto(live_server.url + "/jobs/" + "x" * 24)
    page.wait_for_selector("#status.error-card")
    assert "No such result" in page.locator("#status").inner_text()
    expected = ("status of 415", "status of 404")  # the refused upload and the unknown job, as the browser logs them
    page.problems[:] = [p for p in page.problems if not any(e in p for e in expected)]


def _text(live_server, path: str) -> str:
    import urllib.request

    with urllib.request.urlopen(live_server.url + path, timeout=30) as response:
        return response.read().decode()
