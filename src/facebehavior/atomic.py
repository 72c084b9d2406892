"""Outputs are written atomically: a crash or Ctrl-C leaves the old complete file or the new one, never half."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def temp_path(path: str | Path) -> Path:
    """A temporary name beside `path` (same folder, so the rename is atomic), hidden, per process,
    ending in `path`'s own suffix so writers that pick the format from it (savefig, to_parquet,
    cv2, PIL) still do: ``report.md`` -> ``.report.md.<pid>.tmp.md``."""
    path = Path(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp{path.suffix}")


_TEMP_NAME = re.compile(r"^\..+\.\d+\.tmp(\.[^.]*)?$")


def is_temp(path: str | Path) -> bool:
    """Whether `path` is one of `temp_path`'s names: a write that a hard kill (SIGKILL, power loss)
    interrupted leaves one behind, and a folder scan must not read it as a finished file."""
    return bool(_TEMP_NAME.match(Path(path).name))


@contextmanager
def replacing(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path` in one rename, on an
    exception (KeyboardInterrupt included) it is deleted and `path` is left as it was.
    The parent folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:  # must not hide the error being raised
            pass
        raise


def write_bytes(path: str | Path, data: bytes) -> Path:
    """`data` as the whole of `path`, atomically."""
    with replacing(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)


def write_text(path: str | Path, text: str) -> Path:
    """`text` (UTF-8) as the whole of `path`, atomically."""
    with replacing(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
