"""Which machine numbers came from. Standard library only: benchmark workers import it cheaply."""

from __future__ import annotations

import platform
from pathlib import Path


def cpu_model() -> str:
    """The CPU's model name (from /proc/cpuinfo on Linux; the platform's processor string elsewhere).
    A shared machine may change host between sessions, and speed (and CPU kernels' last bits) with it."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
