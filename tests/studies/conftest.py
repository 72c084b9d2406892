"""The compound study's tests use the compound library's fixtures (a tiny preset and network)."""

from tests.compound.conftest import synth_dir, tiny_checkpoint  # noqa: F401  (pytest fixtures)
