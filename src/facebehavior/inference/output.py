"""Writing analysis tables: crash-safe part files per process, merged into one CSV / Parquet / JSONL.

Next to ``results.csv`` a run keeps
- ``results.csv.errors.csv``: every input of the latest run that could not be used, with the reason;
- ``results.csv.meta.json``: the model and settings the rows come from (``--resume`` checks them);
- ``results.csv.parts/`` while running: per process ``rank-R.csv`` (rows, appended as they come),
  ``rank-R.done`` (inputs whose rows are all written) and ``rank-R.errors.csv``.

An input is done once its rows are flushed and its name is appended to the done log, so after a
crash, rows of an input that was cut short are dropped and the input is analysed again.

The merge into ``results.csv`` is atomic and idempotent: the new table is written to
``.results.csv.tmp`` and renamed over the old one, rows of inputs already in it are never added again,
and the parts folder is renamed aside (``.results.csv.parts.merged``) before it is deleted. A
``--resume`` after an interruption at any point of the merge therefore gives the rows of one
uninterrupted run. A run whose every input failed still leaves the table, with its header only.
A full disk is one `DiskFullError` line naming the file; what was written before is kept.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd

from facebehavior import atomic
from facebehavior.errors import FaceBehaviorError, disk_full_as_error, is_disk_full
from facebehavior.inference.columns import coerce

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
ERROR_FIELDS = ("source", "reason", "detail")
META_FORMAT = "facebehavior-analysis-1"


def output_format(out: Path) -> str:
    fmt = FORMATS.get(Path(out).suffix.lower())
    if fmt is None:
        raise FaceBehaviorError(f"--out {out}: unknown table format; end it in one of {sorted(FORMATS)}")
    return fmt


# Named after the whole file name, so results.csv and results.parquet in one folder never share them.
def errors_path(out: Path) -> Path:
    return out.with_name(out.name + ".errors.csv")


def meta_path(out: Path) -> Path:
    return out.with_name(out.name + ".meta.json")


def parts_dir(out: Path) -> Path:
    return out.with_name(out.name + ".parts")


# ---- per-process part files ------------------------------------------------------------------------

KEPT_ON_RESUME = "the inputs finished before are kept: free some space and rerun the same command with --resume"


class PartWriter:
    """One process's rows, done log and errors; every write is flushed before the next input starts.

    A full disk is a `DiskFullError` naming the file: the input being written is not marked done, so
    `--resume` analyses it again and keeps every input finished before."""

    def __init__(self, out: Path, rank: int):
        folder = parts_dir(out)
        self.rows_path = folder / f"rank-{rank}.csv"
        self.done_path = folder / f"rank-{rank}.done"
        self.errors_path = folder / f"rank-{rank}.errors.csv"
        with disk_full_as_error(folder, KEPT_ON_RESUME):
            folder.mkdir(parents=True, exist_ok=True)
            self.rows = self.rows_path.open("a", newline="")
            self.done = self.done_path.open("a")
            self.errors = self.errors_path.open("a", newline="")
            self._header = self.rows_path.stat().st_size == 0
            if self.errors_path.stat().st_size == 0:
                csv.writer(self.errors).writerow(ERROR_FIELDS)

    def write(self, table: pd.DataFrame) -> None:
        with disk_full_as_error(self.rows_path, KEPT_ON_RESUME):
            table.to_csv(self.rows, header=self._header, index=False)
        self._header = False

    def mark_done(self, source: str) -> None:
        with disk_full_as_error(self.rows_path, KEPT_ON_RESUME):
            self.rows.flush()
        with disk_full_as_error(self.done_path, KEPT_ON_RESUME):
            self.done.write(json.dumps(source) + "\n")
            self.done.flush()

    def error(self, source: str, reason: str, detail: str) -> None:
        with disk_full_as_error(self.errors_path, KEPT_ON_RESUME):
            csv.writer(self.errors).writerow([source, reason, detail])
            self.errors.flush()

    def close(self) -> None:
        failure = None
        for path, f in ((self.rows_path, self.rows), (self.done_path, self.done), (self.errors_path, self.errors)):
            try:
                with disk_full_as_error(path, KEPT_ON_RESUME):
                    f.close()
            except Exception as exc:  # close every file; report the first failure
                failure = failure or exc
        if failure is not None:
            raise failure


def _done_sources(done_file: Path) -> set[str]:
    done = set()
    if done_file.is_file():
        for line in done_file.read_text().splitlines():
            try:
                done.add(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line torn by a crash: that input is simply redone
    return done


def _drop_torn_tail(path: Path, block: int = 1 << 16) -> None:
    """Cut a last line a crash left unfinished (its input is not done; an open quote in it would
    make the whole file unreadable)."""
    size = path.stat().st_size
    with path.open("rb+") as f:
        end = size
        while end > 0:
            start = max(0, end - block)
            f.seek(start)
            cut = f.read(end - start).rfind(b"\n")
            if cut >= 0:
                keep = start + cut + 1
                break
            end = start
        else:
            keep = 0
        if keep < size:
            f.truncate(keep)


def _part_rows(rows_file: Path, done: set[str], columns: dict[str, str], chunk: int = 20000):
    if not rows_file.is_file() or rows_file.stat().st_size == 0:
        return
    _drop_torn_tail(rows_file)
    if rows_file.stat().st_size == 0:
        return
    reader = pd.read_csv(rows_file, dtype=str, keep_default_na=False, na_values=[""], chunksize=chunk,
                         on_bad_lines="skip")
    for table in reader:
        table = table[table["source"].isin(done)]
        if len(table):
            yield coerce(table, columns)


def _part_errors(folder: Path) -> list[dict]:
    rows = []
    for file in sorted(folder.glob("rank-*.errors.csv")):
        with file.open(newline="") as f:
            rows.extend(r for r in csv.DictReader(f) if r.get("source"))
    return rows


# ---- the merged table ------------------------------------------------------------------------------

def _tmp_path(out: Path) -> Path:
    return out.with_name(f".{out.name}.tmp")


def _trash_dir(out: Path) -> Path:
    """Where a merged parts folder is moved (one rename) before it is deleted file by file."""
    return out.with_name(f".{out.name}.parts.merged")


class TableWriter:
    """A new version of `out`: its old rows, then the chunks written, in a temporary file that
    `commit` renames over `out` (so `out` is always either the old table or the whole new one)."""

    def __init__(self, out: Path, columns: dict[str, str]):
        self.out, self.columns, self.fmt = out, columns, output_format(out)
        self.tmp = _tmp_path(out)
        self.count = 0
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.Schema.from_pandas(coerce(pd.DataFrame(), columns), preserve_index=False)
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
            if out.is_file():  # Parquet files cannot be appended to: copy the old rows first
                for batch in pq.ParquetFile(out).iter_batches(batch_size=65536):
                    self.writer.write_table(pa.Table.from_batches([batch]).cast(self.schema))
        else:
            self.file = self.tmp.open("wb")
            old = out.is_file() and out.stat().st_size > 0
            if old:
                with out.open("rb") as f:
                    shutil.copyfileobj(f, self.file, 1 << 22)
            self.file = io.TextIOWrapper(self.file, newline="", encoding="utf-8")
            if self.fmt == "csv" and not old:  # a table without rows still names its columns
                coerce(pd.DataFrame(), columns).to_csv(self.file, index=False)

    def write(self, table: pd.DataFrame) -> None:
        self.count += len(table)
        if self.fmt == "parquet":
            import pyarrow as pa

            self.writer.write_table(pa.Table.from_pandas(table, schema=self.schema, preserve_index=False))
        elif self.fmt == "csv":
            table.to_csv(self.file, header=False, index=False)
        elif len(table):
            text = table.to_json(orient="records", lines=True, double_precision=15)
            self.file.write(text if text.endswith("\n") else text + "\n")

    def commit(self) -> None:
        """Flush to disk and put the new table in place of `out` (one rename)."""
        if self.fmt == "parquet":
            self.writer.close()
        else:
            self.file.flush()
            os.fsync(self.file.fileno())
            self.file.close()
        os.replace(self.tmp, self.out)

    def discard(self) -> None:
        try:
            self.writer.close() if self.fmt == "parquet" else self.file.close()
        except Exception:  # e.g. the disk is still full: the temporary file goes anyway
            pass
        self.tmp.unlink(missing_ok=True)


class TableAppender(TableWriter):
    """`out` with the chunks written added at `close` (a TableWriter that commits on close)."""

    def close(self) -> None:
        self.commit()


def _remove_merged_parts(out: Path) -> None:
    """Delete a parts folder whose rows are in `out`: first renamed aside in one step, so an
    interruption while its files are deleted never leaves a half-deleted `.parts` to merge."""
    trash = _trash_dir(out)
    parts_dir(out).rename(trash)
    shutil.rmtree(trash)


def merge_parts(out: Path, columns: dict[str, str]) -> dict:
    """Move the finished inputs' rows from the part files into `out` and delete the parts.

    Atomic and idempotent: the new table is written beside `out` and renamed over it, and rows of an
    input already in `out` (a merge interrupted after its rename) are not added again, so a merge
    cut short at any point and run again gives the table of one uninterrupted merge. `out` exists
    afterwards, with the header alone when no input had rows.
    Returns counts and the ``errors`` (dicts source/reason/detail) the parts recorded.
    """
    folder = parts_dir(out)
    if _trash_dir(out).exists():  # parts already merged, their deletion interrupted
        shutil.rmtree(_trash_dir(out))
    if not folder.is_dir():
        if not out.is_file():
            _write_empty_table(out, columns)
        return {"rows": 0, "inputs": 0, "errors": []}
    already = done_in_output(out)
    inputs = 0
    kept = f"nothing is lost: {out} and the finished inputs' rows in {folder} are kept; free some space and " \
           "rerun the same command with --resume"
    with disk_full_as_error(_tmp_path(out), kept):
        writer = TableWriter(out, columns)
        try:
            for rows_file in sorted(folder.glob("rank-*.csv")):
                if rows_file.name.endswith(".errors.csv"):
                    continue
                done = _done_sources(rows_file.with_suffix(".done")) - already
                inputs += len(done)
                for table in _part_rows(rows_file, done, columns):
                    writer.write(table)
            writer.commit()
        except BaseException:
            writer.discard()
            raise
    errors = _part_errors(folder)
    _remove_merged_parts(out)
    return {"rows": writer.count, "inputs": inputs, "errors": errors}


def _write_empty_table(out: Path, columns: dict[str, str]) -> None:
    """`out` with its header (CSV) or schema (Parquet) and no rows."""
    with disk_full_as_error(_tmp_path(out), "nothing is lost; free some space and rerun with --resume"):
        writer = TableWriter(out, columns)
        try:
            writer.commit()
        except BaseException:
            writer.discard()
            raise


def write_errors_file(out: Path, errors: list[dict]) -> None:
    """`<out>.errors.csv`, replaced in one rename."""
    path = errors_path(out)
    with disk_full_as_error(path, f"the rows in {out} are complete; only this list of failed inputs is missing"):
        with atomic.replacing(path) as tmp, tmp.open("w", newline="") as f:
            writer = csv.DictWriter(f, ERROR_FIELDS)
            writer.writeheader()
            writer.writerows({k: e.get(k, "") for k in ERROR_FIELDS} for e in errors)


def read_results(path: str | Path, columns: list[str] | None = None) -> pd.DataFrame:
    """An analysis table written by `analyze` (CSV, Parquet or JSONL)."""
    path = Path(path)
    if not path.is_file():
        raise FaceBehaviorError(f"{path}: no such results file")
    fmt = output_format(path)
    try:
        if fmt == "parquet":
            return pd.read_parquet(path, columns=columns)
        if fmt == "csv":
            return pd.read_csv(path, usecols=columns, keep_default_na=False, na_values=[""])
        table = pd.read_json(path, lines=True, dtype=False)
        return table[columns] if columns else table
    except (ValueError, KeyError, OSError) as exc:
        raise FaceBehaviorError(f"{path}: cannot be read as an analysis table ({exc})") from None


def done_in_output(out: Path) -> set[str]:
    """Inputs whose rows are already in the merged output."""
    if not out.is_file() or out.stat().st_size == 0:
        return set()
    return set(read_results(out, ["source"])["source"].astype(str))


# ---- run settings ----------------------------------------------------------------------------------

def prepare_output(out: Path, settings: dict, columns: dict[str, str], resume: bool, overwrite: bool,
                   notes: dict | None = None) -> tuple[set[str], list[dict]]:
    """Get `out` ready for a run; returns the inputs already done (with `resume`) and the problems
    an interrupted run recorded for inputs it finished (rows kept; for the errors file).

    `settings` decide what the rows mean (model, detection, stride, filter): `resume` refuses to mix
    rows made with other settings into an existing table. `notes` are recorded but not compared.
    """
    output_format(out)
    if out.is_dir():  # never a folder: --overwrite would delete it
        raise FaceBehaviorError(f"--out {out} is a folder; give a file name ending in one of {sorted(FORMATS)}")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        if is_disk_full(exc):
            raise
        raise FaceBehaviorError(f"--out {out}: its folder cannot be created ({exc.strerror}: {exc.filename})") from None
    existing = [p for p in (out, meta_path(out), parts_dir(out)) if p.exists()]
    if existing and overwrite:
        for p in existing + [errors_path(out), _tmp_path(out), _trash_dir(out)]:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        existing = []
    if existing and not resume:
        raise FaceBehaviorError(f"{out} (or its .meta.json / .parts) already exists: pass --resume to skip the "
                                "inputs already in it, or --overwrite to start again")
    carried: list[dict] = []
    if existing:
        _check_same_settings(out, settings, columns)
        carried = merge_parts(out, columns)["errors"]  # rows that an interrupted run finished
    meta = {"format": META_FORMAT, "settings": settings, "columns": list(columns), **(notes or {})}
    with disk_full_as_error(meta_path(out), "nothing is lost: free some space and rerun the same command"):
        atomic.write_text(meta_path(out), json.dumps(meta, indent=1, default=str))
    done = done_in_output(out)
    return done, [e for e in carried if e.get("source") in done]


def _check_same_settings(out: Path, settings: dict, columns: dict[str, str]) -> None:
    path = meta_path(out)
    if not path.is_file():
        raise FaceBehaviorError(f"{path} is missing, so --resume cannot tell which model and settings made {out}; "
                                "use --overwrite or another --out")
    old = json.loads(path.read_text())
    before = json.loads(json.dumps(old.get("settings", {}), default=str))
    now = json.loads(json.dumps(settings, default=str))
    changed = sorted(k for k in set(before) | set(now) if before.get(k) != now.get(k))
    if changed or old.get("columns") != list(columns):
        what = ", ".join(f"{k}: {before.get(k)!r} -> {now.get(k)!r}" for k in changed) or "the columns"
        raise FaceBehaviorError(f"--resume: {out} was made with other settings ({what}); use the same "
                                "options, --overwrite, or another --out")
