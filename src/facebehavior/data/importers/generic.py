"""Any CSV with one row per image: the user says which column is what in a small YAML/JSON mapping.

    file: labels.csv            # relative to root (required)
    encoding: utf-8             # optional: UTF-8, or UTF-16/32 with a byte-order mark, are recognised;
                                # any other (latin-1, cp1252, ...) must be named here, it is never guessed
    delimiter: ","
    path: image                 # image column (required); relative paths start at root/images_dir
    images_dir: .
    split: partition            # optional; values mapped with split_values, else must be train/val/test
    split_values: {training: train, validation: val, testing: test}
    default_split: train        # without a split column; train rows are then hashed into val (val_fraction)
    subject: person             # optional, also video / frame columns
    expr:                       # optional; a column name alone means values are canonical names or indices
      column: emotion
      values: {happy: happiness, angry: anger, contempt: null}   # raw → canonical name; null = no label
    au:
      columns: {AU01: 1, AU12: 12}    # or a list of names like [AU1, AU12]
      invalid: [9, 999]               # → null
      threshold: 2                    # optional: intensity >= threshold → 1
      max_intensity: 5                # with threshold: intensities are 0..max_intensity (default 5, FACS A-E)
    valence: {column: v, scale: 0.1, invalid: [-5]}   # value * scale must lie in [-1, 1]
    arousal: {column: a, scale: 0.1, invalid: [-5]}

Options: ``mapping`` (path to the YAML/JSON file) and/or ``map`` (a dict of top-level keys, the
CLI's ``--map key=value``), which overrides the file. Values not covered by the mapping are
reported, never guessed: every label set to null (unmapped, not a number, outside its range, or
listed as invalid) is counted per reason in the import report, and a row repeated in the file is
kept once (repeated with other labels: not kept), counted too.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd

from facebehavior.data.importers.base import ImportContext, Importer, hashed_split, open_text, relative_keys, \
    to_float, to_int, where
from facebehavior.errors import ConfigError, DataFormatError
from facebehavior.labels import AUS, EXPRESSIONS

KEYS = {"file", "encoding", "delimiter", "path", "images_dir", "split", "split_values", "default_split", "subject", "video",
        "frame", "expr", "au", "valence", "arousal"}
SUBKEYS = {"expr": {"column", "values"}, "au": {"columns", "invalid", "threshold", "max_intensity"},
           "valence": {"column", "scale", "invalid"}, "arousal": {"column", "scale", "invalid"}}


def load_mapping(path: str | None, overrides: dict | None) -> dict:
    mapping: dict = {}
    if path:
        if not Path(path).is_file():
            raise ConfigError(f"mapping {path} does not exist (--mapping names a YAML or JSON file; see "
                              "`facebehavior data import generic_csv --describe`)")
        try:
            text = Path(path).read_text(encoding="utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"mapping {path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
        try:
            if str(path).endswith(".json"):
                mapping = json.loads(text)
            else:
                import yaml

                mapping = yaml.safe_load(text) or {}
        except Exception as exc:  # yaml and json raise various types
            raise ConfigError(f"mapping {path}: cannot be parsed ({exc})") from exc
        if not isinstance(mapping, dict):
            raise ConfigError(f"mapping {path}: expected key: value entries (file, path, ...), got "
                              f"{type(mapping).__name__}")
    mapping.update(overrides or {})
    unknown = sorted(set(mapping) - KEYS)
    if unknown:
        raise ConfigError(f"mapping keys {unknown} are unknown; valid: {sorted(KEYS)}")
    for key in ("file", "path"):
        if not mapping.get(key):
            raise ConfigError(f"mapping needs {key!r} (see `facebehavior data import generic_csv --help`)")
    for key, valid in SUBKEYS.items():
        value = mapping.get(key)
        if isinstance(value, dict) and set(value) - valid:
            raise ConfigError(f"mapping {key}: unknown key(s) {sorted(set(value) - valid)}; valid: {sorted(valid)}")
        if value is not None and not isinstance(value, (str, dict)):
            raise ConfigError(f"mapping {key}: expected a column name or key: value entries, got {value!r}")
    return mapping


class _Rules:
    """The mapping compiled into per-value conversions."""

    def __init__(self, mapping: dict):
        self.mapping = mapping
        expr = mapping.get("expr")
        self.expr = {"column": expr} if isinstance(expr, str) else expr
        au = mapping.get("au") or {}
        columns = au.get("columns", {})
        if isinstance(columns, list):
            columns = {c: str(c).upper().removeprefix("AU") for c in columns}
        numbers = {c: to_int(str(n)) for c, n in columns.items()}
        bad = [n for c, n in columns.items() if numbers[c] not in AUS]
        if bad:
            raise ConfigError(f"mapping au.columns: AU(s) {bad} are not among the 17 canonical {AUS}")
        self.au_columns = numbers
        self.au_invalid = _numbers(au.get("invalid", []), "au.invalid")
        self.au_threshold = au.get("threshold")
        self.au_max = au.get("max_intensity", 5)
        for key, value in (("threshold", self.au_threshold), ("max_intensity", self.au_max)):
            if value is not None and (to_float(str(value)) is None or float(value) <= 0):
                raise ConfigError(f"mapping au.{key}: {value!r} is not a positive number")
        if self.au_threshold is not None and float(self.au_threshold) > float(self.au_max):
            raise ConfigError(f"mapping au.threshold {self.au_threshold} is above au.max_intensity {self.au_max}")
        self.va = {k: ({"column": v} if isinstance(v, str) else v) for k in ("valence", "arousal")
                   if (v := mapping.get(k))}
        for name, spec in self.va.items():
            spec["invalid_set"] = _numbers(spec.get("invalid", []), f"{name}.invalid")
            if to_float(str(spec.get("scale", 1.0))) is None or float(spec.get("scale", 1.0)) == 0:
                raise ConfigError(f"mapping {name}.scale: {spec.get('scale')!r} is not a non-zero number")
        if self.expr is not None and not self.expr.get("column"):
            raise ConfigError("mapping expr: needs 'column'")

    def expr_index(self, raw: str) -> tuple[int | None, bool]:
        """(class index or None, whether the raw value was understood; a value mapped to null is)."""
        values = self.expr.get("values")
        if values is not None:
            if raw not in values and _num_key(raw) not in values:
                return None, False
            raw = values.get(raw, values.get(_num_key(raw)))
            if raw is None:
                return None, True
        raw = str(raw).strip().lower()
        if raw in EXPRESSIONS:
            return EXPRESSIONS.index(raw), True
        number = to_float(raw)
        if number is not None and number == int(number) and 0 <= number < len(EXPRESSIONS):
            return int(number), True
        return None, False


def _numbers(values, where: str) -> set[float]:
    values = values if isinstance(values, list) else [values]
    out = {to_float(str(v)) for v in values}
    if None in out:
        raise ConfigError(f"mapping {where}: {values!r} must be a list of numbers")
    return out


def _num_key(raw: str):
    number = to_float(raw)
    return int(number) if number is not None and number == int(number) else raw


class GenericCsvImporter(Importer):
    name = "generic_csv"
    title = "a CSV described by a column mapping"
    split_protocol = ("the mapped split column; without one, default_split (train rows hashed into val by "
                      "val_fraction)")
    assumptions = ("one row per image; the mapping names every column used",)
    defaults = {"mapping": None, "map": None, "database": "generic_csv"}

    def load(self, ctx: ImportContext) -> pd.DataFrame:
        mapping = load_mapping(ctx.option("mapping"), ctx.option("map"))
        rules = _Rules(mapping)
        path = ctx.root / mapping["file"]
        if not path.is_file():
            raise DataFormatError(f"{path}: not found (mapping 'file' is relative to --root)")
        images = ctx.root / mapping.get("images_dir", ".")
        rows = []
        with open_text(path, mapping.get("encoding"), ctx.report) as handle:
            reader = csv.DictReader(handle, delimiter=mapping.get("delimiter", ","))
            self._check_columns(path, reader.fieldnames or [], mapping, rules)
            seen: dict[tuple, int] = {}
            for number, record in enumerate(reader, 2):
                ctx.report.rows_read += 1
                at = where(path, number)
                if None in record or any(v is None for v in record.values()):
                    ctx.report.drop("malformed line: wrong number of fields", at)
                    continue
                first = seen.setdefault(tuple(v.strip() for v in record.values()), number)
                if first != number:
                    ctx.report.drop("duplicate row: the same fields as an earlier line", f"{at} (= line {first})")
                    continue
                row = self._row(ctx, record, mapping, rules, images, at)
                if row is not None:
                    rows.append(row)
        frame = pd.DataFrame(rows)
        if not frame.empty and "split" not in mapping:
            train = frame["split"] == "train"
            keys = relative_keys(frame.loc[train, "path"], ctx.root)
            frame.loc[train, "split"] = hashed_split(keys, ctx.option("val_fraction"), ctx.option("seed"))
        frame["database"] = ctx.option("database")
        return frame

    def _check_columns(self, path: Path, header: list[str], mapping: dict, rules: _Rules) -> None:
        wanted = [mapping[k] for k in ("path", "split", "subject", "video", "frame") if mapping.get(k)]
        wanted += [rules.expr["column"]] if rules.expr else []
        wanted += list(rules.au_columns) + [v["column"] for v in rules.va.values()]
        missing = [c for c in wanted if c not in header]
        if missing:
            raise DataFormatError(f"{path}:1: column(s) {missing} named in the mapping are not in the header {header}")

    def _row(self, ctx: ImportContext, record: dict, mapping: dict, rules: _Rules, images: Path, at: str):
        split = self._split(record, mapping)
        if split is None:
            ctx.report.drop(f"split value {record.get(mapping.get('split'))!r} not mapped to train/val/test", at)
            return None
        row = {"split": split}
        for key in ("subject", "video", "frame"):
            if mapping.get(key):
                row[key] = record[mapping[key]]
        if rules.expr:
            raw = record[rules.expr["column"]].strip()
            index, understood = rules.expr_index(raw) if raw else (None, True)
            if not understood:
                ctx.report.issue(f"expression value {raw!r} not mapped: null", at)
            elif raw and index is None:
                ctx.report.issue(f"expression value {raw!r} mapped to null (expr.values)", at)
            row["expr"] = index
        for column, au in rules.au_columns.items():
            row[f"au{au}"] = self._au(ctx, record[column], rules, column, at)
        for name, spec in rules.va.items():
            row[name] = self._va(ctx, record[spec["column"]], spec, name, at)
        if all(row.get(k) is None for k in row if k not in ("split", "subject", "video", "frame")):
            ctx.report.drop("no valid label", at)
            return None
        image = Path(record[mapping["path"]].strip())
        image = image if image.is_absolute() else images / image
        if not ctx.keep_image(image, at):
            return None
        row["path"] = str(image)
        return row

    def _split(self, record: dict, mapping: dict) -> str | None:
        if not mapping.get("split"):
            return mapping.get("default_split", "train")
        raw = record[mapping["split"]].strip()
        value = (mapping.get("split_values") or {}).get(raw, raw)
        return value if value in ("train", "val", "test") else None

    def _au(self, ctx, text: str, rules: _Rules, column: str, at: str):
        value = to_float(text.strip())
        if value is None:
            if text.strip():
                ctx.report.issue(f"{column} value {text!r} is not a number: null", at)
            return None
        if value in rules.au_invalid:
            ctx.report.issue(f"{column} value {text!r} listed in au.invalid: null", at)
            return None
        if rules.au_threshold is not None:
            if not 0 <= value <= float(rules.au_max):
                ctx.report.issue(f"{column} value {text!r} is not an intensity in 0..{rules.au_max} (list it in "
                                 "au.invalid, or set au.max_intensity): null", at)
                return None
            return int(value >= float(rules.au_threshold))
        if value not in (0, 1):
            ctx.report.issue(f"{column} value {text!r} is not 0/1 (set au.threshold or au.invalid): null", at)
            return None
        return int(value)

    def _va(self, ctx, text: str, spec: dict, name: str, at: str):
        value = to_float(text.strip())
        if value is None:
            if text.strip():
                ctx.report.issue(f"{name} value {text!r} is not a number: null", at)
            return None
        if value in spec["invalid_set"]:
            ctx.report.issue(f"{name} value {text!r} listed in {name}.invalid: null", at)
            return None
        value *= float(spec.get("scale", 1.0))
        if not -1 <= value <= 1:
            ctx.report.issue(f"{name} {text!r} × scale is outside [-1, 1]: null", at)
            return None
        return value
