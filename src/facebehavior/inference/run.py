"""`facebehavior analyze` as a library call: inputs → one merged table, an errors file, annotations.

Large collections: `workers` > 1 spawns processes that take every N-th input; under torchrun each
rank does the same. Each writes its own part files; rank 0 merges them once all have finished.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from facebehavior.errors import FaceBehaviorError
from facebehavior.inference.analyzer import (DEFAULT_DETECT_EVERY, AnalyzeOptions, FaceBehavior, Rows, SourceDone,
                                             SourceFailed)
from facebehavior.inference.locate import AUTO
from facebehavior.inference.inputs import Input, discover
from facebehavior.inference.output import (PartWriter, done_in_output, merge_parts, prepare_output,
                                           write_errors_file)
from facebehavior.inference.timing import StageTimes


@dataclass
class AnalyzeConfig:
    inputs: list[str]
    checkpoint: str | None  # None: the shipped default model
    out: str
    backend: str = "auto"
    device: str = "cpu"
    batch_size: int = 64
    detector: str = "mtcnn"
    detector_options: dict = field(default_factory=dict)
    detect_size: int | None = None
    aligned: bool = False
    stride: int = 1
    median: int = 0
    detect_every: int = DEFAULT_DETECT_EVERY
    min_face: int | str | None = AUTO
    compound: str | None = None
    annotate: str | None = None
    resume: bool = False
    overwrite: bool = False
    workers: int = 1
    threads: int | None = None
    progress: bool = True

    def check(self) -> None:
        """Every option's value, checked at once (a bad one is one error line, not one per input)."""
        from facebehavior.data.faces import detector_info

        for name, value, low in (("--workers", self.workers, 1), ("--batch-size", self.batch_size, 1),
                                 ("--threads", self.threads, 1), ("--detect-size", self.detect_size, 1)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise FaceBehaviorError(f"{name} must be a whole number of at least {low}, got {value!r}")
        self.options()
        detector_info(self.detector)  # an unknown name: the list of known ones

    def options(self) -> AnalyzeOptions:
        return AnalyzeOptions(self.aligned, self.stride, self.median, self.detect_every,
                              keep_images=self.annotate is not None, compound=self.compound, min_face=self.min_face)

    def settings(self, model_identity: dict) -> dict:
        """What decides the rows' values (compared on --resume)."""
        detection = {} if self.aligned else {"detector": self.detector, "detector_options": self.detector_options,
                                             "detect_size": self.detect_size, "detect_every": self.detect_every,
                                             "min_face": self.options().min_face}
        return {"model": model_identity, "aligned": self.aligned, "stride": self.stride, "median": self.median,
                "compound": self.compound, **detection}


@dataclass
class ShareResult:
    rank: int
    inputs_done: int = 0
    inputs_failed: int = 0
    rows: int = 0
    faces: int = 0
    frames: int = 0
    no_face: int = 0  # images/frames in which no face was found (their rows have status no_face)
    problems: int = 0
    notes: list = field(default_factory=list)  # faces the fast video settings may have missed
    bad_frames: int = 0  # video frames that could not be decoded (skipped; listed in the errors file)
    times: dict = field(default_factory=dict)
    annotated: list = field(default_factory=list)


def _ranks() -> tuple[int, int]:
    return int(os.environ.get("RANK", "0")), int(os.environ.get("WORLD_SIZE", "1"))


def load_analyzer(cfg: AnalyzeConfig, times: StageTimes | None = None, threads: int | None = None) -> FaceBehavior:
    return FaceBehavior.load(cfg.checkpoint, cfg.device, cfg.backend, cfg.detector, cfg.detector_options,
                             cfg.detect_size, cfg.batch_size, threads or cfg.threads, times or StageTimes(),
                             warn=False)


def analyze_files(cfg: AnalyzeConfig, say=print, analyzer: FaceBehavior | None = None) -> dict:
    """Run the analysis; returns a summary (counts, errors, timings). Only rank 0 merges and returns it.

    `analyzer`: a model already loaded with `load_analyzer(cfg)` (`facebehavior serve` keeps one for
    every job); by default it is loaded here."""
    cfg.check()  # bad option values fail here, before any input is read or model loaded
    rank, world = _ranks()
    if world > 1 and cfg.workers > 1:
        raise FaceBehaviorError("use either --workers or torchrun, not both")
    out = Path(cfg.out)
    inputs, problems = discover(cfg.inputs)
    analyzer = analyzer or load_analyzer(cfg)
    if not cfg.aligned:
        _load_detector(analyzer, cfg.detector)
    if rank == 0:
        for line in untrained_warnings(analyzer, cfg.checkpoint or analyzer.info.source):
            say(line)
    if cfg.compound:
        analyzer.enable_compound(cfg.compound)
    columns = analyzer.columns
    settings = cfg.settings(analyzer.info.identity)
    notes = {"checkpoint": analyzer.info.source, "backend": cfg.backend}
    sync = _Sync(world)
    carried: list[dict] = []
    if rank == 0:
        done, carried = prepare_output(out, settings, columns, cfg.resume, cfg.overwrite, notes)
    sync.barrier()
    if rank != 0:
        done = done_in_output(out)
    todo = [i for i in inputs if i.source not in done]
    if rank == 0 and done:
        say(f"resume: {len(inputs) - len(todo)} of {len(inputs)} inputs are already in {out}")
    if cfg.workers > 1:
        results = _run_workers(cfg, todo) if todo else []
    else:
        results = [analyze_share(cfg, todo[rank::world], rank, world, analyzer)]
    results = sync.gather(results)
    sync.close()  # rank 0 merges alone from here on
    if rank != 0:
        return {}
    merged = merge_parts(out, columns)
    errors = ([{"source": p.source, "reason": p.reason, "detail": p.detail} for p in problems] + carried
              + merged["errors"])
    write_errors_file(out, errors)
    return _summary(cfg, out, inputs, todo, results, merged, errors, len(carried))


def analyze_share(cfg: AnalyzeConfig, share: list[Input], rank: int, world: int,
                  analyzer: FaceBehavior | None = None) -> ShareResult:
    """One process's inputs, into its part files."""
    from facebehavior.inference.annotate import Annotator

    analyzer = analyzer or load_analyzer(cfg, threads=cfg.threads)
    result = ShareResult(rank)
    writer = PartWriter(Path(cfg.out), rank)
    annotator = Annotator(cfg.annotate, analyzer.info.tasks, {i.source: i.name for i in share}) if cfg.annotate else None
    bar = _progress(cfg, len(share), rank, world)
    try:
        for event in analyzer.process(share, cfg.options()):
            if isinstance(event, Rows):
                writer.write(event.table)
                result.rows += len(event.table)
                result.faces += int((event.table["status"] == "ok").sum())
                result.no_face += int((event.table["status"] == "no_face").sum())
                result.frames += len(event.jobs)
                if annotator:
                    annotator.add_rows(event.jobs, event.table)
                bar.set_postfix(frames=result.frames, faces=result.faces, refresh=False)
            elif isinstance(event, SourceDone):
                writer.mark_done(event.source)
                result.inputs_done += 1
                if event.problem:
                    writer.error(event.source, *event.problem)
                    result.problems += 1
                result.notes.extend(event.notes)
                result.bad_frames += event.bad_frames
                if annotator:
                    annotator.finish(event.source)
                bar.update(1)
            elif isinstance(event, SourceFailed):
                writer.error(event.source, event.reason, event.detail)
                result.inputs_failed += 1
                bar.update(1)
    finally:
        writer.close()
        bar.close()
        if annotator:
            annotator.close()
            result.annotated = [str(p) for p in annotator.written]
    result.times = analyzer.times.as_dict()
    return result


def _load_detector(analyzer: FaceBehavior, name: str) -> None:
    """Build the face detector now: a detector that cannot be built (options, model file) is one
    error before any input, not the same failure for every input."""
    try:
        analyzer.finder.detector
    except FaceBehaviorError:
        raise
    except Exception as exc:
        raise FaceBehaviorError(f"face detector {name!r} cannot be loaded: {type(exc).__name__}: {exc}") from None


def untrained_warnings(analyzer: FaceBehavior, checkpoint: str) -> list[str]:
    """One line per kind of output the checkpoint never trained (heads; labels within trained heads)."""
    from facebehavior.inference.columns import LABELS_NOTE_COLUMN, NOTE_COLUMN, untrained_label_columns

    info, lines = analyzer.info, []
    if info.domain == "synthetic":
        lines.append(f"warning: {checkpoint} was trained on synthetic faces only (SynthFace); its outputs on real "
                     "photos are not meaningful. Omit --checkpoint for the shipped real-face model")
    if info.untrained:
        lines.append(f"warning: {checkpoint} never trained the head(s) {info.untrained}; their columns are left "
                     f"empty and named in the '{NOTE_COLUMN}' column")
    labels = untrained_label_columns(info.tasks, info.untrained_labels or {})
    if labels:
        lines.append(f"warning: {checkpoint} had no training annotations for {labels}; AU and regression columns "
                     f"among them are left empty, all are named in the '{LABELS_NOTE_COLUMN}' column")
    elif info.untrained_labels is None and any(t.kind != "multiclass" for t in info.tasks if t.name in info.trained):
        lines.append(f"note: {checkpoint} predates per-label training records: AU or regression labels its data "
                     f"never annotated cannot be told apart (retrain, or check which your databases annotate)")
    return lines


def _progress(cfg: AnalyzeConfig, total: int, rank: int, world: int):
    from tqdm import tqdm

    label = f"rank {rank}" if world > 1 or cfg.workers > 1 else "analyze"
    return tqdm(total=total, unit="input", desc=label, position=rank, disable=not cfg.progress, dynamic_ncols=True)


def _worker(cfg_dict: dict, share: list[Input], rank: int, world: int) -> ShareResult:
    import cv2

    cv2.setNumThreads(1)  # one process per core: no thread pools fighting inside each
    cfg = AnalyzeConfig(**cfg_dict)
    return analyze_share(cfg, share, rank, world)


def _run_workers(cfg: AnalyzeConfig, todo: list[Input]) -> list[ShareResult]:
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    n = cfg.workers
    per_worker = dict(asdict(cfg), threads=cfg.threads or max(1, (os.cpu_count() or 1) // n))
    # spawn: ONNX Runtime and OpenCV thread pools do not survive fork reliably.
    with ProcessPoolExecutor(n, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(_worker, per_worker, todo[r::n], r, n) for r in range(n)]
        try:
            return [f.result() for f in futures]
        except BrokenProcessPool:
            raise FaceBehaviorError("a worker process died; the inputs it finished are kept: rerun the same "
                                    "command with --resume to continue") from None


class _Sync:
    """Barriers between torchrun ranks (gloo, long timeout: one rank may have a long video)."""

    def __init__(self, world: int):
        self.enabled = world > 1
        if self.enabled:
            from datetime import timedelta

            import torch.distributed as dist

            if not dist.is_initialized():
                dist.init_process_group("gloo", timeout=timedelta(days=7))

    def barrier(self) -> None:
        if self.enabled:
            import torch.distributed as dist

            dist.barrier()

    def close(self) -> None:
        """End the group together (one left to interpreter shutdown can abort the process)."""
        if self.enabled:
            from facebehavior.devices import cleanup_distributed

            cleanup_distributed()

    def gather(self, results: list) -> list:
        """Every rank's results (on every rank); also a barrier."""
        if not self.enabled:
            return results
        import torch.distributed as dist

        everything: list = [None] * dist.get_world_size()
        dist.all_gather_object(everything, results)
        return [r for part in everything for r in part]


def _summary(cfg, out, inputs, todo, results, merged, errors, carried: int = 0) -> dict:
    times: dict = {}
    for r in results:
        for stage, v in r.times.items():
            t = times.setdefault(stage, {"seconds": 0.0, "calls": 0})
            t["seconds"] += v["seconds"]
            t["calls"] += v["calls"]
    partial = sum(r.problems for r in results) + carried  # carried: an interrupted run's, rows kept
    return {
        "out": str(out), "inputs": len(inputs), "skipped_done": len(inputs) - len(todo),
        "analysed": sum(r.inputs_done for r in results), "failed": len(errors) - partial,
        "partial": partial, "rows": merged["rows"], "faces": sum(r.faces for r in results),
        "frames": sum(r.frames for r in results), "no_face": sum(r.no_face for r in results),
        "bad_frames": sum(r.bad_frames for r in results),
        "errors": errors, "times": times,
        "annotated": [p for r in results for p in r.annotated],
        "notes": [n for r in results for n in r.notes],
    }
