"""FaceBehaviorNet's backbone (Fig. 1): residual units with batch norm, stride-2 convolutions.

A stride-2 stem halves the input first, then each stage opens with a stride-2 residual unit (the paper: "the stride is equal to 2,
everywhere" a resolution changes), followed by stride-1 units; global average pooling ends it.
Presets size it: `tiny` trains in minutes on a CPU at 64×64, `paper` is the 112×112 network.
"""

from __future__ import annotations

import torch
from torch import nn

from facebehavior.models.registry import register_backbone, require

PRESETS = {
    "tiny": {"widths": [16, 32, 64, 128], "depths": [1, 1, 1, 1]},
    "small": {"widths": [32, 64, 128, 256], "depths": [1, 1, 2, 1]},
    "paper": {"widths": [64, 128, 256, 512], "depths": [2, 2, 2, 2]},
}


class ResidualUnit(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + self.shortcut(x))


class FaceBehaviorBackbone(nn.Module):
    def __init__(self, widths: list[int], depths: list[int], stem_stride: int = 2):
        super().__init__()
        require(len(widths) == len(depths) and widths, "model.widths and model.depths must have equal length")
        self.stem = nn.Sequential(nn.Conv2d(3, widths[0], 3, stem_stride, 1, bias=False), nn.BatchNorm2d(widths[0]),
                                  nn.ReLU(inplace=True))
        stages, cin = [], widths[0]
        for width, depth in zip(widths, depths):
            units = [ResidualUnit(cin, width, 2)] + [ResidualUnit(width, width, 1) for _ in range(depth - 1)]
            stages.append(nn.Sequential(*units))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = cin
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.stages(self.stem(x))).flatten(1)


@register_backbone("fbn")
def create_fbn(preset: str = "paper", widths=None, depths=None, stem_stride=None, **_) -> tuple[nn.Module, int]:
    require(preset in PRESETS, f"model.preset {preset!r}: use one of {sorted(PRESETS)}")
    spec = PRESETS[preset]
    net = FaceBehaviorBackbone(list(widths or spec["widths"]), list(depths or spec["depths"]), stem_stride or 2)
    return net, net.num_features
