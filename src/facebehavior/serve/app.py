"""The web app behind `facebehavior serve` (Starlette): the page, its static files and a small JSON API.

    GET    /                               the upload page
    GET    /jobs/<id>                      a job's result page (the same page; its script reads the id)
    GET    /api/info                       the model (heads shown), upload limits, expression colours
    GET    /api/health                     jobs waiting and running
    POST   /api/jobs                       multipart upload (field "files") -> 202 {id, url, ahead}
    GET    /api/jobs                       recent jobs
    GET    /api/jobs/<id>                  state, progress (files, frames done / total, fps), results
    DELETE /api/jobs/<id>                  stop and remove a job and its files
    GET    /api/jobs/<id>/files/<name>     a download (tables, meta JSON, plots, annotated media)

Refused uploads answer 4xx/5xx with {"error": message}; nothing a client sends stops the server.
"""

from __future__ import annotations

import atexit
import gzip
import json
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from facebehavior.serve.jobs import ID_PATTERN, QUEUED, RUNNING, JobQueue, QueueFull
from facebehavior.serve.uploads import UploadReceiver, UploadRejected, megabytes

STATIC_DIR = Path(__file__).resolve().parent / "static"
MULTIPART_SLACK = 1_000_000  # bytes of multipart framing allowed on top of the files' own


@dataclass
class ServeSettings:
    checkpoint: str | None = None   # None: the shipped default model
    device: str = "cpu"
    backend: str = "auto"
    batch_size: int = 64
    threads: int | None = None
    detector: str = "mtcnn"
    max_files: int = 20
    max_upload_bytes: int = 500_000_000
    max_queue: int = 50
    keep_jobs: int = 50
    workers: int = 1
    tmp_dir: str | None = None
    allowed_hosts: list[str] | None = None  # Host header values accepted (None: any)

    def analysis(self) -> dict:
        """The `AnalyzeConfig` fields that the server sets (everything else is analyze's default)."""
        return {"checkpoint": self.checkpoint, "device": self.device, "backend": self.backend,
                "batch_size": self.batch_size, "threads": self.threads, "detector": self.detector}


def load_runners(settings: ServeSettings) -> list:
    """One loaded model and job runner per worker thread."""
    from facebehavior.inference.run import AnalyzeConfig, load_analyzer
    from facebehavior.serve.analysis import JobRunner, ProgressTimes

    runners = []
    for _ in range(max(1, settings.workers)):
        times = ProgressTimes()
        cfg = AnalyzeConfig(inputs=[], out="results.csv", **settings.analysis())
        runners.append(JobRunner(load_analyzer(cfg, times=times), settings.analysis(), times))
    return runners


def model_name(source: str) -> str:
    """A checkpoint's short name: a shipped model's own name (`ferplus-expr`), the run and checkpoint for
    runs/<run>/checkpoints/<name>, else the file's."""
    from facebehavior.models.pretrained import shipped_name

    path = Path(source)
    if shipped := shipped_name(path):
        return shipped
    if path.parent.name == "checkpoints" and path.parent.parent.name:
        return f"{path.parent.parent.name}/{path.name}"
    return path.name


def model_info(info, settings: ServeSettings) -> dict:
    from facebehavior import __version__
    from facebehavior.inference.annotate import EXPRESSION_COLOURS
    from facebehavior.models.pretrained import shipped_name
    from facebehavior.serve.analysis import shown_tasks

    warnings = []
    if info.domain and str(info.domain).startswith("synthetic"):
        warnings.append("This model was trained on synthetic faces only (SynthFace): its outputs on real photos "
                        "are not meaningful. Start the server without --checkpoint for the shipped real-face model.")
    if info.untrained:
        warnings.append(f"The model never trained its {', '.join(info.untrained)} head(s): they are not shown "
                        "and their columns in the table are empty.")
    return {
        "model": {"name": model_name(info.source), "source": info.source, "domain": info.domain,
                  "shipped": shipped_name(info.source) is not None, "tasks": shown_tasks(info), "untrained": info.untrained},
        "limits": {"max_files": settings.max_files, "max_upload_bytes": settings.max_upload_bytes},
        "colours": {k: "#%02x%02x%02x" % v for k, v in EXPRESSION_COLOURS.items()},
        "version": __version__, "warnings": warnings,
    }


def _error(status: int, message: str):
    from starlette.responses import JSONResponse

    return JSONResponse({"error": message}, status_code=status)


def _json(request, data: dict, status: int = 200):
    """JSON, gzipped when large and the client accepts it (a video's timelines can be a few MB)."""
    from starlette.responses import Response

    body = json.dumps(data, separators=(",", ":"), allow_nan=False).encode()
    headers = {"Cache-Control": "no-store", "Vary": "Accept-Encoding"}
    if len(body) > 16384 and "gzip" in request.headers.get("accept-encoding", ""):
        body = gzip.compress(body, 5)
        headers["Content-Encoding"] = "gzip"
    return Response(body, status_code=status, media_type="application/json", headers=headers)


