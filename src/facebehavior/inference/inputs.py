"""What to analyse: image and video files given as paths, directories (recursive) or glob patterns."""

from __future__ import annotations

import glob
from dataclasses import dataclass
from pathlib import Path

from facebehavior.atomic import is_temp
from facebehavior.inference.video import VIDEO_EXTENSIONS

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".jp2")


@dataclass(frozen=True)
class Input:
    path: Path    # absolute
    media: str    # "image" or "video"
    name: str     # relative to the directory it was found in (names annotated copies)

    @property
    def source(self) -> str:
        return str(self.path)


@dataclass(frozen=True)
class InputProblem:
    source: str
    reason: str
    detail: str


def media_of(path: Path) -> str:
    """Videos by extension; everything else is tried as an image (and reported if it is not one)."""
    return "video" if path.suffix.lower() in VIDEO_EXTENSIONS else "image"


def _is_media(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS + VIDEO_EXTENSIONS


def discover(specs: list[str]) -> tuple[list[Input], list[InputProblem]]:
    """Inputs in the order given (directories and globs sorted), each once, and the specs that found none.

    A named file is taken whatever its extension; in directories and glob matches only files with an
    image or video extension are.
    """
    found: dict[Path, Input] = {}
    problems: list[InputProblem] = []

    def add(path: Path, name: str):
        path = path.resolve()
        found.setdefault(path, Input(path, media_of(path), name))

    for spec in specs:
        path = Path(spec).expanduser()
        if path.is_file():
            add(path, path.name)
        elif path.is_dir():
            media = sorted(p for p in path.rglob("*") if p.is_file() and _is_media(p))
            leftovers = [f for f in media if is_temp(f)]  # reported, not read: they may be half written
            for leftover in leftovers:
                problems.append(InputProblem(str(leftover.resolve()), "interrupted_write",
                                             f"{leftover}: left by an interrupted write (not analysed); delete it"))
            files = [f for f in media if not is_temp(f)]
            if not media:
                problems.append(InputProblem(str(path.resolve()), "empty_directory",
                                             f"{path}: no image or video files in it (or below)"))
            for file in files:
                add(file, str(file.relative_to(path)))
        elif glob.has_magic(spec):
            matches = sorted(Path(m) for m in glob.glob(str(path), recursive=True))
            files = [m for m in matches if m.is_file() and _is_media(m)]
            if not files:
                problems.append(InputProblem(spec, "no_match", f"{spec}: the pattern matches no image or video file"))
            for file in files:
                add(file, file.name)
        else:
            problems.append(InputProblem(str(path.absolute()), "missing_file", f"{spec}: no such file or directory"))
    return list(found.values()), problems
