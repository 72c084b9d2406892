"""Jobs: one upload each, queued and run one at a time per worker thread (the network is not safe to
call from two threads at once, and a 2-core machine gains nothing from more).

Every job has a random id (its result page is ``/jobs/<id>`` while the server runs) and a folder
under the server's temporary root: ``inputs/`` (the uploaded files, deleted as soon as the job
ends) and the results. A job's folder is deleted when the job is removed, when it is among the
oldest past ``keep`` finished jobs, or when the server stops.
"""

from __future__ import annotations

import queue
import secrets
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = (DONE, FAILED, CANCELLED)
ID_PATTERN = r"[A-Za-z0-9_-]{20,64}"


class QueueFull(Exception):
    pass


class JobCancelled(Exception):
    pass


@dataclass
class DownloadFile:
    path: Path
    media_type: str
    label: str = ""        # shown on the page's download list; "" = not listed (served for display only)
    attachment: bool = True


@dataclass
class Job:
    id: str
    folder: Path
    uploads: list = field(default_factory=list)
    state: str = QUEUED
    message: str = ""
    created: float = field(default_factory=time.time)
    started: float | None = None
    finished: float | None = None
    progress: dict = field(default_factory=dict)
    result: dict | None = None
    files: dict[str, DownloadFile] = field(default_factory=dict)
    cancel: threading.Event = field(default_factory=threading.Event)

    @property
    def inputs(self) -> Path:
        return self.folder / "inputs"

    def check_cancelled(self) -> None:
        if self.cancel.is_set():
            raise JobCancelled(self.id)

    def add_file(self, name: str, path: Path, media_type: str, label: str = "", attachment: bool = True) -> str:
        self.files[name] = DownloadFile(Path(path), media_type, label, attachment)
        return name


class JobQueue:
    """Jobs by id, a FIFO queue, and worker threads each owning one runner (`run(job)`)."""

    def __init__(self, root: Path, runners: list, max_queued: int = 64, keep: int = 100,
                 on_error: Callable[[Job, BaseException], str] | None = None):
        self.root = Path(root)
        self.root.mkdir(parents=True, exist_ok=True)
        self.max_queued, self.keep = max_queued, keep
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.pending: queue.Queue = queue.Queue()
        self.on_error = on_error or (lambda job, exc: f"{type(exc).__name__}: {exc}")
        self.closed = False
        self.threads = [threading.Thread(target=self._work, args=(r,), name=f"serve-worker-{i}", daemon=True)
                        for i, r in enumerate(runners)]
        for t in self.threads:
            t.start()

    # ---- jobs -----------------------------------------------------------------------------------------

    def new_job(self) -> Job:
        """A job with its folder, not yet queued (its files are being received)."""
        job_id = secrets.token_urlsafe(18)
        folder = self.root / job_id
        folder.mkdir()
        return Job(job_id, folder)

    def submit(self, job: Job) -> int:
        """Queue a job; returns how many jobs are ahead of it. QueueFull when the queue is full."""
        with self.lock:
            if self.closed:
                raise QueueFull("the server is stopping")
            waiting = sum(1 for j in self.jobs.values() if j.state == QUEUED)
            if waiting >= self.max_queued:
                raise QueueFull(f"{waiting} jobs are waiting already; try again in a while")
            self.jobs[job.id] = job
            ahead = waiting + sum(1 for j in self.jobs.values() if j.state == RUNNING)
            self.pending.put(job)
        self._trim()
        return ahead

    def get(self, job_id: str) -> Job | None:
        return self.jobs.get(job_id)

    def position(self, job: Job) -> int:
        """Jobs that run before this queued one starts (including those running now)."""
        with self.lock:
            return sum(1 for j in self.jobs.values()
                       if j.state == RUNNING or (j.state == QUEUED and j.created < job.created))

    def remove(self, job_id: str) -> bool:
        """Forget a job and delete its folder (a running job is stopped first)."""
        with self.lock:
            job = self.jobs.pop(job_id, None)
        if job is None:
            return False
        job.cancel.set()
        if job.state != RUNNING:  # a running job's worker deletes the folder when it stops
            shutil.rmtree(job.folder, ignore_errors=True)
        return True

    def discard(self, job: Job) -> None:
        """A job that was never queued (its upload was refused)."""
        shutil.rmtree(job.folder, ignore_errors=True)

    def _trim(self) -> None:
        with self.lock:
            finished = sorted((j for j in self.jobs.values() if j.state in FINISHED), key=lambda j: j.finished or 0)
            old = finished[:max(0, len(finished) - self.keep)]
        for job in old:
            self.remove(job.id)

    # ---- workers ----------------------------------------------------------------------------------------

    def _work(self, runner) -> None:
        while True:
            job = self.pending.get()
            if job is None:
                return
            if job.cancel.is_set() or job.id not in self.jobs:
                shutil.rmtree(job.folder, ignore_errors=True)
                continue
            job.state, job.started = RUNNING, time.time()
            try:
                runner.run(job)
                job.state = DONE
            except JobCancelled:
                job.state, job.message = CANCELLED, "removed before it finished"
            except BaseException as exc:  # a job's failure is reported on its page; the server goes on
                job.state, job.message = FAILED, self.on_error(job, exc)
            finally:
                job.finished = time.time()
                shutil.rmtree(job.inputs, ignore_errors=True)  # uploads are kept only while the job runs
                if job.id not in self.jobs or job.cancel.is_set():
                    shutil.rmtree(job.folder, ignore_errors=True)
            self._trim()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the workers (a running job is cancelled) and delete every job's files."""
        with self.lock:
            self.closed = True
            jobs = list(self.jobs.values())
        for job in jobs:
            job.cancel.set()
        for _ in self.threads:
            self.pending.put(None)
        deadline = time.time() + timeout
        for t in self.threads:
            t.join(max(0.0, deadline - time.time()))
        shutil.rmtree(self.root, ignore_errors=True)
