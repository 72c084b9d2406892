"""A small load test on loopback: 20 uploads at once to `facebehavior serve` in its own process.

Every upload is answered (202, queued), the server keeps answering other requests while the jobs
run one at a time, every job finishes, all within bounded time, and the server's memory stays
bounded: its peak stays under a fixed ceiling and its resident size after the 20 jobs is close to
what it was after the first one (results are on disk, not in memory).
"""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.slow  # a server process and 21 analyses

N_UPLOADS = 20
UPLOAD_SECONDS = 60      # all 20 answered within this
FINISH_SECONDS = 240     # all 20 analysed within this (a photo takes well under a second here)
PEAK_MB = 2500          # the server's peak resident memory
GROWTH_MB = 250          # resident memory after the 20 jobs minus after the first


def post_files(url: str, files: list[tuple[str, bytes]]) -> tuple[int, dict, float]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: application/octet-stream\r\n\r\n".encode() + data + b"\r\n" for name, data in files)
    body += f"--{boundary}--\r\n".encode()
    request = urllib.request.Request(url + "/api/jobs", data=body, method="POST",
                                     headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
    start = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=UPLOAD_SECONDS) as response:
            return response.status, json.loads(response.read()), time.perf_counter() - start
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}"), time.perf_counter() - start


def wait_all(server, ids: list[str], seconds: float) -> dict[str, str]:
    deadline = time.time() + seconds
    states: dict[str, str] = {}
    while time.time() < deadline:
        states = {i: server.get_json(f"/api/jobs/{i}")["state"] for i in ids}
        if all(s not in ("queued", "running") for s in states.values()):
            return states
        time.sleep(0.5)
    raise AssertionError(f"not finished after {seconds} s: {states}")


def test_twenty_uploads_at_once(live_server, media):
    photo = media["astronaut"].read_bytes()
    first = post_files(live_server.url, [("warm-up.jpg", photo)])
    assert first[0] == 202, first
    wait_all(live_server, [first[1]["id"]], FINISH_SECONDS)
    after_first = live_server.memory_kb()["VmRSS"]

    start = time.perf_counter()
    with ThreadPoolExecutor(N_UPLOADS) as pool:
        answers = list(pool.map(lambda k: post_files(live_server.url, [(f"photo-{k}.jpg", photo)]), range(N_UPLOADS)))
    upload_seconds = time.perf_counter() - start
    assert [a[0] for a in answers] == [202] * N_UPLOADS, [a[:2] for a in answers if a[0] != 202]
    assert upload_seconds < UPLOAD_SECONDS
    ids = [a[1]["id"] for a in answers]
    assert len(set(ids)) == N_UPLOADS

    # the server stays responsive while the queue drains
    health_start = time.perf_counter()
    health = live_server.get_json("/api/health")
    assert time.perf_counter() - health_start < 2.0
    assert health["ok"] and health["queued"] + health["running"] >= 1

    states = wait_all(live_server, ids, FINISH_SECONDS)
    assert set(states.values()) == {"done"}, states
    total = time.perf_counter() - start
    faces = [live_server.get_json(f"/api/jobs/{i}")["result"]["counts"]["faces"] for i in ids]
    assert faces == [1] * N_UPLOADS
    memory = live_server.memory_kb()
    print(f"\n{N_UPLOADS} uploads answered in {upload_seconds:.1f} s, analysed in {total:.1f} s; server memory "
          f"{after_first / 1024:.0f} MB after the first job, {memory['VmRSS'] / 1024:.0f} MB after {N_UPLOADS} more, "
          f"peak {memory['VmHWM'] / 1024:.0f} MB")
    assert memory["VmHWM"] < PEAK_MB * 1024
    assert memory["VmRSS"] - after_first < GROWTH_MB * 1024
