"""Label spaces that only some databases use (kept free of heavy imports so the CLI stays fast).

- `RAFDB_COMPOUND`: the 11 RAF-DB compound classes, in RAF-DB's own code order (code 1 → index 0),
  named as in Du et al.'s table (`facebehavior.relatedness`), so zero-shot scores line up.
- `FERPLUS8`: the 8 FER+ classes in FER+'s vote-column order (contempt included).
- `EMOTIONET_CATEGORIES`: the EmotioNet challenge's basic and compound categories (see
  `emotionet.py` for what is assumed about them).
"""

from __future__ import annotations

from facebehavior.labels import EXPRESSIONS

RAFDB_COMPOUND: tuple[str, ...] = (
    "happily_surprised", "happily_disgusted", "sadly_fearful", "sadly_angry", "sadly_surprised",
    "sadly_disgusted", "fearfully_angry", "fearfully_surprised", "angrily_surprised",
    "angrily_disgusted", "disgustedly_surprised",
)

FERPLUS8: tuple[str, ...] = (
    "neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear", "contempt",
)

# The six basic classes (canonical order, no neutral) followed by the compound classes that
# pair two basic emotions in Du et al. (the same 11 as RAF-DB).
EMOTIONET_CATEGORIES: tuple[str, ...] = tuple(e for e in EXPRESSIONS if e != "neutral") + RAFDB_COMPOUND
