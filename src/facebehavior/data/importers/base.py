"""What every importer shares: the import report, the context an importer reads through, the
`Importer` base class, deterministic split helpers and small parsing helpers.

An importer turns one database, in its native layout, into a manifest frame. It counts every
record it reads (`report.rows_read`) and, for each record it does not keep, one drop reason
(`report.drop`), so that ``rows_read == rows_kept + sum(dropped)`` always holds. Problems that
cost a label but not the row (an invalid AU code next to a valid expression) are `issues`.
"""

from __future__ import annotations

import codecs
import hashlib
import json
import os
from contextlib import contextmanager
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import numpy as np

from facebehavior import atomic
from facebehavior.errors import DataFormatError
from facebehavior.labels import TaskSpec, affect_tasks

EXAMPLES_PER_REASON = 10


@dataclass
class ImportReport:
    """Counts of an import: rows read, kept, dropped per reason (with file:line examples)."""

    database: str
    root: str
    options: dict[str, Any] = field(default_factory=dict)
    rows_read: int = 0
    rows_kept: int = 0
    dropped: dict[str, int] = field(default_factory=dict)
    dropped_where: dict[str, list[str]] = field(default_factory=dict)
    issues: dict[str, int] = field(default_factory=dict)
    issues_where: dict[str, list[str]] = field(default_factory=dict)
    splits: dict[str, int] = field(default_factory=dict)
    labelled: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)

    def drop(self, reason: str, where: str | None = None, count: int = 1) -> None:
        """Record `count` rows not kept, for `reason`, seen at `where` (``file:line``)."""
        _tally(self.dropped, self.dropped_where, reason, where, count)

    def issue(self, reason: str, where: str | None = None, count: int = 1) -> None:
        """Record a label lost (set to null) on a row that is still kept."""
        _tally(self.issues, self.issues_where, reason, where, count)

    def note(self, text: str) -> None:
        if text not in self.notes:
            self.notes.append(text)

    @property
    def rows_dropped(self) -> int:
        return sum(self.dropped.values())

    def to_dict(self) -> dict:
        out = asdict(self)
        out["rows_dropped"] = self.rows_dropped
        return out

    def write_json(self, path: str | Path) -> Path:
        # atomic: an interrupted write keeps the previous report
        return atomic.write_text(path, json.dumps(self.to_dict(), indent=2, default=str) + "\n")

    def summary(self) -> str:
        """A human-readable report (what the CLI prints)."""
        lines = [f"{self.database}: read {self.rows_read} rows from {self.root}, kept {self.rows_kept}, "
                 f"dropped {self.rows_dropped}"]
        if self.splits:
            lines.append("  splits: " + ", ".join(f"{k} {v}" for k, v in self.splits.items()))
        if self.labelled:
            lines.append("  labelled rows per task: " + ", ".join(f"{k} {v}" for k, v in self.labelled.items()))
        for title, counts, where in (("dropped", self.dropped, self.dropped_where),
                                     ("labels set to null", self.issues, self.issues_where)):
            if counts:
                lines.append(f"  {title}:")
                for reason, n in sorted(counts.items(), key=lambda kv: -kv[1]):
                    example = where.get(reason, [])
                    at = f" (e.g. {example[0]})" if example else ""
                    lines.append(f"    {n:>9}  {reason}{at}")
        for note in self.notes:
            lines.append(f"  note: {note}")
        for out in self.outputs:
            lines.append(f"  wrote {out}")
        return "\n".join(lines)


def _tally(counts: dict, where_map: dict, reason: str, where: str | None, count: int) -> None:
    counts[reason] = counts.get(reason, 0) + count
    if where is not None:
        examples = where_map.setdefault(reason, [])
        if len(examples) < EXAMPLES_PER_REASON:
            examples.append(where)


