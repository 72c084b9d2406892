"""Class sets for compound expression recognition, built from the rows of Du et al.'s table.

A class set fixes, for each class, the three ingredients of the zero-shot score (eq. 8):

- `au_weights` (C, 17): 1 for a prototypical AU, the annotator fraction w for an observational
  one, 0 otherwise. AU 11 appears in Du et al. but is not one of the 17 predicted AUs: it is
  dropped (and said so in `notes`).
- `emotion_weights` (C, 7) over `EXPRESSIONS`: 1 for each of a compound class's two components;
  2 for a basic class's own emotion, so that F_emo has the same scale (0..2) for every class.
- `valence_term` (C,): the classes that mix in happiness (happily surprised, happily disgusted
  and, in a mixed set, happiness itself) — the only ones expected to have positive valence.

Named sets: ``rafdb`` (RAF-DB's 11 compound classes, in RAF-DB's label order), ``emotionet``
(`EMOTIONET_CATEGORIES`: 6 basic + 11 compound, the importer's order; on the challenge set, whose
data use 10 of the 11, it becomes the paper's 16: see `evaluate.candidate_classes`), ``du2014``
(all 15 compound rows in table order; alias ``synthface``, SynthFace's `COMPOUND_CLASSES`); or any
list of row names.

A *label space* says how a manifest stores the true class: which integer column, indexing which
class order (RAF-DB: ``compound`` over RAF-DB's order; EmotioNet: ``emotionet_category``;
SynthFace: ``compound`` over Du's table order).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

from facebehavior.data.importers.labelspaces import EMOTIONET_CATEGORIES, RAFDB_COMPOUND
from facebehavior.errors import ConfigError
from facebehavior.labels import AUS, EXPRESSIONS, TaskSpec
from facebehavior.relatedness import load_category_rows

POSITIVE_EMOTION = "happiness"
AU_WEIGHTINGS = ("binary", "weighted")


def du_compound_names(table: str = "du2014") -> tuple[str, ...]:
    return tuple(r.name for r in load_category_rows(table) if r.kind == "compound")


NAMED_SETS = {
    "rafdb": lambda: RAFDB_COMPOUND,
    "emotionet": lambda: EMOTIONET_CATEGORIES,
    "du2014": du_compound_names,
    "synthface": du_compound_names,
}


@dataclass(frozen=True)
class LabelSpace:
    """How a manifest column encodes the true class: `column` holds an index into `names`.

    `data_pick`: `names` lists more categories than the database uses and its data say which (the
    EmotioNet importer's 17 for the challenge's 16); see `evaluate.candidate_classes`.
    """

    name: str
    column: str
    names: tuple[str, ...]
    data_pick: bool = False

    def task(self) -> TaskSpec:
        return TaskSpec(self.column, "multiclass", self.names)


def _synthface_names() -> tuple[str, ...]:
    from facebehavior.synthface import COMPOUND_CLASSES

    return tuple(COMPOUND_CLASSES)


LABEL_SPACES = {
    "rafdb": lambda: LabelSpace("rafdb", "compound", RAFDB_COMPOUND),
    "emotionet": lambda: LabelSpace("emotionet", "emotionet_category", EMOTIONET_CATEGORIES, data_pick=True),
    "synthface": lambda: LabelSpace("synthface", "compound", _synthface_names()),
}
# the label space a named class set is usually evaluated on
DEFAULT_LABEL_SPACE = {"rafdb": "rafdb", "emotionet": "emotionet", "du2014": "synthface", "synthface": "synthface"}


def label_space(name: str) -> LabelSpace:
    if name not in LABEL_SPACES:
        raise ConfigError(f"label space {name!r}: use one of {sorted(LABEL_SPACES)} (rafdb: column 'compound' in "
                          "RAF-DB order; emotionet: column 'emotionet_category'; synthface: column 'compound' "
                          "in Du et al.'s table order)")
    return LABEL_SPACES[name]()


def default_label_space(classes) -> str:
    """The label space of a named class set; a list of names has none (the user must say)."""
    if isinstance(classes, str) and classes in DEFAULT_LABEL_SPACE:
        return DEFAULT_LABEL_SPACE[classes]
    raise ConfigError("a custom class list does not say how the manifest stores its labels; pass the label "
                      f"space (--label-space {'|'.join(sorted(LABEL_SPACES))})")


@dataclass(frozen=True)
class ClassSet:
    """The classes of a compound task and their eq. 8 ingredients (see the module docstring)."""

    names: tuple[str, ...]
    kinds: tuple[str, ...]
    components: tuple[tuple[str, ...], ...]
    au_weights: np.ndarray
    emotion_weights: np.ndarray
    valence_term: np.ndarray
    source: str = "du2014"
    notes: tuple[str, ...] = field(default=())

    def __len__(self) -> int:
        return len(self.names)

    def au_matrix(self, weighting: str = "binary") -> np.ndarray:
        """(C, 17) rows that average the class's AU probabilities (each row sums to 1).

        ``binary``: the paper's eq. 8, p(au|emo) ∈ {0, 1}, an unweighted mean over the class's AUs;
        ``weighted``: observational AUs count with their weight w.
        """
        if weighting not in AU_WEIGHTINGS:
            raise ConfigError(f"AU weighting {weighting!r}: use one of {AU_WEIGHTINGS}")
        m = (self.au_weights > 0).astype(np.float64) if weighting == "binary" else self.au_weights.astype(np.float64)
        return m / m.sum(1, keepdims=True)

    def task(self, name: str = "compound") -> TaskSpec:
        return TaskSpec(name, "multiclass", self.names)

    def without(self, names) -> ClassSet:
        """This set less the classes `names`, in the same order (see `evaluate.candidate_classes`)."""
        drop = set(names)
        keep = [i for i, n in enumerate(self.names) if n not in drop]
        if not keep:
            raise ConfigError(f"classes: leaving out {sorted(drop)} leaves no class")

        def pick(items):
            return tuple(items[i] for i in keep)

        return replace(self, names=pick(self.names), kinds=pick(self.kinds), components=pick(self.components),
                       au_weights=self.au_weights[keep], emotion_weights=self.emotion_weights[keep],
                       valence_term=self.valence_term[keep])

    def describe(self) -> list[dict]:
        """JSON-ready rows: name, kind, components, AUs with weights, valence term."""
        return [{"name": n, "kind": k, "components": list(c),
                 "aus": {f"au{AUS[j]}": float(self.au_weights[i, j]) for j in np.flatnonzero(self.au_weights[i])},
                 "valence_term": bool(self.valence_term[i])}
                for i, (n, k, c) in enumerate(zip(self.names, self.kinds, self.components))]


def parse_class_list(spec) -> tuple[str, ...]:
    """A named set's names, or a comma-separated string / sequence of row names."""
    if isinstance(spec, str):
        if spec in NAMED_SETS:
            return tuple(NAMED_SETS[spec]())
        spec = spec.split(",")
    names = tuple(s.strip() for s in spec if s.strip())
    if not names:
        raise ConfigError(f"classes: use one of {sorted(NAMED_SETS)} or a comma-separated list of table rows")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ConfigError(f"classes: {repeated} listed more than once")
    return names


