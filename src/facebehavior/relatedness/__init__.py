"""Task relatedness: p(label b | class a) matrices, shipped tables, estimation, plots."""

from facebehavior.relatedness.tables import (
    BUILTIN_TABLES,
    CategoryRow,
    Relatedness,
    load_category_rows,
    load_relatedness,
)
from facebehavior.relatedness.estimate import estimate_relatedness

__all__ = [
    "BUILTIN_TABLES",
    "CategoryRow",
    "Relatedness",
    "estimate_relatedness",
    "load_category_rows",
    "load_relatedness",
]
