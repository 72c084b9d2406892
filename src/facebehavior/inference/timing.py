"""Seconds spent per pipeline stage (decode, detect, align, track, network), for benchmarks and logs."""

from __future__ import annotations

import time
from collections import defaultdict
from contextlib import contextmanager


class StageTimes:
    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)
        self.calls: dict[str, int] = defaultdict(int)

    @contextmanager
    def __call__(self, stage: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[stage] += time.perf_counter() - start
            self.calls[stage] += 1

    def add(self, stage: str, seconds: float) -> None:
        self.seconds[stage] += seconds
        self.calls[stage] += 1

    def as_dict(self) -> dict:
        return {k: {"seconds": round(v, 4), "calls": self.calls[k]} for k, v in self.seconds.items()}


NO_TIMES = StageTimes()  # a sink for callers that do not ask for timings