class SecurityHeaders:
    """Every response: a content security policy that allows only this server's own files, no sniffing."""

    CSP = ("default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; style-src 'self'; "
           "script-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
           "form-action 'self'")

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def with_headers(message):
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                names = {k.lower() for k, _ in headers}
                for k, v in ((b"content-security-policy", self.CSP), (b"x-content-type-options", "nosniff"),
                             (b"referrer-policy", "no-referrer"), (b"x-frame-options", "DENY")):
                    if k not in names:
                        headers.append((k, v.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _job_error(job, exc: BaseException) -> str:
    """A failed job's message for its page; unexpected errors are also printed with their traceback."""
    import sys
    import traceback

    from facebehavior.errors import FaceBehaviorError

    text = str(exc) if isinstance(exc, FaceBehaviorError) else f"internal error: {type(exc).__name__}: {exc}"
    if not isinstance(exc, FaceBehaviorError):
        print(f"job {job.id} failed:", file=sys.stderr)
        traceback.print_exception(exc, file=sys.stderr)
    for u in job.uploads:
        text = text.replace(str(u.path), u.name)
    return text.replace(str(job.folder), "")


def create_app(settings: ServeSettings, runners: list | None = None):
    """The Starlette app; loads the model unless `runners` are given. Its job files live in a fresh
    temporary folder, deleted when the app shuts down (or the process exits)."""
    from contextlib import asynccontextmanager

    from starlette.applications import Starlette
    from starlette.middleware import Middleware
    from starlette.middleware.trustedhost import TrustedHostMiddleware
    from starlette.requests import ClientDisconnect
    from starlette.responses import FileResponse, HTMLResponse
    from starlette.routing import Mount, Route
    from starlette.staticfiles import StaticFiles

    runners = runners if runners is not None else load_runners(settings)
    info = model_info(runners[0].analyzer.info, settings)
    root = Path(tempfile.mkdtemp(prefix="facebehavior-serve-", dir=settings.tmp_dir)).resolve()
    jobs = JobQueue(root, runners, settings.max_queue, settings.keep_jobs, on_error=_job_error)
    atexit.register(jobs.close, 2.0)
    page = (STATIC_DIR / "index.html").read_text(encoding="utf-8")
    id_re = re.compile(ID_PATTERN)

    def find(request):
        job_id = request.path_params["job_id"]
        return jobs.get(job_id) if id_re.fullmatch(job_id) else None

    def job_json(job, full: bool = True) -> dict:
        out = {"id": job.id, "url": f"/jobs/{job.id}", "state": job.state, "message": job.message,
               "created": job.created, "started": job.started, "finished": job.finished,
               "uploads": [u.as_dict() for u in job.uploads]}
        if job.state == QUEUED:
            out["ahead"] = jobs.position(job)
        if full:
            out["progress"] = dict(job.progress)
            out["result"] = job.result
        return out

    async def index(request):
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})

    async def api_info(request):
        return _json(request, info)

    async def health(request):
        states = [j.state for j in list(jobs.jobs.values())]
        return _json(request, {"ok": True, "queued": states.count(QUEUED), "running": states.count(RUNNING)})

    async def list_jobs(request):
        recent = sorted(list(jobs.jobs.values()), key=lambda j: j.created, reverse=True)[:50]
        return _json(request, {"jobs": [job_json(j, full=False) for j in recent]})

    async def create_job(request):
        cap = settings.max_files * settings.max_upload_bytes + MULTIPART_SLACK
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > cap:
            return _error(413, f"the upload is {megabytes(int(length))}: at most {settings.max_files} files of "
                               f"{megabytes(settings.max_upload_bytes)} each (the server's --max-files and "
                               "--max-upload-mb)")
        job = jobs.new_job()
        receiver = UploadReceiver(job.inputs, settings.max_files, settings.max_upload_bytes)
        try:
            job.uploads = await receiver.receive(request.headers, request.stream(), drain_limit=cap)
        except UploadRejected as exc:
            jobs.discard(job)
            return _error(exc.status, str(exc))
        except ClientDisconnect:
            jobs.discard(job)
            return _error(400, "the upload was interrupted")
        try:
            ahead = jobs.submit(job)
        except QueueFull as exc:
            jobs.discard(job)
            return _error(503, f"the server is busy: {exc}")
        return _json(request, {"id": job.id, "url": f"/jobs/{job.id}", "ahead": ahead}, status=202)

    async def get_job(request):
        job = find(request)
        if job is None:
            return _error(404, "no such result: results are kept only while the server runs (and the oldest "
                               "are removed when many have been made)")
        return _json(request, job_json(job))

    async def delete_job(request):
        job = find(request)
        if job is None or not jobs.remove(job.id):
            return _error(404, "no such result")
        return _json(request, {"removed": job.id})

    async def job_file(request):
        job = find(request)
        f = job.files.get(request.path_params["name"]) if job is not None else None
        if f is None or not f.path.is_file():
            return _error(404, "no such file")
        disposition = "attachment" if f.attachment else "inline"
        return FileResponse(f.path, media_type=f.media_type, filename=request.path_params["name"],
                            content_disposition_type=disposition, headers={"Cache-Control": "no-store"})

    @asynccontextmanager
    async def lifespan(app):
        yield
        jobs.close()

    middleware = [Middleware(SecurityHeaders)]
    if settings.allowed_hosts:
        middleware.append(Middleware(TrustedHostMiddleware, allowed_hosts=settings.allowed_hosts))
    app = Starlette(routes=[
        Route("/", index),
        Route("/jobs/{job_id}", index),
        Route("/api/info", api_info),
        Route("/api/health", health),
        Route("/api/jobs", list_jobs, methods=["GET"]),
        Route("/api/jobs", create_job, methods=["POST"]),
        Route("/api/jobs/{job_id}", get_job, methods=["GET"]),
        Route("/api/jobs/{job_id}", delete_job, methods=["DELETE"]),
        Route("/api/jobs/{job_id}/files/{name}", job_file),
        Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
    ], middleware=middleware, lifespan=lifespan)
    app.state.jobs = jobs
    app.state.settings = settings
    app.state.info = info
    return app
