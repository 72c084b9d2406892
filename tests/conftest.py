"""Tests keep facebehavior's caches (ONNX exports of checkpoints) in a temporary folder, never in the
user's ~/.cache; subprocesses inherit it."""

import atexit
import os
import shutil
import tempfile

os.environ["FACEBEHAVIOR_CACHE"] = _cache = tempfile.mkdtemp(prefix="facebehavior-test-cache-")
atexit.register(shutil.rmtree, _cache, ignore_errors=True)
