"""Database importers: native files → manifest (our schema) + import report.

    from facebehavior.data.importers import IMPORTERS, import_database
    report = import_database("ferplus", "/data/ferplus", "manifests/")
    print(report.summary())

`IMPORTERS` maps a database name to its importer; each importer documents its split protocol
(`split_protocol`) and what it assumes about the native format (`assumptions`). Modules are
imported on first use so that listing the names (the CLI's help) stays fast.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from pathlib import Path

from facebehavior.data.importers.labelspaces import EMOTIONET_CATEGORIES, FERPLUS8, RAFDB_COMPOUND
from facebehavior.errors import ConfigError

# name → "module:Class" inside this package.
_REGISTRY: dict[str, str] = {
    "affectnet": "affectnet:AffectNetImporter",
    "rafdb": "rafdb:RafdbBasicImporter",
    "rafdb_compound": "rafdb:RafdbCompoundImporter",
    "affwild2": "affwild2:AffWild2Importer",
    "affwild": "affwild:AffWildImporter",
    "afew_va": "afew_va:AfewVaImporter",
    "emotionet": "emotionet:EmotioNetImporter",
    "disfa": "au_video:DisfaImporter",
    "bp4d": "au_video:Bp4dImporter",
    "bp4d_plus": "au_video:Bp4dPlusImporter",
    "gft": "au_video:GftImporter",
    "celeba": "celeba:CelebAImporter",
    "ferplus": "ferplus:FerPlusImporter",
    "generic_csv": "generic:GenericCsvImporter",
}


class _LazyRegistry(Mapping):
    """A read-only mapping name → importer instance that imports each module on first access."""

    def __init__(self, table: dict[str, str]):
        self._table = table
        self._loaded: dict = {}

    def __getitem__(self, name: str):
        if name not in self._table:
            raise ConfigError(f"unknown database {name!r}; known: {', '.join(sorted(self._table))}")
        if name not in self._loaded:
            module_name, cls_name = self._table[name].split(":")
            module = importlib.import_module(f"{__name__}.{module_name}")
            self._loaded[name] = getattr(module, cls_name)()
        return self._loaded[name]

    def __iter__(self):
        return iter(self._table)

    def __len__(self) -> int:
        return len(self._table)


IMPORTERS = _LazyRegistry(_REGISTRY)


def import_database(name: str, root: str | Path, out: str | Path, **options):
    """Import database `name` from `root` into `out/<name>.csv|parquet` + `out/import_report.json`.

    Options common to all importers: ``seed`` (0), ``val_fraction`` (0.1), ``check_images``
    (True: rows whose image file is missing are dropped and counted), ``format`` ("csv" or
    "parquet"), ``split_file`` (lines ``<subject> <split>`` overriding the split protocol).
    Importer-specific options are listed in each importer's ``defaults``. Returns the
    `ImportReport`; raises `DataFormatError` when the files are not in the documented format.
    """
    from facebehavior.data.importers.driver import run_import

    return run_import(IMPORTERS[name], root, out, **options)


__all__ = ["IMPORTERS", "import_database", "RAFDB_COMPOUND", "FERPLUS8", "EMOTIONET_CATEGORIES"]