def resolve_classes(spec="rafdb", table: str = "du2014") -> ClassSet:
    """Build a `ClassSet` from a named set, a comma-separated string or a list of row names."""
    if isinstance(spec, ClassSet):
        return spec
    names = parse_class_list(spec)
    rows = {r.name: r for r in load_category_rows(table)}
    unknown = [n for n in names if n not in rows]
    if unknown:
        raise ConfigError(f"classes {unknown} are not rows of the {table} table; valid: {sorted(rows)} "
                          f"or a named set {sorted(NAMED_SETS)}")
    au_col = {au: j for j, au in enumerate(AUS)}
    emo_col = {e: j for j, e in enumerate(EXPRESSIONS)}
    au_w = np.zeros((len(names), len(AUS)), np.float32)
    emo_w = np.zeros((len(names), len(EXPRESSIONS)), np.float32)
    dropped: dict[int, list[str]] = {}
    for i, name in enumerate(names):
        row = rows[name]
        for au, w in row.weights().items():
            if au in au_col:
                au_w[i, au_col[au]] = w
            else:
                dropped.setdefault(au, []).append(name)
        bad = [c for c in row.components if c not in emo_col]
        if bad:
            raise ConfigError(f"{table}, row {name!r}: components {bad} are not basic expressions {EXPRESSIONS}")
        for c in row.components:  # F_emo spans 0..2 whatever the number of components
            emo_w[i, emo_col[c]] += 2.0 / len(row.components)
        if not au_w[i].any():
            raise ConfigError(f"{table}, row {name!r}: none of its AUs is among the 17 predicted AUs")
    notes = tuple(f"AU {au} is not among the 17 predicted AUs: dropped from {classes}"
                  for au, classes in sorted(dropped.items()))
    return ClassSet(names=names, kinds=tuple(rows[n].kind for n in names),
                    components=tuple(rows[n].components for n in names), au_weights=au_w, emotion_weights=emo_w,
                    valence_term=np.array([POSITIVE_EMOTION in rows[n].components for n in names]),
                    source=table, notes=notes)
