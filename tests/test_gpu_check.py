"""benchmarks/gpu_check.sh on a machine without a GPU: it says so, writes its JSON and exits 0."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow  # trains, or spawns processes (make test-fast leaves it out)
def test_without_a_gpu_the_check_says_so_and_exits_0(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is present: the check would run for minutes")
    out = tmp_path / "gpu_check.json"
    done = subprocess.run(["bash", str(REPO / "benchmarks" / "gpu_check.sh"), "--out", str(out)], capture_output=True,
                          text=True, timeout=120, env={"PATH": "/usr/bin:/bin", "PYTHON": sys.executable})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "no CUDA GPU here" in done.stdout and "Traceback" not in done.stderr
    report = json.loads(out.read_text())
    assert report["gpu"] is False and report["parts"] == {} and report["environment"]["torch"] == torch.__version__


def test_the_check_lists_every_gpu_path_of_the_issue():
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import gpu_check
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    assert set(gpu_check.PARTS) == {"amp", "bench_step", "ddp_nccl", "analyze_video", "onnxruntime_cuda",
                                    "ferplus_gpu"}
    assert gpu_check.BUDGET + 15 < 8 * 60  # the whole check, start-up included, under 8 minutes
    assert sum(gpu_check.PARTS.values()) >= gpu_check.BUDGET  # ... the budget, not each part's limit, decides
