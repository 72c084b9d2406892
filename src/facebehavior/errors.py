"""Errors a user can act on. Library code raises these; only `cli/` prints and exits."""


class FaceBehaviorError(Exception):
    """Base class: the message says what is wrong and what to do."""


class ConfigError(FaceBehaviorError):
    """A config key or value is invalid."""


class ManifestError(FaceBehaviorError):
    """A manifest is malformed; `problems` lists every bad row."""

    def __init__(self, message: str, problems: list[str] | None = None):
        self.problems = problems or []
        detail = "\n".join(f"  - {p}" for p in self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(message + ("\n" + detail + more if self.problems else ""))


class CheckpointError(FaceBehaviorError):
    """A checkpoint is missing, corrupt or incompatible."""


class DataFormatError(FaceBehaviorError):
    """Native database files disagree with the documented format."""


class DiskFullError(FaceBehaviorError):
    """No space left on the device while writing a file; the message names the file and what was kept."""


def is_disk_full(exc: BaseException) -> bool:
    """An OSError for a full device or an exceeded disk quota."""
    import errno

    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC))


class disk_full_as_error:
    """Context manager: an OSError "no space left on device" (or quota exceeded) inside becomes one
    `DiskFullError` line naming `path` and saying what is kept (`kept`); other errors pass through.

        with disk_full_as_error(out, "the rows written so far are kept: free space and rerun with --resume"):
            write(out)
    """

    def __init__(self, path, kept: str):
        self.path, self.kept = path, kept

    def __enter__(self):
        return self

    def __exit__(self, kind, exc, tb):
        if exc is not None and not isinstance(exc, DiskFullError) and is_disk_full(exc):
            raise DiskFullError(f"{exc.filename or self.path}: no space left on the device; {self.kept}") from None
        return False
