import json
import platform
import subprocess
import sys

import pytest

from facebehavior.training.memory import keep_freed_memory

# In a fresh interpreter (the setting is process-wide and cannot be undone): minor page faults per
# forward+backward of a convolution whose activations are far above glibc's mmap threshold,
# before and after the call.
_PROBE = """
import json, resource
import torch
from facebehavior.training.memory import keep_freed_memory

torch.manual_seed(0)
conv = torch.nn.Conv2d(8, 32, 3, padding=1)
x = torch.randn(32, 8, 128, 128)  # the output and its gradient: 64 MiB each, above every mmap threshold

def faults_per_step():
    # the median of 5 steps' minor page faults, after 3 warm-up steps (the heap grows to the step's
    # peak); the median, not the mean: one step's refault after the kernel reclaimed idle pages (it
    # happened once under load) says nothing about whether freed memory is reused
    faults = lambda: resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    for _ in range(3):
        conv(x).square().mean().backward()
    counts = []
    for _ in range(5):
        before = faults()
        conv(x).square().mean().backward()
        counts.append(faults() - before)
    return sorted(counts)[2]

system = faults_per_step()
applied = keep_freed_memory()
print(json.dumps({"system": system, "applied": applied, "kept": faults_per_step()}))
"""


@pytest.mark.skipif(platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only")
@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_freed_memory_is_reused_without_page_faults():
    result = json.loads(subprocess.run([sys.executable, "-c", _PROBE], capture_output=True, text=True,
                                       check=True).stdout)
    assert result["applied"]
    assert result["system"] >= 64  # two 64 MiB blocks faulted in again every step (64 faults if in 2 MiB pages)
    assert result["kept"] < result["system"] / 10  # the heap reaches its peak within the first steps


def test_keep_freed_memory_reports_whether_it_applied(monkeypatch):
    monkeypatch.setattr(platform, "system", lambda: "Darwin")
    assert keep_freed_memory() is False
