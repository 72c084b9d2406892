"""Per-database evaluation protocols: which metrics a database's task is reported with.

A protocol maps a database to ``{task name: TaskProtocol(primary, metrics)}``. A task missing from
its database's entry falls back to the entry's ``"kind:<kind>"`` key, then to `DEFAULTS` for the
task's kind, which also cover unknown databases. Database names are matched loosely
("RAF-DB" = "raf_db" = "rafdb", "BP4D+" = "bp4dplus").

A spec, as given to `register_protocol` or read from a SynthFace ``preset.json``, is
``{task: value}`` where value is a metric name (``"ccc"``: the primary metric, reported with the
task kind's default metrics), a list of names (exactly these; the first is primary) or
``{"primary": name, "metrics": [names]}`` (exactly these). Metric names are those of
`facebehavior.evaluation.task_metrics` (`metric_names()`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from facebehavior.errors import ConfigError
from facebehavior.evaluation.task_metrics import PER_LABEL, SUMMARY, metric_names
from facebehavior.labels import TASK_KINDS


@dataclass(frozen=True)
class TaskProtocol:
    primary: str
    metrics: tuple[str, ...]
    with_defaults: bool = False  # also report the kind's default metrics (spec given as one name)


DatabaseProtocol = dict[str, TaskProtocol]


def normalise_name(name: str) -> str:
    """Loose database key: lower case, '+' as 'plus', other punctuation and spaces dropped."""
    return re.sub(r"[^a-z0-9]", "", str(name).lower().replace("+", "plus"))


def _p(primary: str, *more: str) -> TaskProtocol:
    return TaskProtocol(primary, (primary, *more))


DEFAULTS: DatabaseProtocol = {
    "multiclass": _p("accuracy", "mean_diag", "macro_f1"),
    "multilabel": _p("f1", "per_label_f1", "accuracy", "afa"),
    "regression": _p("ccc", "per_label_ccc"),
}

_VA = _p("ccc", "per_label_ccc")
_AU_F1 = _p("f1", "per_label_f1")
_TOTAL = _p("total_accuracy", "average_f1")

# The paper's databases (Section 4.2) plus ABAW's conventions for Aff-Wild2's expr/AU sets.
BUILTIN: dict[str, DatabaseProtocol] = {
    "affwild": {"va": _VA},
    "affwild2": {"va": _VA, "expr": _p("macro_f1", "accuracy", "per_class_f1"), "au": _AU_F1},
    "afewva": {"va": _VA},
    "affectnet": {"va": _VA, "expr": _p("accuracy", "macro_f1", "mean_diag", "per_class_recall")},
    "rafdb": {"expr": _p("mean_diag", "accuracy", "per_class_recall"),
              "compound": _p("mean_diag", "accuracy", "per_class_recall")},
    "emotionet": {"au": _p("afa", "f1", "accuracy", "per_label_f1"),
                  "expr": _p("emotionet_expression_score", "macro_f1", "uar", "accuracy"),
                  "compound": _p("emotionet_expression_score", "macro_f1", "uar", "accuracy")},
    "disfa": {"au": _AU_F1},
    "bp4d": {"au": _AU_F1},
    "bp4dplus": {"au": _AU_F1},
    "gft": {"au": _AU_F1},
    "celeba": {"kind:multiclass": _TOTAL, "kind:multilabel": _p("total_accuracy", "average_f1", "per_label_f1")},
    "ferplus": {"expr": _p("accuracy", "per_class_recall", "mean_diag")},
}

_REGISTRY: dict[str, DatabaseProtocol] = {k: dict(v) for k, v in BUILTIN.items()}


def parse_task_protocol(value, where: str) -> TaskProtocol:
    """A `TaskProtocol` from a name, a list of names or ``{"primary", "metrics"}``."""
    with_defaults = False
    if isinstance(value, TaskProtocol):
        primary, names, with_defaults = value.primary, list(value.metrics), value.with_defaults
    elif isinstance(value, str):
        primary, names, with_defaults = value, [value], True
    elif isinstance(value, (list, tuple)) and value and all(isinstance(v, str) for v in value):
        primary, names = value[0], list(value)
    elif isinstance(value, dict) and isinstance(value.get("metrics", []), (list, tuple)):
        names = [str(v) for v in value.get("metrics", [])]
        primary = str(value.get("primary") or (names[0] if names else ""))
        names = names if primary in names else [primary, *names]
    else:
        raise ConfigError(f"{where}: expected a metric name, a list of names or "
                          f"{{'primary': name, 'metrics': [names]}}, got {value!r}")
    known = metric_names()
    unknown = [n for n in names if n not in known]
    if not primary or unknown:
        raise ConfigError(f"{where}: unknown metric(s) {unknown or [primary]}; known: {list(known)}")
    if primary.startswith("per_"):
        raise ConfigError(f"{where}: primary metric {primary!r} is per-label; choose a summary metric "
                          f"such as the first of {list(known)}")
    return TaskProtocol(primary, tuple(dict.fromkeys(names)), with_defaults)


def parse_protocol(name: str, spec: dict) -> DatabaseProtocol:
    if not isinstance(spec, dict) or not spec:
        raise ConfigError(f"protocol for database {name!r}: expected {{task: metrics}}, got {spec!r}")
    return {str(task): parse_task_protocol(v, f"protocol {name!r}, task {task!r}") for task, v in spec.items()}


def register_protocol(name: str, spec: dict, replace: bool = False) -> DatabaseProtocol:
    """Add (or with ``replace`` swap) the protocol of database ``name``; task entries merge otherwise."""
    parsed = parse_protocol(name, spec)
    key = normalise_name(name)
    _REGISTRY[key] = parsed if replace else {**_REGISTRY.get(key, {}), **parsed}
    return _REGISTRY[key]


def register_protocols(specs: dict[str, dict]) -> None:
    """Register several, e.g. the ``{database: {task: metrics}}`` map a SynthFace preset writes."""
    parsed = {name: parse_protocol(name, spec) for name, spec in specs.items()}  # all-or-nothing
    for name, spec in parsed.items():
        register_protocol(name, spec)


def unregister_protocol(name: str) -> None:
    """Forget a registered protocol; built-in ones return to their built-in form."""
    key = normalise_name(name)
    if key in BUILTIN:
        _REGISTRY[key] = dict(BUILTIN[key])
    else:
        _REGISTRY.pop(key, None)


def protocol_for(database: str, task_name: str, kind: str,
                 overrides: dict[str, dict] | None = None) -> TaskProtocol:
    """The protocol of ``task_name`` (of ``kind``) on ``database``, checked to fit the kind."""
    if kind not in TASK_KINDS:
        raise ConfigError(f"task {task_name!r}: kind {kind!r} is not one of {TASK_KINDS}")
    key = normalise_name(database)
    entry: DatabaseProtocol = dict(_REGISTRY.get(key, {}))
    for name, spec in (overrides or {}).items():
        if normalise_name(name) == key:
            entry.update(parse_protocol(name, spec))
    proto = entry.get(task_name) or entry.get(f"kind:{kind}") or DEFAULTS[kind]
    if proto.with_defaults:
        proto = TaskProtocol(proto.primary, tuple(dict.fromkeys((*proto.metrics, *DEFAULTS[kind].metrics))))
    fitting = set(SUMMARY[kind]) | set(PER_LABEL[kind])
    wrong = [n for n in proto.metrics if n not in fitting]
    if wrong:
        raise ConfigError(f"protocol of database {database!r}, task {task_name!r}: metric(s) {wrong} do not "
                          f"apply to a {kind} task; choose from {metric_names(kind)}")
    return proto


def protocols_from_preset(preset) -> dict[str, dict]:
    """``{database: {task: metric}}`` from a SynthFace preset (its dict, its ``preset.json`` or folder)."""
    if not isinstance(preset, dict):
        path = Path(preset)
        path = path / "preset.json" if path.is_dir() else path
        try:
            preset = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"{path}: cannot read a SynthFace preset ({exc})") from exc
    databases = preset.get("databases")
    if not isinstance(databases, list):
        raise ConfigError("preset: no 'databases' list; expected the preset.json SynthFace writes")
    out = {}
    for i, db in enumerate(databases):
        if not isinstance(db, dict) or "name" not in db or not isinstance(db.get("metrics"), dict):
            raise ConfigError(f"preset: databases[{i}] needs a 'name' and a 'metrics' {{task: metric}} map")
        out[str(db["name"])] = db["metrics"]
    return out


def register_preset(preset) -> list[str]:
    """Register the protocols of every database of a SynthFace preset; returns their names."""
    specs = protocols_from_preset(preset)
    register_protocols(specs)
    return list(specs)
