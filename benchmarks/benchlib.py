"""What every benchmark script shares: a description of the machine, and writing the JSON result.

Standard library only: bench_synth's spawned workers import their main module again.
"""

from __future__ import annotations

import json
import os
import platform
from pathlib import Path


def machine(**extra) -> dict:
    """CPU, core count, Python and OS of this machine, plus `extra` (library versions, threads, load)."""
    from facebehavior.host import cpu_model  # standard library only, like this module

    return {"cpu": platform.processor() or platform.machine(), "cpu_model": cpu_model(), "cpus": os.cpu_count(),
            "python": platform.python_version(), "platform": platform.platform(), **extra}


def write_result(path: str | Path, result: dict, indent: int = 2) -> Path:
    """Write `result` as JSON to `path` (creating its folder) and say where."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result, indent=indent) + "\n")
    print(f"wrote {path}")
    return path
