"""docs/config.md, written from the config classes themselves: every key with its default, what it
accepts and what it means (the comment on its line in config.py), so the reference cannot drift
from the code (tests/test_config_reference.py regenerates it and compares).

    python -m facebehavior.config_reference --out docs/config.md
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import re
import typing

from facebehavior import atomic
from facebehavior import config as C

_FIELD_LINE = re.compile(r"^    (\w+): [^=#]+(?:=.*?)?(?:  # (?P<comment>.*))?$")

HEADER = """# Config reference

Every key of an experiment config (`facebehavior train -c CONFIG`, `--set KEY=VALUE`, the `config.yaml`
saved in every run and checkpoint). Keys are strict: an unknown key, a wrong type, a value outside
its choices or range is refused when the config is loaded, naming the key. The packaged configs
(`facebehavior train -c paper_affect`, `ferplus`, ...) are worked examples.

Written by `python -m facebehavior.config_reference --out docs/config.md` from
`src/facebehavior/config.py` (each key's meaning is the comment on its line there); a test fails
when this page and the code differ.
"""


def field_comments(cls) -> dict[str, str]:
    """Field name → its comment: the comment lines just above the field and the one on its line."""
    comments, above = {}, []
    for line in inspect.getsource(cls).splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            above.append(stripped.lstrip("# ").strip())
            continue
        match = _FIELD_LINE.match(line)
        if match and not stripped.startswith("def "):
            text = " ".join(above + ([match["comment"]] if match["comment"] else []))
            comments[match[1]] = text
        above = []
    return comments


def sections(cls=C.ExperimentConfig, path: str = "") -> list[tuple[str, type]]:
    """(key path, class) of the config and every nested section, parents first."""
    out = [(path, cls)]
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        key = f"{path}.{f.name}" if path else f.name
        item = C._LIST_ITEMS.get((cls.__name__, f.name))
        if item is not None:
            out += sections(item, f"{key}[]")
        elif dataclasses.is_dataclass(hints[f.name]):
            out += sections(hints[f.name], key)
    return out


def _default(cls, f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return "required"
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    if dataclasses.is_dataclass(value):
        return "(section)"
    if value == "":
        return '`""`'
    return f"`{'null' if value is None else str(value).lower() if isinstance(value, bool) else value}`"


def _accepts(cls, f: dataclasses.Field, hint) -> str:
    key = f"{cls.__name__}.{f.name}"
    if key in C._CHOICES:
        return ", ".join(f"`{c}`" for c in C._CHOICES[key])
    if (cls.__name__, f.name) in C._LIST_ITEMS:
        alternatives = C._LIST_OR.get((cls.__name__, f.name), ())
        return "list of entries (below)" + "".join(f" or `{a}`" for a in alternatives)
    if dataclasses.is_dataclass(hint):
        return "section (below)"
    kind = re.sub(r"typing\.|<class '(\w+)'>", r"\1", str(hint)).replace("None", "null").replace("Any", "any")
    parts = [kind.replace(" | ", " or ")]
    if key in C._LENGTHS:
        parts.append(f"{C._LENGTHS[key]} items")
    if key in C._RANGES and C._RANGES[key] != "(-inf, inf)":
        parts.append(f"in {C._RANGES[key]}")
    return ", ".join(parts)


def reference_markdown() -> str:
    lines = [HEADER]
    for path, cls in sections():
        title = f"`{path}`" if path else "Top level"
        lines += [f"## {title}", "", "| key | default | accepts | meaning |", "|---|---|---|---|"]
        comments, hints = field_comments(cls), typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            meaning = comments.get(f.name, "").replace("|", "\\|")
            lines.append(f"| `{f.name}` | {_default(cls, f)} | {_accepts(cls, f, hints[f.name])} | {meaning} |")
        lines.append("")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description="write the config reference (docs/config.md)")
    ap.add_argument("--out", default="docs/config.md")
    args = ap.parse_args()
    out = atomic.write_text(args.out, reference_markdown())
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
