"""Every benchmark and maintenance script answers --help without running (a script whose entry point was lost, or
whose --help starts a long measurement, fails here instead of in a user's hands)."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
BENCHMARKS = REPO / "benchmarks"
SCRIPTS = sorted(p for p in [*BENCHMARKS.glob("*.py"), *(REPO / "scripts").glob("*.py")] if p.name != "benchlib.py")


def test_every_script_is_listed():
    assert len(SCRIPTS) >= 18 and (BENCHMARKS / "bench_step.py") in SCRIPTS
    assert REPO / "scripts" / "ship_ferplus_model.py" in SCRIPTS


@pytest.mark.slow  # one interpreter (and torch import) per script
@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_help_prints_usage_and_runs_nothing(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=120,
                          cwd=tmp_path)  # anything a run would write lands in tmp_path, not the repository
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.lstrip().startswith("usage:"), done.stdout[:500]
    assert not any(tmp_path.iterdir())
