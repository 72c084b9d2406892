#!/usr/bin/env bash
# GPU readiness check (issue 18): every GPU path of the project once, in under 8 minutes on one GPU,
# into one JSON (default benchmarks/results/gpu_check.json); see benchmarks/gpu_check.py for the parts.
#
#   bash benchmarks/gpu_check.sh [--out FILE] [--only PART ...] [--budget SECONDS] [--ferplus DIR]
#
# Python: $PYTHON, else .venv/bin/python, else python3; it needs a CUDA build of torch and this
# package's dependencies. Exit 0: every part ok (or skipped, with the reason), or no GPU here (said so);
# 1: a part failed (the JSON says which and why); 2: no usable Python with torch.
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
    if [ -x .venv/bin/python ]; then PY=.venv/bin/python; else PY=python3; fi
fi
if ! "$PY" -c "import torch" 2>/dev/null; then
    echo "gpu_check: $PY cannot import torch; set PYTHON to an interpreter with torch and this package's dependencies" >&2
    exit 2
fi
export PYTHONUNBUFFERED=1
export PYTHONPATH="$PWD/src:$PWD:$PWD/benchmarks${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" benchmarks/gpu_check.py "$@"
