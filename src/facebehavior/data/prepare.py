"""`data prepare`: detect, align and cache 112×112 face crops; write a manifest that points at them.

Per manifest row, in order of preference:
1. ``aligned`` true: the image is already an aligned crop; it is only resized.
2. ``landmarks`` given: aligned with them (no detection).
3. ``box`` given: the detector runs around the box and the face overlapping it most is used; if it
   finds none, landmarks are placed at their mean positions inside the box.
4. otherwise the detector runs on the whole image; with several faces the largest, most central
   one is kept (and counted).

Crops are written atomically and every finished row is appended to ``DIR/prepare_done.jsonl``, so
an interrupted run resumes where it stopped. Failures (missing or corrupt files, no face, malformed
box/landmarks) are counted with their reason in ``DIR/prepare_report.json``; they never stop the run.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from facebehavior import atomic
from facebehavior.data.manifest import Manifest, write_manifest
from facebehavior.errors import FaceBehaviorError

LOG_NAME = "prepare_done.jsonl"
REPORT_NAME = "prepare_report.json"
CONFIG_NAME = "prepare_config.json"
NO_FACE_POLICIES = ("skip", "center")


@dataclass
class PrepareOptions:
    size: int = 112
    detector: str = "mtcnn"
    detector_options: dict = field(default_factory=dict)
    workers: int = 1
    no_face: str = "skip"  # "center": use the whole image as the face box (pre-cropped databases)
    image_format: str = "png"
    retry_failed: bool = False
    progress: bool = True

    def fingerprint(self) -> dict:
        """What decides a crop's pixels; a resumed run must match it."""
        return {"size": self.size, "detector": self.detector, "no_face": self.no_face,
                "image_format": self.image_format,
                "detector_options": {k: str(v) for k, v in sorted(self.detector_options.items())}}


@dataclass
class Job:
    key: str
    source: str
    crop: str  # relative to the output folder
    box: str | None
    landmarks: str | None
    aligned: bool


def _text(value) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def _truthy(value) -> bool:
    text = _text(value)
    return text is not None and text.lower() in ("1", "1.0", "true", "yes", "y", "t")


def parse_numbers(text: str | None, count: int, column: str) -> np.ndarray | None:
    """``"x y w h"`` / ``"x1 y1 ... x5 y5"`` (spaces or commas) as floats, or ValueError."""
    if text is None:
        return None
    parts = [p for p in re.split(r"[\s,;]+", text) if p]
    try:
        values = np.array([float(p) for p in parts], np.float64)
    except ValueError:
        raise ValueError(f"column {column!r}: {text!r} is not {count} numbers") from None
    if len(values) != count or not np.isfinite(values).all():
        raise ValueError(f"column {column!r}: {text!r} is not {count} finite numbers")
    return values


def crop_key(source: str, box: str | None, landmarks: str | None, aligned: bool = False) -> str:
    """Stable id of a crop: the same image with the same face hints gives the same file."""
    return hashlib.sha1(f"{source}\0{box}\0{landmarks}\0{aligned}".encode()).hexdigest()[:20]


def _crop_name(key: str, source: str, fmt: str) -> str:
    stem = re.sub(r"[^A-Za-z0-9_-]+", "_", Path(source).stem)[:40] or "img"
    return f"crops/{key[:2]}/{stem}_{key[:12]}.{fmt}"


def make_jobs(manifest: Manifest, fmt: str) -> tuple[list[str], dict[str, Job]]:
    """The crop key of every row, and one job per distinct key."""
    frame = manifest.frame
    boxes = frame["box"] if "box" in frame else [None] * len(frame)
    marks = frame["landmarks"] if "landmarks" in frame else [None] * len(frame)
    aligned = frame["aligned"] if "aligned" in frame else [None] * len(frame)
    keys, jobs = [], {}
    for source, box, lm, al in zip(manifest.image_paths(), boxes, marks, aligned):
        source = str(source)
        box, lm, al = _text(box), _text(lm), _truthy(al)
        key = crop_key(source, box, lm, al)
        keys.append(key)
        if key not in jobs:
            jobs[key] = Job(key, source, _crop_name(key, source, fmt), box, lm, al)
    return keys, jobs


# ----------------------------------------------------------------------------- the per-image work

_WORKER: dict = {}


def _init_worker(out_dir: str, options: dict, single_thread: bool = False) -> None:
    if single_thread:  # parallelism comes from the processes; OpenCV's own pool would oversubscribe
        import cv2

        cv2.setNumThreads(1)
    _WORKER.clear()
    _WORKER.update(out_dir=Path(out_dir), options=PrepareOptions(**options), detector=None)


