"""Relatedness tables: emotion → AU tables shipped with the package, and user CSVs.

Three CSV shapes are read:
- *categories* (``du2014_table1.csv``): ``category,kind,components,prototypical_aus,variant_aus``;
  prototypical AUs get weight 1, observational ("variant") AUs ``AU:w`` get weight w;
- *empirical* (``affwild2_empirical.csv``): ``category,au_weights`` with ``AU:w`` pairs, all treated
  as observational with weight w (no AU is prototypical in a data-driven table);
- *matrix*: a first column of row labels and one column per target label (what
  `facebehavior relatedness estimate` writes), values in [0, 1].

AUs outside the 17 canonical ones (AU 11 in Du et al.) are dropped and reported in `notes`.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from facebehavior import atomic
from facebehavior.errors import DataFormatError
from facebehavior.labels import AU_NAMES, AUS, EXPRESSIONS

BUILTIN_TABLES = {
    "du2014": "du2014_table1.csv",
    "affwild2_empirical": "affwild2_empirical.csv",
}


@dataclass(frozen=True)
class CategoryRow:
    """One row of an emotion → AU table, AU numbers as written in the source."""

    name: str
    kind: str  # basic | compound | empirical
    components: tuple[str, ...]
    prototypical: tuple[int, ...]
    observational: dict[int, float] = field(default_factory=dict)

    def weights(self) -> dict[int, float]:
        """AU number → weight (1 for prototypical, w for observational)."""
        out = {au: w for au, w in self.observational.items()}
        out.update({au: 1.0 for au in self.prototypical})
        return out


@dataclass
class Relatedness:
    """p(b | a) over a softmax task's classes (rows) and a multi-label task's labels (columns).

    `weights[a, b]` is 1 for a prototypical link, w ∈ (0, 1] for an observational one and 0 for
    none; `prototypical[a, b]` marks the prototypical links.
    """

    rows: tuple[str, ...]
    cols: tuple[str, ...]
    weights: np.ndarray
    prototypical: np.ndarray
    source: str = ""
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.weights = np.asarray(self.weights, dtype=np.float32)
        self.prototypical = np.asarray(self.prototypical, dtype=bool)
        if self.weights.shape != (len(self.rows), len(self.cols)):
            raise ValueError(f"relatedness shape {self.weights.shape} != ({len(self.rows)}, {len(self.cols)})")
        if np.any(self.weights < 0) or np.any(self.weights > 1):
            raise ValueError("relatedness values must lie in [0, 1]")

    def matrix(self, mode: str = "binary") -> np.ndarray:
        """`binary`: 1 wherever linked (the paper's default, eq. 3); `weighted`: the weights."""
        if mode == "binary":
            return (self.weights > 0).astype(np.float32)
        if mode == "weighted":
            return self.weights.copy()
        raise ValueError(f"relatedness mode {mode!r}: use 'binary' or 'weighted'")

    def reindex(self, rows: tuple[str, ...], cols: tuple[str, ...]) -> "Relatedness":
        """The same table over other label orders; labels absent here get zero rows/columns."""
        r = {n: i for i, n in enumerate(self.rows)}
        c = {n: i for i, n in enumerate(self.cols)}
        w = np.zeros((len(rows), len(cols)), np.float32)
        p = np.zeros_like(w, dtype=bool)
        ri = [(i, r[n]) for i, n in enumerate(rows) if n in r]
        ci = [(j, c[n]) for j, n in enumerate(cols) if n in c]
        if ri and ci:
            dst_r, src_r = map(list, zip(*ri))
            dst_c, src_c = map(list, zip(*ci))
            w[np.ix_(dst_r, dst_c)] = self.weights[np.ix_(src_r, src_c)]
            p[np.ix_(dst_r, dst_c)] = self.prototypical[np.ix_(src_r, src_c)]
        notes = list(self.notes)
        for kind, wanted, have in (("rows", rows, r), ("columns", cols, c)):
            absent = [n for n in wanted if n not in have]
            if absent:
                notes.append(f"{len(absent)} {kind} not in {self.source or 'the table'} get zero relatedness: "
                             f"{absent[:10]}{' ...' if len(absent) > 10 else ''}")
        return Relatedness(tuple(rows), tuple(cols), w, p, self.source, notes)

    def to_frame(self):
        import pandas as pd

        return pd.DataFrame(self.weights, index=list(self.rows), columns=list(self.cols))

    def save_csv(self, path: str | Path) -> None:
        """Write in *matrix* shape (readable back by `load_relatedness`)."""
        frame = self.to_frame()
        frame.index.name = "class"
        with atomic.replacing(path) as tmp:
            frame.to_csv(tmp, float_format="%.5f")


def _parse_au(token: str, where: str) -> int:
    token = token.strip().upper().removeprefix("AU")
    try:
        return int(token)
    except ValueError:
        raise DataFormatError(f"{where}: {token!r} is not an AU number") from None


def _parse_weighted(field_text: str, where: str) -> dict[int, float]:
    out: dict[int, float] = {}
    for part in filter(None, (p.strip() for p in field_text.split(";"))):
        if ":" not in part:
            raise DataFormatError(f"{where}: expected 'AU:weight', got {part!r}")
        au, w = part.split(":", 1)
        try:
            weight = float(w)
        except ValueError:
            raise DataFormatError(f"{where}: weight {w!r} is not a number") from None
        if not 0 < weight <= 1:
            raise DataFormatError(f"{where}: weight {weight} outside (0, 1]")
        out[_parse_au(au, where)] = weight
    return out


def _open_table(name_or_path: str | Path):
    name = str(name_or_path)
    if name in BUILTIN_TABLES:
        ref = resources.files("facebehavior.relatedness") / "tables" / BUILTIN_TABLES[name]
        return ref.read_text(encoding="utf-8"), f"builtin:{name}"
    path = Path(name)
    if not path.is_file():
        raise DataFormatError(
            f"relatedness table {name!r} is neither a built-in ({', '.join(BUILTIN_TABLES)}) nor a file"
        )
    return path.read_text(encoding="utf-8"), str(path)


def load_category_rows(name_or_path: str | Path = "du2014") -> list[CategoryRow]:
    """All rows of a *categories* or *empirical* table, AU numbers as in the source."""
    text, source = _open_table(name_or_path)
    reader = csv.DictReader(text.splitlines())
    header = set(reader.fieldnames or [])
    rows: list[CategoryRow] = []
    for line_no, rec in enumerate(reader, start=2):
        where = f"{source}, line {line_no}"
        if {"prototypical_aus", "variant_aus"} <= header:
            proto = tuple(_parse_au(t, where) for t in rec["prototypical_aus"].split(";") if t.strip())
            rows.append(CategoryRow(
                name=rec["category"].strip(), kind=(rec.get("kind") or "basic").strip(),
                components=tuple(c.strip() for c in (rec.get("components") or rec["category"]).split("+")),
                prototypical=proto, observational=_parse_weighted(rec["variant_aus"], where)))
        elif "au_weights" in header:
            rows.append(CategoryRow(
                name=rec["category"].strip(), kind="empirical", components=(rec["category"].strip(),),
                prototypical=(), observational=_parse_weighted(rec["au_weights"], where)))
        else:
            raise DataFormatError(
                f"{source}: header {sorted(header)} is not a categories table "
                "(category,prototypical_aus,variant_aus) or an empirical one (category,au_weights)")
    return rows


def _from_category_rows(rows: list[CategoryRow], source: str) -> Relatedness:
    col = {n: j for j, n in enumerate(AUS)}
    w = np.zeros((len(EXPRESSIONS), len(AUS)), np.float32)
    proto = np.zeros_like(w, dtype=bool)
    dropped: set[int] = set()
    by_name = {r.name: r for r in rows}
    for i, expr in enumerate(EXPRESSIONS):
        row = by_name.get(expr)
        if row is None:
            continue  # neutral: no AUs, an all-zero row
        for au, weight in row.weights().items():
            if au not in col:
                dropped.add(au)
                continue
            w[i, col[au]] = weight
            proto[i, col[au]] = au in row.prototypical
    notes = [f"AU {au} is not among the 17 predicted AUs and was dropped" for au in sorted(dropped)]
    missing = [e for e in EXPRESSIONS if e != "neutral" and e not in by_name]
    if missing:
        notes.append(f"no row for {missing}: all-zero rows")
    return Relatedness(EXPRESSIONS, AU_NAMES, w, proto, source, notes)


def _from_matrix_csv(text: str, source: str) -> Relatedness:
    import io

    import pandas as pd

    if not text.strip():
        raise DataFormatError(f"{source}: the file is empty; expected a header of labels and one row per class")
    try:
        frame = pd.read_csv(io.StringIO(text), index_col=0)
    except (pd.errors.ParserError, ValueError) as exc:
        raise DataFormatError(f"{source}: not a readable CSV table: {exc}") from None
    values = frame.apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = np.isnan(values) | (values < 0) | (values > 1)
    if bad.any():
        r, c = np.argwhere(bad)[0]
        # line numbers count the header as line 1
        raise DataFormatError(f"{source}, line {r + 2}: row {frame.index[r]!r}, column {frame.columns[c]!r}: "
                              f"{frame.iat[r, c]!r} is missing, not a number or outside [0, 1]")
    values = values.astype(np.float32)
    return Relatedness(tuple(map(str, frame.index)), tuple(map(str, frame.columns)), values,
                       values >= 1.0, source)


def load_relatedness(name_or_path: str | Path = "du2014") -> Relatedness:
    """Load a built-in table (`du2014`, `affwild2_empirical`) or a CSV in any supported shape.

    Category tables become a 7 × 17 expression → AU matrix over the canonical label spaces
    (basic rows only; neutral is all zero). Matrix CSVs keep their own labels.
    """
    text, source = _open_table(name_or_path)
    first = text.splitlines()[0] if text else ""
    if "prototypical_aus" in first or "au_weights" in first:
        rows = [r for r in load_category_rows(name_or_path) if r.kind in ("basic", "empirical")]
        return _from_category_rows(rows, source)
    return _from_matrix_csv(text, source)
