"""Backbones (registry: `fbn`, `timm:<name>`), the shared output layer and the multi-task network.

Exports are lazy (facebehavior/lazy.py): `facebehavior.models.preprocessing` and `.pretrained` are
read by the ONNX backend, which must not load torch (half a gigabyte) just to import this package.
"""

from facebehavior.lazy import lazy_exports

_EXPORTS = {"MultiTaskNet": "multitask", "build_model": "multitask", "create_backbone": "registry",
            "list_backbones": "registry", "register_backbone": "registry"}

__getattr__, __dir__, __all__ = lazy_exports(__name__, _EXPORTS, globals())
