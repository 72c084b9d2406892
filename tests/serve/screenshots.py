"""The screenshots in docs/serve.md: `facebehavior serve` with a model, driven in headless Chromium.

    python -m tests.serve.screenshots --checkpoint CKPT --out docs/img [--all-heads CKPT2]

Uploads the astronaut photo (scikit-image), a 6-second clip of it moving and three bad files, and
saves serve_upload.png, serve_progress.png, serve_photo.png, serve_video.png and serve_errors.png
(and serve_photo_all_heads.png with a second model that has AU and valence/arousal heads).
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2

from tests.inference.media import background, write_face_video
from tests.serve.test_serve_browser import ARGS, CHROMIUM


def start(checkpoint: str, tmp: Path) -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen([sys.executable, "-m", "facebehavior", "serve", "--checkpoint", checkpoint,
                                "--port", "0", "--tmp-dir", str(tmp)], stdout=subprocess.PIPE, text=True)
    while True:
        line = process.stdout.readline()
        if not line:
            raise RuntimeError("the server did not start")
        m = re.search(r"open (http://\S+/)", line)
        if m:
            return process, m.group(1).rstrip("/")


def analyse(page, url: str, files: list[Path], progress_shot: Path | None = None):
    page.goto(url + "/")
    page.set_input_files("#file-input", [str(f) for f in files])
    page.click("#analyse")
    page.wait_for_url("**/jobs/*")
    if progress_shot:
        page.wait_for_selector("#progress-text:has-text('frames')", timeout=60_000)
        time.sleep(0.3)
        page.screenshot(path=str(progress_shot))
    page.wait_for_selector("#status[data-state=done]", timeout=300_000)
    page.wait_for_function("() => Array.from(document.images).every((i) => i.complete)")
    time.sleep(0.5)


def main() -> None:
    from playwright.sync_api import sync_playwright
    from skimage import data

    ap = argparse.ArgumentParser()
    ap.add_argument("--checkpoint", required=True)
    ap.add_argument("--all-heads", help="a second checkpoint with AU and valence/arousal heads")
    ap.add_argument("--out", default="docs/img")
    args = ap.parse_args()
    out = Path(args.out)
    tmp = Path(tempfile.mkdtemp(prefix="serve-shots-"))
    photo = tmp / "astronaut.jpg"
    cv2.imwrite(str(photo), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    clip = write_face_video(tmp / "interview.mp4", seconds=6.0, fps=15.0, width=640, height=480, scale=1.0)
    blank = tmp / "empty_room.png"
    cv2.imwrite(str(blank), background(320, 240))
    broken = tmp / "broken.jpg"
    broken.write_bytes(photo.read_bytes()[:400])
    notes = tmp / "notes.txt"
    notes.write_text("session notes")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 860})
        process, url = start(args.checkpoint, tmp)
        try:
            page.goto(url + "/")
            page.set_input_files("#file-input", [str(photo), str(clip)])
            page.screenshot(path=str(out / "serve_upload.png"))
            analyse(page, url, [photo])
            page.screenshot(path=str(out / "serve_photo.png"), full_page=True)
            analyse(page, url, [clip], progress_shot=out / "serve_progress.png")
            wrap = page.locator(".timeline-wrap").first
            wrap.scroll_into_view_if_needed()
            box = wrap.bounding_box()
            page.mouse.click(box["x"] + 46 + 0.62 * (box["width"] - 54), box["y"] + 40)
            time.sleep(0.8)
            page.evaluate("() => window.scrollTo(0, 0)")
            page.screenshot(path=str(out / "serve_video.png"), full_page=True)
            analyse(page, url, [blank, broken, notes])
            page.screenshot(path=str(out / "serve_errors.png"), full_page=True)
        finally:
            process.terminate()
            process.wait(30)
        if args.all_heads:
            process, url = start(args.all_heads, tmp)
            try:
                analyse(page, url, [photo])
                page.screenshot(path=str(out / "serve_photo_all_heads.png"), full_page=True)
            finally:
                process.terminate()
                process.wait(30)
        browser.close()
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
