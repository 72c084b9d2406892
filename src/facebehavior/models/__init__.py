"""Backbones (registry: `fbn`, `timm:<name>`), the shared output layer and the multi-task network."""

from facebehavior.models.registry import create_backbone, list_backbones, register_backbone
from facebehavior.models import fbn  # noqa: F401,E402  (registers `fbn` on import: no lazy import, no cycle)
from facebehavior.models.multitask import MultiTaskNet, build_model  # noqa: E402

__all__ = ["MultiTaskNet", "build_model", "create_backbone", "list_backbones", "register_backbone"]
