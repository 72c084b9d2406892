"""Backbones (registry: `fbn`, `timm:<name>`), the shared output layer and the multi-task network."""

from facebehavior.models.multitask import MultiTaskNet, build_model
from facebehavior.models.registry import create_backbone, list_backbones, register_backbone

__all__ = ["MultiTaskNet", "build_model", "create_backbone", "list_backbones", "register_backbone"]
