"""Writing analysis tables: crash-safe part files per process, merged into one CSV / Parquet / JSONL.

Next to ``results.csv`` a run keeps
- ``results.csv.errors.csv``: every input of the latest run that could not be used, with the reason;
- ``results.csv.meta.json``: the model and settings the rows come from (``--resume`` checks them);
- ``results.csv.parts/`` while running: per process ``rank-R.csv`` (rows, appended as they come),
  ``rank-R.done`` (inputs whose rows are all written) and ``rank-R.errors.csv``.

An input is done once its rows are flushed and its name is appended to the done log, so after a
crash, rows of an input that was cut short are dropped and the input is analysed again.
"""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pandas as pd

from facebehavior.errors import FaceBehaviorError
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

class PartWriter:
    """One process's rows, done log and errors; every write is flushed before the next input starts."""

    def __init__(self, out: Path, rank: int):
        folder = parts_dir(out)
        folder.mkdir(parents=True, exist_ok=True)
        self.rows_path = folder / f"rank-{rank}.csv"
        self.done_path = folder / f"rank-{rank}.done"
        self.errors_path = folder / f"rank-{rank}.errors.csv"
        self.rows = self.rows_path.open("a", newline="")
        self.done = self.done_path.open("a")
        self.errors = self.errors_path.open("a", newline="")
        self._header = self.rows_path.stat().st_size == 0
        if self.errors_path.stat().st_size == 0:
            csv.writer(self.errors).writerow(ERROR_FIELDS)

    def write(self, table: pd.DataFrame) -> None:
        table.to_csv(self.rows, header=self._header, index=False)
        self._header = False

    def mark_done(self, source: str) -> None:
        self.rows.flush()
        self.done.write(json.dumps(source) + "\n")
        self.done.flush()

    def error(self, source: str, reason: str, detail: str) -> None:
        csv.writer(self.errors).writerow([source, reason, detail])
        self.errors.flush()

    def close(self) -> None:
        for f in (self.rows, self.done, self.errors):
            f.close()


def _done_sources(done_file: Path) -> set[str]:
    done = set()
    if done_file.is_file():
        for line in done_file.read_text().splitlines():
            try:
                done.add(json.loads(line))
            except json.JSONDecodeError:
                pass  # a line torn by a crash: that input is simply redone
    return done


def _part_rows(rows_file: Path, done: set[str], columns: dict[str, str], chunk: int = 20000):
    if not rows_file.is_file() or rows_file.stat().st_size == 0:
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

class TableAppender:
    """Appends chunks to a CSV / JSONL file, or rewrites a Parquet file with the new rows added."""

    def __init__(self, out: Path, columns: dict[str, str]):
        self.out, self.columns, self.fmt = out, columns, output_format(out)
        self.count = 0
        if self.fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            self.schema = pa.Schema.from_pandas(coerce(pd.DataFrame(), columns), preserve_index=False)
            self.tmp = out.with_name(f".{out.name}.tmp")
            self.writer = pq.ParquetWriter(self.tmp, self.schema)
            if out.is_file():  # Parquet files cannot be appended to: copy the old rows first
                for batch in pq.ParquetFile(out).iter_batches(batch_size=65536):
                    self.writer.write_table(pa.Table.from_batches([batch]).cast(self.schema))
        else:
            self.header = not out.is_file() or out.stat().st_size == 0
            self.file = out.open("a", newline="")

    def write(self, table: pd.DataFrame) -> None:
        self.count += len(table)
        if self.fmt == "parquet":
            import pyarrow as pa

            self.writer.write_table(pa.Table.from_pandas(table, schema=self.schema, preserve_index=False))
        elif self.fmt == "csv":
            table.to_csv(self.file, header=self.header, index=False)
            self.header = False
        elif len(table):
            text = table.to_json(orient="records", lines=True, double_precision=15)
            self.file.write(text if text.endswith("\n") else text + "\n")

    def close(self) -> None:
        if self.fmt == "parquet":
            self.writer.close()
            self.tmp.replace(self.out)
        else:
            self.file.close()


def merge_parts(out: Path, columns: dict[str, str]) -> dict:
    """Move the finished inputs' rows from the part files into `out` and delete the parts.

    Returns counts and the ``errors`` (dicts source/reason/detail) the parts recorded.
    """
    folder = parts_dir(out)
    if not folder.is_dir():
        return {"rows": 0, "inputs": 0, "errors": []}
    appender = TableAppender(out, columns)
    inputs = 0
    try:
        for rows_file in sorted(folder.glob("rank-*.csv")):
            if rows_file.name.endswith(".errors.csv"):
                continue
            done = _done_sources(rows_file.with_suffix(".done"))
            inputs += len(done)
            for table in _part_rows(rows_file, done, columns):
                appender.write(table)
    finally:
        appender.close()
    errors = _part_errors(folder)
    shutil.rmtree(folder)
    return {"rows": appender.count, "inputs": inputs, "errors": errors}


def write_errors_file(out: Path, errors: list[dict]) -> None:
    path = errors_path(out)
    with path.open("w", newline="") as f:
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
                   notes: dict | None = None) -> set[str]:
    """Get `out` ready for a run; returns the inputs already done (with `resume`).

    `settings` decide what the rows mean (model, detection, stride, filter): `resume` refuses to mix
    rows made with other settings into an existing table. `notes` are recorded but not compared.
    """
    output_format(out)
    existing = [p for p in (out, meta_path(out), parts_dir(out)) if p.exists()]
    if existing and overwrite:
        for p in existing + [errors_path(out)]:
            shutil.rmtree(p) if p.is_dir() else p.unlink(missing_ok=True)
        existing = []
    if existing and not resume:
        raise FaceBehaviorError(f"{out} (or its .meta.json / .parts) already exists: pass --resume to skip the "
                                "inputs already in it, or --overwrite to start again")
    if existing:
        _check_same_settings(out, settings, columns)
        merge_parts(out, columns)  # rows that an interrupted run finished
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = {"format": META_FORMAT, "settings": settings, "columns": list(columns), **(notes or {})}
    tmp = meta_path(out).with_suffix(".tmp")
    tmp.write_text(json.dumps(meta, indent=1, default=str))
    tmp.replace(meta_path(out))
    return done_in_output(out)


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