def _detector():
    if _WORKER["detector"] is None:  # built on first need: rows with landmarks never pay for it
        from facebehavior.data.faces import get_detector

        opts = _WORKER["options"]
        _WORKER["detector"] = get_detector(opts.detector, **opts.detector_options)
    return _WORKER["detector"]


def _face_near_box(image: np.ndarray, box: np.ndarray):
    """Detect inside a square region twice the box's size; the face overlapping the box most."""
    from facebehavior.data.faces import box_iou

    h, w = image.shape[:2]
    cx, cy, side = box[0] + box[2] / 2, box[1] + box[3] / 2, max(box[2], box[3]) * 2
    x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
    if x1 - x0 < 2 or y1 - y0 < 2:
        return None
    faces = _detector().detect(image[y0:y1, x0:x1])
    for f in faces:
        f.box[:2] += (x0, y0)
        f.landmarks += (x0, y0)
    scored = [(box_iou(f.box, box), f) for f in faces]
    scored = [(iou, f) for iou, f in scored if iou >= 0.3]
    return max(scored, key=lambda t: t[0])[1] if scored else None


def _locate_face(image: np.ndarray, job: Job, opts: PrepareOptions) -> dict:
    """Landmarks (source coordinates) to align with, and where they came from."""
    from facebehavior.data.faces import estimate_landmarks, pick_main_face

    box = parse_numbers(job.box, 4, "box")
    marks = parse_numbers(job.landmarks, 10, "landmarks")
    if marks is not None:
        return {"box": box, "landmarks": marks.reshape(5, 2), "score": None, "faces": 1, "source": "manifest"}
    if box is not None:
        if box[2] <= 0 or box[3] <= 0:
            raise ValueError(f"column 'box': {job.box!r} has a non-positive width or height")
        face = _face_near_box(image, box)  # the given box picks the face: no "several faces" case
        if face is None:
            return {"box": box, "landmarks": estimate_landmarks(box), "score": None, "faces": 1, "source": "estimated"}
        return {"box": box, "landmarks": face.landmarks, "score": face.score, "faces": 1,
                "source": "estimated" if face.landmarks_estimated else "detector"}
    faces = _detector().detect(image)
    h, w = image.shape[:2]
    face = pick_main_face(faces, w, h)
    if face is None:
        if opts.no_face != "center":
            return {}
        whole = np.array([0.0, 0.0, w, h])
        return {"box": whole, "landmarks": estimate_landmarks(whole), "score": None, "faces": 0,
                "source": "whole_image"}
    return {"box": face.box, "landmarks": face.landmarks, "score": face.score, "faces": len(faces),
            "source": "estimated" if face.landmarks_estimated else "detector"}


def _round(values) -> list[float] | None:
    return None if values is None else [round(float(v), 2) for v in np.ravel(values)]


def process_job(job: Job) -> dict:
    """Crop one image; returns the done-log record (status ok or failed, with a reason)."""
    from facebehavior.data.faces import align_face, resize_aligned
    from facebehavior.data.faces.io import ImageReadError, encode_image, read_image

    opts: PrepareOptions = _WORKER["options"]
    record = {"key": job.key, "source": job.source, "crop": job.crop, "status": "failed"}
    try:
        image = read_image(job.source)
        if job.aligned:
            crop = resize_aligned(image, opts.size)
            found = {"box": parse_numbers(job.box, 4, "box"), "score": None, "faces": 1, "source": "aligned",
                     "landmarks": parse_numbers(job.landmarks, 10, "landmarks")}
        else:
            found = _locate_face(image, job, opts)
            if not found:
                return {**record, "reason": "no_face", "detail": f"{job.source}: no face found", "faces": 0}
            crop = align_face(image, found["landmarks"], opts.size)
        atomic.write_bytes(_WORKER["out_dir"] / job.crop, encode_image(crop, opts.image_format))
    except ImageReadError as exc:
        return {**record, "reason": exc.reason, "detail": str(exc)}
    except ValueError as exc:  # malformed box / landmarks text, degenerate landmarks
        return {**record, "reason": "bad_face_hint", "detail": f"{job.source}: {exc}"}
    except Exception as exc:  # noqa: BLE001 - one bad image must not stop a long run; it is reported
        return {**record, "reason": "error", "detail": f"{job.source}: {type(exc).__name__}: {exc}"}
    return {**record, "status": "ok", "box": _round(found["box"]), "landmarks": _round(found["landmarks"]),
            "det_score": None if found["score"] is None else round(float(found["score"]), 4),
            "faces": int(found["faces"]), "landmarks_source": found["source"]}


