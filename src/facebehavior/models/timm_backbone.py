"""Any timm model, created headless (num_classes=0). timm is imported only when used.

Pretrained weights are never downloaded here: pass `pretrained_path` (a local safetensors file)
instead, so training works offline and reproducibly.
"""

from __future__ import annotations

from torch import nn

from facebehavior.errors import ConfigError

ALIASES = {"vgg16": "vgg16_bn", "vgg-face": "vgg16_bn", "resnet-50": "resnet50", "densenet-121": "densenet121"}


def create_timm_backbone(name: str, pretrained_path: str | None = None, pretrained: bool = False,
                         **_) -> tuple[nn.Module, int]:
    import timm

    name = ALIASES.get(name, name)
    if not timm.is_model(name):
        raise ConfigError(f"model.backbone: {name!r} is not a timm model (e.g. resnet50, densenet121, vgg16_bn)")
    if pretrained and not pretrained_path:
        raise ConfigError("model.pretrained needs model.pretrained_path (a local .safetensors file); "
                          "facebehavior never downloads weights at run time")
    kwargs = {"pretrained_cfg_overlay": {"file": pretrained_path}} if pretrained_path else {}
    net = timm.create_model(name, pretrained=bool(pretrained_path), num_classes=0, **kwargs)
    # VGG's pre-logits MLP widens the features past num_features; timm reports it here.
    return net, int(getattr(net, "head_hidden_size", None) or net.num_features)
