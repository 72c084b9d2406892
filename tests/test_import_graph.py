"""The package's walls hold: which packages may import which (docs/architecture.md, "Rules").

Every import in every module counts, function-level ones included (they are how the package keeps
start-up light, not a way around a wall).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "facebehavior"
# package → the packages it must never import
LIBRARY_ONLY = {"studies", "cli"}  # experiments and the command line sit on top: nothing below imports them
FORBIDDEN = {
    "evaluation": {"training"} | LIBRARY_ONLY,
    "inference": {"training"} | LIBRARY_ONLY,
    "data": {"training", "evaluation", "inference", "synthface"} | LIBRARY_ONLY,
    "synthface": {"training", "evaluation", "inference", "models", "losses"} | LIBRARY_ONLY,
    "losses": {"data", "training"} | LIBRARY_ONLY,
    "models": {"data", "training"} | LIBRARY_ONLY,
    "relatedness": {"data", "training"} | LIBRARY_ONLY,
    "training": LIBRARY_ONLY,
    "compound": LIBRARY_ONLY,
    "serve": {"studies"},
}


def imports_of(path: Path) -> set[str]:
    """The facebehavior subpackages a module imports (`facebehavior.x.y` → `x`)."""
    tree = ast.parse(path.read_text(), str(path))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{a.name}" for a in node.names)
    return {n.split(".")[1] for n in names if n.startswith("facebehavior.") and n.count(".") >= 1}


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((PACKAGE / package).rglob("*.py")):
        bad = imports_of(path) & FORBIDDEN[package]
        found += [f"{path.relative_to(PACKAGE)} imports facebehavior.{b}" for b in sorted(bad)]
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_no_upward_imports(package):
    assert violations(package) == []


def test_the_checker_sees_function_level_imports(tmp_path, monkeypatch):
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from facebehavior.training.checkpoint import load_model\n")
    assert imports_of(module) == {"training"}
