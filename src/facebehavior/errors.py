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