class ImportContext:
    """What an importer reads through: the root, its options, the report, cached file checks."""

    def __init__(self, root: Path, options: dict[str, Any], report: ImportReport):
        self.root = root
        self.options = options
        self.report = report
        self._listings: dict[str, set[str]] = {}
        self.images_missing = 0
        self.missing_example: str | None = None

    def option(self, name: str) -> Any:
        return self.options[name]

    def listing(self, folder: str) -> set[str]:
        """File names in `folder` (empty if it does not exist), listed once and cached."""
        names = self._listings.get(folder)
        if names is None:
            try:
                names = set(os.listdir(folder))
            except OSError:
                names = set()
            self._listings[folder] = names
        return names

    def file_listed(self, path: str | Path) -> bool:
        """Whether `path` exists, without counting it as a missing image (for probes)."""
        folder, name = os.path.split(str(path))
        return name in self.listing(folder)

    def image_exists(self, path: str | Path) -> bool:
        """Whether `path` is a file; one directory listing per folder, so millions of frames stay fast."""
        if not self.options.get("check_images", True):
            return True
        if self.file_listed(path):
            return True
        self.images_missing += 1
        self.missing_example = self.missing_example or str(path)
        return False

    def keep_image(self, path: str | Path, where: str) -> bool:
        """True if the image exists; otherwise the row is dropped as 'image file missing'."""
        if self.image_exists(path):
            return True
        self.report.drop("image file missing", where)
        return False


class Importer:
    """One database. Subclasses set the class attributes and implement `load`."""

    name: str = ""
    title: str = ""
    split_protocol: str = ""
    assumptions: tuple[str, ...] = ()
    # Importer-specific options and their defaults (the common ones are in COMMON_OPTIONS).
    defaults: dict[str, Any] = {}
    extra_tasks: tuple[TaskSpec, ...] = ()
    # Tasks whose labels this database can carry (for the report's per-task counts).
    label_tasks: tuple[str, ...] = ("expr", "au", "va")

    def tasks(self, frame=None) -> list[TaskSpec]:
        """Tasks a manifest of this database validates against (`frame`: the imported rows)."""
        return affect_tasks() + list(self.extra_tasks)

    def load(self, ctx: ImportContext):
        """Read the native files under `ctx.root` and return the manifest frame."""
        raise NotImplementedError

    def describe(self) -> str:
        lines = [f"{self.name}: {self.title}", f"  split: {self.split_protocol}"]
        lines += [f"  assumes: {a}" for a in self.assumptions]
        options = {**COMMON_OPTIONS, **self.defaults}
        lines.append("  options: " + ", ".join(f"{k}={v!r}" for k, v in options.items()))
        return "\n".join(lines)


COMMON_OPTIONS: dict[str, Any] = {
    "seed": 0,
    "val_fraction": 0.1,
    "check_images": True,
    "format": "csv",
    "split_file": None,
}


# ----------------------------------------------------------------------------- file reading

_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


def text_encoding(path: Path, given: str | None = None) -> tuple[str, str]:
    """(encoding to read `path` with, how it was chosen). `given` wins; else a byte-order mark says
    UTF-8/16/32; else text whose every other byte is NUL is UTF-16 without a mark; else UTF-8, and
    bytes that are not UTF-8 are an error when read (Latin-1 and other 8-bit code pages cannot be
    told apart from the bytes alone, so they are never guessed: the file or the option names them)."""
    if given:
        try:
            return codecs.lookup(given).name, "as given"
        except LookupError:
            raise DataFormatError(f"encoding {given!r} is unknown; use e.g. utf-8, utf-16, latin-1, cp1252") from None
    with open(path, "rb") as handle:
        head = handle.read(4096)
    for bom, name in _BOMS:
        if head.startswith(bom):
            return name, "byte-order mark"
    pairs = len(head) // 2
    if pairs >= 2 and b"\x00" in head:
        even, odd = head[0:2 * pairs:2].count(0), head[1:2 * pairs:2].count(0)
        if odd >= 0.3 * pairs and even == 0:
            return "utf-16-le", "NUL bytes of UTF-16 text"
        if even >= 0.3 * pairs and odd == 0:
            return "utf-16-be", "NUL bytes of UTF-16 text"
        raise DataFormatError(f"{path}: holds NUL bytes and is not UTF-16 text; is this the right file?")
    return "utf-8", "default"


@contextmanager
def open_text(path: Path, encoding: str | None = None, report: "ImportReport | None" = None):
    """`path` opened as text in the encoding `text_encoding` picks (said in the report's notes when
    not plain UTF-8); bytes that do not decode are a DataFormatError naming the line, never a traceback."""
    name, how = text_encoding(path, encoding)
    if report is not None and how != "default" and name != "utf-8-sig":
        report.note(f"{path}: read as {name} ({how})")
    try:
        with open(path, encoding=name, newline="") as handle:
            yield handle
    except UnicodeDecodeError as exc:
        raw = Path(path).read_bytes()
        try:
            raw.decode(name)
            at = ""
        except UnicodeDecodeError as whole:
            line = raw[:whole.start].count(b"\n") + 1
            at = f" at line {line} (byte 0x{raw[whole.start]:02x})"
        raise DataFormatError(f"{path}: is not {name} text{at}: {exc.reason}; save it as UTF-8, or name its "
                              "encoding (generic_csv: mapping key 'encoding', e.g. latin-1 or cp1252)") from None