# ----------------------------------------------------------------------------- the run


def read_done_log(path: Path) -> dict[str, dict]:
    """Records by key; the last record of a key wins, a torn last line (crash mid-write) is ignored."""
    done = {}
    if not path.is_file():
        return done
    for line in path.read_text().splitlines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and "key" in record:
            done[record["key"]] = record
    return done


def _ends_mid_line(path: Path) -> bool:
    if not path.is_file() or path.stat().st_size == 0:
        return False
    with path.open("rb") as f:
        f.seek(-1, 2)
        return f.read(1) != b"\n"


def _check_config(out_dir: Path, opts: PrepareOptions) -> None:
    path = out_dir / CONFIG_NAME
    wanted = opts.fingerprint()
    if path.is_file():
        before = json.loads(path.read_text())
        if before != wanted:
            changed = sorted(k for k in set(before) | set(wanted) if before.get(k) != wanted.get(k))
            raise FaceBehaviorError(
                f"{out_dir} holds crops made with other settings ({', '.join(changed)}: {before} vs now {wanted}); "
                "use another --out folder or delete this one")
    else:
        atomic.write_text(path, json.dumps(wanted, indent=2) + "\n")


def _run_jobs(jobs: list[Job], out_dir: Path, opts: PrepareOptions, log) -> None:
    from tqdm import tqdm

    bar = tqdm(total=len(jobs), desc="prepare", unit="img", disable=not opts.progress, dynamic_ncols=True)
    init_args = (str(out_dir), asdict(opts))

    def consume(records):
        for record in records:
            log.write(json.dumps(record) + "\n")
            log.flush()  # one line per finished image: an interruption loses at most the in-flight ones
            bar.update()

    try:
        if opts.workers <= 1 or len(jobs) <= 1:
            _init_worker(*init_args)
            consume(map(process_job, jobs))
        else:
            consume(_parallel(jobs, opts.workers, (*init_args, True)))
    finally:
        bar.close()


