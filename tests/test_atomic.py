"""Outputs are written atomically (facebehavior.atomic), and nothing in the package writes one in place."""

from __future__ import annotations

import ast
import os
from pathlib import Path

import pytest

from facebehavior import atomic

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "facebehavior"


# ---- the helper ------------------------------------------------------------------------------------

def test_success_replaces_the_file_and_leaves_nothing_else(tmp_path):
    path = tmp_path / "report.md"
    path.write_text("old\n")
    assert atomic.write_text(path, "new − ü\n") == path
    assert path.read_bytes() == "new − ü\n".encode("utf-8")
    assert atomic.write_bytes(path, b"\x00bytes") == path and path.read_bytes() == b"\x00bytes"
    assert os.listdir(tmp_path) == ["report.md"]


def test_an_exception_inside_replacing_keeps_the_old_file_and_no_temporary(tmp_path):
    path = tmp_path / "results.json"
    path.write_text('{"old": true}\n')
    with pytest.raises(KeyboardInterrupt):
        with atomic.replacing(path) as tmp:
            tmp.write_text('{"half')
            raise KeyboardInterrupt
    assert path.read_text() == '{"old": true}\n'
    assert os.listdir(tmp_path) == ["results.json"]


def test_an_exception_before_anything_was_written_is_raised_as_it_is(tmp_path):
    path = tmp_path / "new.csv"
    with pytest.raises(ValueError, match="no rows"):
        with atomic.replacing(path):
            raise ValueError("no rows")
    assert os.listdir(tmp_path) == []


def test_an_interrupted_write_text_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "metrics.json"
    path.write_text("complete\n")
    real = Path.write_text

    def dies_halfway(self, text, *args, **kwargs):
        real(self, text[:3], *args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(Path, "write_text", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        atomic.write_text(path, "the new contents\n")
    monkeypatch.undo()
    assert path.read_text() == "complete\n" and os.listdir(tmp_path) == ["metrics.json"]


def test_the_temporary_path_is_a_hidden_sibling_that_keeps_the_suffix(tmp_path):
    path = tmp_path / "figures" / "curves.png"
    with atomic.replacing(path) as tmp:
        assert tmp.parent == path.parent and tmp.parent.is_dir()  # parent folders are created
        assert tmp.name.startswith(".curves.png.") and tmp.suffix == ".png"
        assert tmp.name == f".curves.png.{os.getpid()}.tmp.png" and not tmp.exists()
        tmp.write_bytes(b"png")
    assert path.read_bytes() == b"png" and os.listdir(path.parent) == ["curves.png"]
    assert atomic.temp_path(tmp_path / "Makefile").name == f".Makefile.{os.getpid()}.tmp"


def test_parent_folders_are_created(tmp_path):
    path = atomic.write_bytes(tmp_path / "a" / "b" / "c.bin", b"x")
    assert path.read_bytes() == b"x"


# ---- the guard: no output file is written in place ------------------------------------------------

WRITERS = {"write_text", "write_bytes", "savefig", "to_csv", "to_parquet"}
PATH_KEYWORDS = ("fname", "path_or_buf", "path")

# (file under src/facebehavior, where it writes, as ast.unparse spells it): why that write stays as it is.
ALLOWED = {
    ("inference/output.py", "self.rows"):
        "per-process part file, appended on purpose; the done log says which rows are whole",
    ("inference/output.py", "self.file"):
        "TableWriter streams into its temporary .<name>.tmp, which commit() renames over the table",
    ("models/pretrained.py", "tmp / 'meta.json'"):
        "inside the checkpoint folder written as <folder>.tmp and renamed into place whole",
}


def _destination(call: ast.Call) -> ast.expr | None:
    """What a writer call writes to: the receiver of write_text/write_bytes, else the path argument."""
    if call.func.attr in ("write_text", "write_bytes"):
        return call.func.value
    if call.args:
        return call.args[0]
    return next((k.value for k in call.keywords if k.arg in PATH_KEYWORDS), None)


def _is_atomic(node: ast.expr) -> bool:
    return (isinstance(node, ast.Name) and node.id == "atomic") or \
        (isinstance(node, ast.Attribute) and node.attr == "atomic")


def _replacing_names(item: ast.withitem, names: set[str]) -> set[str]:
    """`with atomic.replacing(p) as tmp` binds tmp; `with ..., tmp.open(...) as f` binds f."""
    expr, var = item.context_expr, item.optional_vars
    if not (isinstance(expr, ast.Call) and isinstance(var, ast.Name)):
        return set()
    func = expr.func
    if (isinstance(func, ast.Attribute) and func.attr == "replacing" and _is_atomic(func.value)) or \
            (isinstance(func, ast.Name) and func.id == "replacing"):
        return {var.id}
    if isinstance(func, ast.Attribute) and func.attr == "open" and isinstance(func.value, ast.Name) \
            and func.value.id in names:
        return {var.id}
    return set()


def writes_in_place(source: str, name: str) -> list[tuple[int, str, str]]:
    """(line, call, destination) of each writer call in `source` that does not go through
    facebehavior.atomic: not an `atomic.*` call, not on a `with atomic.replacing(...) as tmp` path,
    and not a to_csv/to_parquet that returns the text (no path given)."""
    tree = ast.parse(source, name)
    safe: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.With, ast.AsyncWith)):
            names: set[str] = set()
            for item in node.items:
                names |= _replacing_names(item, names)
            if names:
                safe |= {id(n) for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in names}
    found = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in WRITERS):
            continue
        if _is_atomic(node.func.value):
            continue
        dest = _destination(node)
        if dest is None or id(dest) in safe:  # in memory, or the temporary path of atomic.replacing
            continue
        found.append((node.lineno, f".{node.func.attr}(", ast.unparse(dest)))
    return found


def test_the_guard_sees_writes_in_place_and_lets_atomic_ones_through():
    source = (
        "from facebehavior import atomic\n"
        "Path('a.md').write_text('x')\n"                       # 2: in place
        "fig.savefig(out_png, dpi=110)\n"                      # 3: in place
        "frame.to_parquet(path=p)\n"                           # 4: in place
        "text = frame.to_csv(index=False)\n"                   # in memory
        "atomic.write_text(p, 'x')\n"
        "with atomic.replacing(p) as tmp:\n"
        "    fig.savefig(tmp)\n"
        "    other.to_csv(p)\n"                                # 9: the real path, not the temporary one
        "with atomic.replacing(p) as tmp, tmp.open('w') as f:\n"
        "    frame.to_csv(f)\n"
    )
    assert writes_in_place(source, "m.py") == [(2, ".write_text(", "Path('a.md')"), (3, ".savefig(", "out_png"),
                                               (4, ".to_parquet(", "p"), (9, ".to_csv(", "p")]


def test_outputs_are_written_through_facebehavior_atomic():
    offences, used = [], set()
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel == "atomic.py":
            continue
        for line, call, dest in writes_in_place(path.read_text(encoding="utf-8"), str(path)):
            if (rel, dest) in ALLOWED:
                used.add((rel, dest))
            else:
                offences.append(f"src/facebehavior/{rel}:{line}: {call}) writes {dest} in place; use "
                                "facebehavior.atomic (write_text / write_bytes, or `with atomic.replacing(path) "
                                "as tmp:` and write tmp) so a crash never leaves half a file")
    assert not offences, "outputs must be written atomically:\n" + "\n".join(offences)
    assert not set(ALLOWED) - used, f"allow-list entries that no longer match anything: {sorted(set(ALLOWED) - used)}"
