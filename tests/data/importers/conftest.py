"""Fixtures for importer tests: copy a native-layout fixture tree and create its image files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


@pytest.fixture
def native(tmp_path):
    """native(db, images) → a copy of tests/fixtures/<db> with empty files at the image paths."""

    def make(db: str, images=()) -> Path:
        root = tmp_path / db
        shutil.copytree(FIXTURES / db, root, dirs_exist_ok=True)
        for rel in images:
            path = root / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(b"")
        return root

    return make