def _parallel(jobs: list[Job], workers: int, init_args: tuple):
    """Records in completion order from worker processes, with a bounded number of jobs in flight."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    # spawn: ONNX Runtime and OpenCV thread pools do not survive fork reliably.
    ctx = multiprocessing.get_context("spawn")
    pending, queue = set(), iter(jobs)
    executor = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_init_worker, initargs=init_args)
    try:
        while True:
            for job in queue:
                pending.add(executor.submit(process_job, job))
                if len(pending) >= workers * 8:
                    break
            if not pending:
                return
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                yield future.result()
    except BrokenProcessPool as exc:
        raise FaceBehaviorError(
            "a prepare worker process died (out of memory, or a script calling prepare_manifest with workers > 1 "
            "lacks `if __name__ == '__main__':`); finished images are logged, so rerun to resume") from exc
    finally:
        executor.shutdown(wait=True, cancel_futures=True)


def prepare_manifest(manifest: Manifest, out_dir: str | Path, options: PrepareOptions | None = None,
                     manifest_name: str | None = None) -> dict:
    """Make the crops of every row (resuming a previous run in `out_dir`); returns the report."""
    opts = options or PrepareOptions()
    if opts.no_face not in NO_FACE_POLICIES:
        raise FaceBehaviorError(f"no_face={opts.no_face!r}: use one of {NO_FACE_POLICIES}")
    if opts.image_format not in ("png", "jpg"):
        raise FaceBehaviorError(f"image format {opts.image_format!r}: use png or jpg")
    if opts.size < 16:
        raise FaceBehaviorError(f"size {opts.size}: crops must be at least 16 pixels")
    from facebehavior.data.faces import detector_info

    detector_info(opts.detector)  # an unknown name fails now, not in every worker
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _check_config(out_dir, opts)
    started = time.perf_counter()
    keys, jobs = make_jobs(manifest, opts.image_format)
    log_path = out_dir / LOG_NAME
    done = read_done_log(log_path)

    def finished(key: str) -> bool:
        rec = done.get(key)
        if rec is None:
            return False
        if rec["status"] == "ok":
            return (out_dir / rec["crop"]).is_file()
        return not opts.retry_failed

    todo = [job for key, job in jobs.items() if not finished(key)]
    reused = len(jobs) - len(todo)
    torn = _ends_mid_line(log_path)
    with log_path.open("a") as log:
        if torn:
            log.write("\n")  # end a line torn by a crash, so the next record starts clean
        _run_jobs(todo, out_dir, opts, log)
    done = read_done_log(log_path)
    name = manifest_name or ("manifest.parquet" if manifest.source.endswith(".parquet") else "manifest.csv")
    frame, report = _assemble(manifest, keys, done)
    write_manifest(frame, out_dir / name)
    seconds = time.perf_counter() - started
    report.update(manifest=manifest.source, out=str(out_dir), output_manifest=str(out_dir / name),
                  detector=opts.detector, size=opts.size, unique_images=len(jobs), processed_now=len(todo),
                  reused_from_earlier_run=reused, seconds=round(seconds, 2),
                  images_per_second=round(len(todo) / seconds, 2) if seconds > 0 and todo else None)
    atomic.write_text(out_dir / REPORT_NAME, json.dumps(report, indent=2) + "\n")
    return report


def _fmt(values: list | None) -> str | None:
    return None if values is None else " ".join(f"{v:g}" for v in values)


def _assemble(manifest: Manifest, keys: list[str], done: dict[str, dict]) -> tuple[pd.DataFrame, dict]:
    """The output manifest (successful rows) and the counts of the report."""
    frame = manifest.frame.copy()
    is_csv = not manifest.source.endswith(".parquet")
    ok_rows, failures, several = [], [], []
    reasons: dict[str, int] = {}
    sources: dict[str, int] = {}
    crops, boxes, marks, scores, origins = [], [], [], [], []
    for i, key in enumerate(keys):
        rec = done.get(key, {"status": "failed", "reason": "not_processed", "detail": "no record"})
        where = f"line {i + 2}" if is_csv else f"row {i}"
        if rec["status"] != "ok":
            reasons[rec["reason"]] = reasons.get(rec["reason"], 0) + 1
            failures.append({"row": where, "path": str(frame["path"].iloc[i]), "reason": rec["reason"],
                             "detail": rec.get("detail", "")})
            continue
        ok_rows.append(i)
        sources[rec["landmarks_source"]] = sources.get(rec["landmarks_source"], 0) + 1
        if rec.get("faces", 1) > 1:
            several.append({"row": where, "path": str(frame["path"].iloc[i]), "faces": rec["faces"]})
        crops.append(rec["crop"])
        origins.append(rec["source"])
        boxes.append(_fmt(rec.get("box")))
        marks.append(_fmt(rec.get("landmarks")))
        scores.append(rec.get("det_score"))
    out = frame.iloc[ok_rows].reset_index(drop=True)
    sources_col = pd.Series(origins, dtype=object)
    if "source_path" in out:  # preparing an already prepared manifest keeps the first source
        sources_col = out["source_path"].fillna(sources_col)
        out = out.drop(columns="source_path")
    out.insert(1, "source_path", sources_col)
    out["path"] = crops
    out["aligned"] = True
    out["box"] = boxes
    out["landmarks"] = marks
    out["det_score"] = pd.array(scores, dtype="Float64")
    report = {"rows": len(keys), "ok": len(ok_rows), "failed": len(failures), "failure_reasons": reasons,
              "several_faces": len(several), "landmark_sources": sources,
              "failures": failures, "several_faces_rows": several[:1000]}
    return out, report


def format_summary(report: dict) -> str:
    """A short human summary of a report (printed by the CLI)."""
    lines = [f"prepared {report['ok']}/{report['rows']} rows into {report['out']} "
             f"({report['processed_now']} images processed now, {report['reused_from_earlier_run']} reused; "
             f"{report['seconds']} s)",
             "landmarks from: " + (", ".join(f"{k} {v}" for k, v in sorted(report["landmark_sources"].items()))
                                   or "-")]
    if report["several_faces"]:
        lines.append(f"several faces in {report['several_faces']} image(s): kept the largest, most central one")
    if report["failed"]:
        lines.append(f"failed {report['failed']} row(s): "
                     + ", ".join(f"{k} {v}" for k, v in sorted(report["failure_reasons"].items())))
        for f in report["failures"][:10]:
            lines.append(f"  - {f['row']}: {f['reason']}: {f['detail']}")
        if report["failed"] > 10:
            lines.append(f"  ... see {Path(report['out']) / REPORT_NAME} for all")
    lines.append(f"manifest: {report['output_manifest']}")
    return "\n".join(lines)
