"""The multi-task network: backbone → one linear layer for all task logits (Fig. 1)."""

from __future__ import annotations

import torch
from torch import nn

from facebehavior.labels import TaskSpec
from facebehavior.models.preprocessing import Preprocessing
from facebehavior.models.registry import create_backbone


class MultiTaskNet(nn.Module):
    """Returns a dict of logits per task, all pooled from one feature space.

    `preprocessing` is the input the network expects (crop framing, size, gray, normalisation): it
    travels with the model into checkpoints, evaluation, `analyze` and ONNX.
    """

    def __init__(self, backbone: nn.Module, num_features: int, tasks: list[TaskSpec], dropout: float = 0.0,
                 preprocessing: Preprocessing | None = None):
        super().__init__()
        self.preprocessing = preprocessing or Preprocessing()
        self.backbone = backbone
        self.task_names = [t.name for t in tasks]
        self.task_sizes = [t.size for t in tasks]
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.head = nn.Linear(num_features, sum(self.task_sizes))

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        logits = self.head(self.dropout(self.backbone(images)))
        return dict(zip(self.task_names, logits.split(self.task_sizes, dim=1)))

    def replace_head(self, tasks: list[TaskSpec]) -> None:
        """New output layer for other tasks (few-shot fine-tuning), keeping the backbone."""
        self.task_names = [t.name for t in tasks]
        self.task_sizes = [t.size for t in tasks]
        self.head = nn.Linear(self.head.in_features, sum(self.task_sizes))


class EnsembleNet(nn.Module):
    """Several networks of one shape whose logits are averaged per task (`model.members` > 1): how
    independently trained runs are shipped as one model (`merge_into_ensemble`)."""

    def __init__(self, members: list[MultiTaskNet], preprocessing: Preprocessing | None = None):
        super().__init__()
        self.members = nn.ModuleList(members)
        self.preprocessing = preprocessing or Preprocessing()
        self.task_names = members[0].task_names

    def forward(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        outputs = [m(images) for m in self.members]
        return {k: torch.stack([o[k] for o in outputs]).mean(0) for k in outputs[0]}


def build_model(model_cfg, tasks: list[TaskSpec], preprocessing: Preprocessing | None = None) -> nn.Module:
    if model_cfg.members > 1:
        return EnsembleNet([_single(model_cfg, tasks, preprocessing) for _ in range(model_cfg.members)],
                           preprocessing)
    return _single(model_cfg, tasks, preprocessing)


def _single(model_cfg, tasks: list[TaskSpec], preprocessing: Preprocessing | None) -> MultiTaskNet:
    backbone, features = create_backbone(
        model_cfg.backbone, preset=model_cfg.preset, widths=model_cfg.widths, depths=model_cfg.depths,
        stem_stride=model_cfg.stem_stride,
        pretrained=model_cfg.pretrained, pretrained_path=model_cfg.pretrained_path)
    return MultiTaskNet(backbone, features, tasks, model_cfg.dropout, preprocessing)
