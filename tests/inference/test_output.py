"""The analysis table's merge: atomic, idempotent after an interruption at any point, a header when
no input had rows, torn part files, and a full disk as one error naming the file."""

from __future__ import annotations

import errno
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from facebehavior.errors import DiskFullError
from facebehavior.inference import output
from facebehavior.inference.output import (PartWriter, errors_path, merge_parts, parts_dir, prepare_output,
                                           read_results)

COLUMNS = {"source": "string", "media": "string", "frame": "Int64", "status": "string", "expr_top": "string",
           "valence": "float64", "au12_on": "boolean", "untrained_labels": "string"}
SETTINGS = {"model": "m", "stride": 1}


def _rows(source: str, n: int, start: int = 0) -> pd.DataFrame:
    return output.coerce(pd.DataFrame({
        "source": [source] * n, "media": ["video"] * n, "frame": list(range(start, start + n)),
        "status": ["ok"] * n, "expr_top": ["happiness"] * n, "valence": [0.25 + i for i in range(n)],
        "au12_on": [i % 2 == 0 for i in range(n)], "untrained_labels": ["au5,au9"] * n}), COLUMNS)


def _interrupted_run(out: Path) -> None:
    """A finished earlier run (rows of a.mp4 in `out`), then a run cut off before its merge: two
    ranks' parts, b and c done, d cut short (rows, no done mark; its last line torn mid-quote)."""
    prepare_output(out, SETTINGS, COLUMNS, resume=False, overwrite=False)
    first = PartWriter(out, 0)
    first.write(_rows("/in/a.mp4", 3))
    first.mark_done("/in/a.mp4")
    first.close()
    merge_parts(out, COLUMNS)
    prepare_output(out, SETTINGS, COLUMNS, resume=True, overwrite=False)
    for rank, (done, cut) in enumerate([("/in/b.mp4", "/in/d.mp4"), ("/in/c.jpg", None)]):
        writer = PartWriter(out, rank)
        writer.write(_rows(done, 4 + rank))
        writer.mark_done(done)
        if rank == 0:
            writer.error(done, "corrupt_frames", "2 corrupt frame(s) skipped")
        if cut:
            writer.write(_rows(cut, 2))
        writer.close()
    rows = parts_dir(out) / "rank-0.csv"
    rows.write_bytes(rows.read_bytes() + b'/in/d.mp4,video,9,ok,happiness,0.5,True,"au5,a')  # torn by the crash


def _table(out: Path) -> pd.DataFrame:
    return read_results(out).sort_values(["source", "frame"]).reset_index(drop=True)


class _Killed(BaseException):
    """Stands for kill -9 or Ctrl-C: once raised, every later guarded operation dies too."""


def _guard(monkeypatch, n: int, after: bool) -> list[int]:
    """The n-th file operation from now on dies (before it happens, or right after with `after`)."""
    calls, dead = [0], [False]

    def wrap(real):
        def op(*args, **kwargs):
            if dead[0]:
                raise _Killed
            calls[0] += 1
            number = calls[0]
            if number == n and not after:
                dead[0] = True
                raise _Killed
            result = real(*args, **kwargs)
            if number == n:
                dead[0] = True
                raise _Killed
            return result
        return op

    for owner, name in [(os, "replace"), (os, "rename"), (os, "unlink"), (os, "rmdir"), (os, "fsync"),
                        (Path, "rename"), (Path, "replace"), (Path, "unlink"),
                        (output.TableWriter, "write"), (output.TableWriter, "commit")]:
        monkeypatch.setattr(owner, name, wrap(getattr(owner, name)))
    return calls


