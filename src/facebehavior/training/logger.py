"""Run logging: JSONL always (one object per line), TensorBoard when installed. Rank 0 only."""

from __future__ import annotations

import json
from pathlib import Path

from facebehavior import atomic
from facebehavior.errors import disk_full_as_error


class RunLogger:
    def __init__(self, run_dir: Path, enabled: bool = True):
        self.enabled = enabled
        self.path = run_dir / "log.jsonl"
        self._tb = None
        if enabled:
            run_dir.mkdir(parents=True, exist_ok=True)
            try:
                from torch.utils.tensorboard import SummaryWriter

                self._tb = SummaryWriter(str(run_dir / "tensorboard"))
            except Exception:  # tensorboard not installed: JSONL is the record
                self._tb = None

    def log(self, record: dict) -> None:
        if not self.enabled:
            return
        with disk_full_as_error(self.path, "the checkpoints are kept: free some space and rerun with --resume "
                                           "(the log is cut back to the checkpoint)"):
            with self.path.open("a") as f:
                f.write(json.dumps(record, default=float) + "\n")
        if self._tb is not None:
            step = record.get("step", 0)
            for k, v in record.items():
                if isinstance(v, (int, float)) and k not in ("step", "epoch"):
                    self._tb.add_scalar(k, v, step)

    def start_fresh(self) -> None:
        """A new (not resumed) run: drop an earlier run's records, so the log reads as this run."""
        if self.enabled:
            self.path.unlink(missing_ok=True)

    def truncate_after(self, step: int) -> None:
        """On resume, drop records past the checkpoint so the log reads as one run."""
        if not (self.enabled and self.path.exists()):
            return
        keep = [line for line in self.path.read_text().splitlines()
                if line.strip() and json.loads(line).get("step", 0) <= step]
        atomic.write_text(self.path, "".join(line + "\n" for line in keep))

    def close(self) -> None:
        if self._tb is not None:
            self._tb.close()
