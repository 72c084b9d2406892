"""`facebehavior serve` tests: the tiny checkpoint and test media of tests/inference, a model loaded
once for every in-process app, and a real server process on 127.0.0.1 for the browser and load tests."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from tests.inference.conftest import checkpoint, checkpoint_no_va, media  # noqa: F401 (session fixtures reused)

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def runners(checkpoint):  # noqa: F811
    """The model loaded once, shared by the in-process apps (one job at a time, as the server runs them)."""
    from facebehavior.serve.app import ServeSettings, load_runners

    return load_runners(ServeSettings(checkpoint=str(checkpoint)))


@pytest.fixture()
def make_client(runners, checkpoint, tmp_path):  # noqa: F811
    """`make_client(**settings)` → a TestClient (lifespan running) of an app with those settings."""
    from starlette.testclient import TestClient

    from facebehavior.serve.app import ServeSettings, create_app

    clients = []

    def make(runners_=None, **overrides):
        settings = ServeSettings(checkpoint=str(checkpoint), tmp_dir=str(tmp_path), **overrides)
        client = TestClient(create_app(settings, runners_ or runners))
        client.__enter__()
        clients.append(client)
        return client

    yield make
    for client in clients:
        try:
            client.__exit__(None, None, None)
        except RuntimeError:  # a test stopped it already
            pass


def wait_done(client, job_id: str, timeout: float = 120.0) -> dict:
    deadline = time.time() + timeout
    while time.time() < deadline:
        job = client.get(f"/api/jobs/{job_id}").json()
        if job["state"] not in ("queued", "running"):
            return job
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s: {job}")


def upload(client, files: list[tuple[str, bytes]]):
    return client.post("/api/jobs", files=[("files", (name, data, "application/octet-stream")) for name, data in files])


# ---- a real server process --------------------------------------------------------------------------------

class LiveServer:
    def __init__(self, process: subprocess.Popen, url: str):
        self.process, self.url = process, url.rstrip("/")

    def get_json(self, path: str) -> dict:
        with urllib.request.urlopen(self.url + path, timeout=30) as response:
            return json.loads(response.read())

    def memory_kb(self) -> dict[str, int]:
        """VmRSS and VmHWM (peak) of the server process, in kB."""
        text = Path(f"/proc/{self.process.pid}/status").read_text()
        return {k: int(re.search(rf"^{k}:\s+(\d+)", text, re.M).group(1)) for k in ("VmRSS", "VmHWM")}


@pytest.fixture(scope="session")
def live_server(checkpoint, tmp_path_factory):  # noqa: F811
    """`facebehavior serve --checkpoint CKPT --port 0` in its own process, on 127.0.0.1."""
    tmp = tmp_path_factory.mktemp("live_server")
    log = (tmp / "server.log").open("w")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "facebehavior", "serve", "--checkpoint", str(checkpoint), "--port", "0",
         "--max-queue", "100", "--tmp-dir", str(tmp)],
        stdout=subprocess.PIPE, stderr=log, text=True, env=env, cwd=ROOT)
    url = None
    deadline = time.time() + 120
    while time.time() < deadline and process.poll() is None:
        line = process.stdout.readline()
        m = re.search(r"open (http://127\.0\.0\.1:\d+/)", line)
        if m:
            url = m.group(1)
            break
    if url is None:
        process.kill()
        log.close()
        raise RuntimeError(f"the server did not start: {(tmp / 'server.log').read_text()[-3000:]}")
    server = LiveServer(process, url)
    server.tmp = tmp
    yield server
    process.terminate()
    try:
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
        log.close()