@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".jsonl"])
def test_a_merge_interrupted_at_any_point_then_resumed_gives_the_rows_of_one_uninterrupted_run(
        tmp_path, monkeypatch, suffix):
    reference = tmp_path / "ref" / f"r{suffix}"
    reference.parent.mkdir()
    _interrupted_run(reference)
    done, carried = prepare_output(reference, SETTINGS, COLUMNS, resume=True, overwrite=False)
    expected = _table(reference)
    assert expected["source"].value_counts().to_dict() == {"/in/a.mp4": 3, "/in/b.mp4": 4, "/in/c.jpg": 5}
    assert done == {"/in/a.mp4", "/in/b.mp4", "/in/c.jpg"}
    assert [e["reason"] for e in carried] == ["corrupt_frames"]  # the problem of an input whose rows are kept

    points = 0
    for n in range(1, 200):
        for after in (False, True):
            out = tmp_path / f"cut{n}{after:d}" / f"r{suffix}"
            out.parent.mkdir()
            _interrupted_run(out)
            calls = _guard(monkeypatch, n, after)
            try:
                prepare_output(out, SETTINGS, COLUMNS, resume=True, overwrite=False)  # --resume's merge
                finished = True
            except _Killed:
                finished = False
            monkeypatch.undo()
            # the command run again: exactly the rows of the uninterrupted run, never twice
            done, _ = prepare_output(out, SETTINGS, COLUMNS, resume=True, overwrite=False)
            pd.testing.assert_frame_equal(_table(out), expected, obj=f"cut at operation {n} (after={after})")
            assert done == {"/in/a.mp4", "/in/b.mp4", "/in/c.jpg"}
            assert not parts_dir(out).exists() and not any(p.name.startswith(".") for p in out.parent.iterdir())
            shutil.rmtree(out.parent)
            points += not finished
        if finished:
            break
    assert finished and points >= 10, (points, calls)


def test_a_run_whose_every_input_failed_leaves_the_header(tmp_path):
    for suffix in (".csv", ".parquet", ".jsonl"):
        out = tmp_path / f"r{suffix}"
        prepare_output(out, SETTINGS, COLUMNS, resume=False, overwrite=False)
        writer = PartWriter(out, 0)
        writer.error("/in/x.jpg", "unreadable_image", "not an image")
        writer.close()
        merged = merge_parts(out, COLUMNS)
        assert merged["rows"] == 0 and out.is_file()
        table = read_results(out)
        assert len(table) == 0 and (suffix == ".jsonl" or list(table.columns) == list(COLUMNS))
    # no parts at all (every path missing): still a table with its header
    out = tmp_path / "none.csv"
    merge_parts(out, COLUMNS)
    assert out.read_text().strip() == ",".join(COLUMNS)


def _enospc(*args, **kwargs):
    raise OSError(errno.ENOSPC, "No space left on device")


def test_a_full_disk_while_merging_is_one_error_naming_the_file_and_loses_nothing(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    _interrupted_run(out)
    before = out.read_bytes()
    monkeypatch.setattr(output.TableWriter, "write", _enospc)
    with pytest.raises(DiskFullError) as caught:
        merge_parts(out, COLUMNS)
    message = str(caught.value)
    assert "\n" not in message and ".r.csv.tmp: no space left on the device" in message and "--resume" in message
    assert out.read_bytes() == before and parts_dir(out).is_dir()  # nothing lost
    assert not (tmp_path / ".r.csv.tmp").exists()
    monkeypatch.undo()
    prepare_output(out, SETTINGS, COLUMNS, resume=True, overwrite=False)
    assert len(read_results(out)) == 12


def test_a_full_disk_while_writing_rows_names_the_part_file(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    prepare_output(out, SETTINGS, COLUMNS, resume=False, overwrite=False)
    writer = PartWriter(out, 0)
    monkeypatch.setattr(pd.DataFrame, "to_csv", _enospc)
    with pytest.raises(DiskFullError, match=r"rank-0\.csv: no space left on the device; the inputs finished"):
        writer.write(_rows("/in/a.mp4", 2))
    writer.close()


def test_the_errors_file_is_replaced_whole(tmp_path, monkeypatch):
    out = tmp_path / "r.csv"
    output.write_errors_file(out, [{"source": "a", "reason": "r", "detail": "d"}])
    before = errors_path(out).read_bytes()
    monkeypatch.setattr(output.csv.DictWriter, "writerows", _enospc)
    with pytest.raises(DiskFullError, match="errors.csv: no space left"):
        output.write_errors_file(out, [{"source": "b", "reason": "r", "detail": "d"}])
    assert errors_path(out).read_bytes() == before and len(list(tmp_path.iterdir())) == 1


def test_the_meta_file_keeps_its_json(tmp_path):
    out = tmp_path / "r.csv"
    prepare_output(out, SETTINGS, COLUMNS, resume=False, overwrite=False)
    assert json.loads(output.meta_path(out).read_text())["settings"] == SETTINGS
