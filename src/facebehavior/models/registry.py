"""Backbones built by name: a backbone maps (B, 3, H, W) in [-1, 1] to (B, num_features)."""

from __future__ import annotations

from typing import Callable

from torch import nn

from facebehavior.errors import ConfigError

_REGISTRY: dict[str, Callable[..., tuple[nn.Module, int]]] = {}


def register_backbone(name: str):
    def wrap(fn):
        _REGISTRY[name] = fn
        return fn

    return wrap


def _register_builtins() -> None:
    # Imported here, not at the top: fbn imports this module to register itself
    from facebehavior.models import fbn  # noqa: F401


def list_backbones() -> list[str]:
    _register_builtins()
    return sorted(_REGISTRY) + ["timm:<any timm model name>"]


def create_backbone(name: str, **kwargs) -> tuple[nn.Module, int]:
    """`fbn` or `timm:resnet50` (any timm name; also bare `resnet50`, `densenet121`, `vgg16`)."""
    _register_builtins()
    if name in _REGISTRY:
        return _REGISTRY[name](**kwargs)
    from facebehavior.models.timm_backbone import create_timm_backbone

    return create_timm_backbone(name.removeprefix("timm:"), **kwargs)


def require(condition: bool, message: str) -> None:
    if not condition:
        raise ConfigError(message)