def read_lines(path: Path, encoding: str | None = None) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without newline); UTF-8 unless a byte-order mark or UTF-16 NUL
    bytes say otherwise (`text_encoding`); undecodable text is a whole-file format error."""
    with open_text(path, encoding) as handle:
        for number, line in enumerate(handle, 1):
            yield number, line.rstrip("\r\n")


def find_first(root: Path, candidates: Sequence[str], what: str) -> Path:
    """The first of `candidates` (relative to root) that exists, or a format error listing them."""
    for rel in candidates:
        if (root / rel).exists():
            return root / rel
    tried = ", ".join(str(root / c) for c in candidates)
    raise DataFormatError(f"{what} not found under {root}; looked for {tried}")


def where(path: Path, line: int | None = None) -> str:
    return f"{path}:{line}" if line is not None else str(path)


def to_float(text: str) -> float | None:
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def to_int(text: str) -> int | None:
    value = to_float(text)
    if value is None or value != int(value):
        return None
    return int(value)


# ----------------------------------------------------------------------------- geometry

# 68-point iBUG indices: eyes 36-41 and 42-47 (image-left eye first), nose tip 30, mouth corners 48/54.
_EYE_A, _EYE_B, _NOSE, _MOUTH_A, _MOUTH_B = range(36, 42), range(42, 48), 30, 48, 54


def five_from_68(points: np.ndarray) -> np.ndarray:
    """(68, 2) iBUG landmarks → (5, 2): eye centres, nose tip, mouth corners (image-left first)."""
    pts = np.asarray(points, dtype=float).reshape(68, 2)
    return np.stack([pts[list(_EYE_A)].mean(0), pts[list(_EYE_B)].mean(0), pts[_NOSE], pts[_MOUTH_A],
                     pts[_MOUTH_B]])


def format_numbers(values) -> str:
    return " ".join(f"{float(v):.6g}" for v in np.asarray(values, dtype=float).ravel())


def format_box(x: float, y: float, w: float, h: float) -> str:
    return format_numbers([x, y, w, h])


# ----------------------------------------------------------------------------- splits

def group_split(groups, fractions: dict[str, float], seed: int, rest: str = "train") -> dict[str, str]:
    """Assign whole groups (subjects, videos) to splits, deterministically from `seed`.

    Groups are sorted, shuffled with ``numpy.random.default_rng(seed)`` and cut in the order of
    `fractions` (e.g. ``{"val": 0.1}``); the remainder goes to `rest`. Each non-zero fraction gets
    at least one group while `rest` keeps at least one.
    """
    unique = sorted({str(g) for g in groups})
    order = np.random.default_rng(seed).permutation(len(unique))
    out: dict[str, str] = {}
    start = 0
    for split, fraction in fractions.items():
        if not 0 <= fraction < 1:
            raise ValueError(f"{split} fraction {fraction} must lie in [0, 1)")
        count = int(round(fraction * len(unique)))
        if fraction > 0 and count == 0:
            count = 1
        count = min(count, max(0, len(unique) - start - 1))
        for i in order[start:start + count]:
            out[unique[i]] = split
        start += count
    for i in order[start:]:
        out[unique[i]] = rest
    return out


def hashed_split(keys, fraction: float, seed: int, split: str = "val", rest: str = "train") -> np.ndarray:
    """Per-key split from a hash of (seed, key): stable whatever else is kept or dropped.

    For databases without subject ids; about `fraction` of the keys go to `split`. Keys must not
    depend on where the database sits on disk (use `relative_keys`), so that every machine gets
    the same split.
    """
    def unit(key: str) -> float:
        digest = hashlib.blake2b(f"{seed}:{key}".encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") / 2.0 ** 64

    return np.array([split if unit(str(k)) < fraction else rest for k in keys], dtype=object)


def relative_keys(paths, root: Path) -> list[str]:
    """Image paths relative to the database root, with '/' separators (split keys)."""
    return [Path(os.path.relpath(p, root)).as_posix() for p in paths]


def split_counts(splits) -> dict[str, int]:
    counts = Counter(splits)
    return {s: counts[s] for s in ("train", "val", "test") if counts.get(s)}
