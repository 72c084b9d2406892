"""Backbones (fbn presets, timm) and the multi-task network's outputs."""

import pytest
import torch

from facebehavior.config import ModelConfig
from facebehavior.errors import ConfigError
from facebehavior.labels import TaskSpec, affect_tasks
from facebehavior.models import MultiTaskNet, build_model, create_backbone, list_backbones
from facebehavior.models.fbn import PRESETS

torch.set_num_threads(2)


@pytest.mark.parametrize("preset", ["tiny", "small"])
def test_fbn_presets_give_task_logits_of_the_right_shape(preset):
    torch.manual_seed(0)
    model = build_model(ModelConfig(backbone="fbn", preset=preset), affect_tasks()).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert list(out) == ["expr", "au", "va"]
    assert out["expr"].shape == (2, 7) and out["au"].shape == (2, 17) and out["va"].shape == (2, 2)
    assert model.head.in_features == PRESETS[preset]["widths"][-1]


def test_fbn_paper_preset_features_and_112_input():
    net, features = create_backbone("fbn", preset="paper")
    assert features == 512
    with torch.no_grad():
        assert net.eval()(torch.zeros(1, 3, 112, 112)).shape == (1, 512)


def test_fbn_custom_widths_and_depths():
    net, features = create_backbone("fbn", preset="tiny", widths=[8, 16], depths=[1, 2])
    assert features == 16 and len(net.stages) == 2 and len(net.stages[1]) == 2
    # stride-2 stem and stride-2 opening unit per stage: 64 → 32 → 16 → 8
    assert net.stages(net.stem(torch.zeros(1, 3, 64, 64))).shape == (1, 16, 8, 8)
    with pytest.raises(ConfigError, match="equal length"):
        create_backbone("fbn", widths=[8, 16], depths=[1])


def test_unknown_preset_and_unknown_backbone_are_config_errors():
    with pytest.raises(ConfigError, match="preset"):
        create_backbone("fbn", preset="huge")
    with pytest.raises(ConfigError, match="not a timm model"):
        create_backbone("timm:not_a_real_net")
    assert "fbn" in list_backbones()


def test_pretrained_without_a_path_is_a_config_error():
    with pytest.raises(ConfigError, match="pretrained_path"):
        create_backbone("timm:resnet50", pretrained=True)


# VGG16's 100M-parameter pre-logits take seconds to initialise; on the meta device the layers and
# shapes are the same but no memory is filled, so the feature-size check stays fast.
@pytest.mark.parametrize("name, features, device", [
    ("resnet50", 2048, "cpu"), ("densenet121", 1024, "cpu"), ("vgg16", 4096, "meta")])
def test_timm_backbones_build_headless_with_their_feature_size(name, features, device):
    torch.manual_seed(0)
    with torch.device(device):
        model = build_model(ModelConfig(backbone=f"timm:{name}"), affect_tasks()).eval()
        with torch.no_grad():
            feats = model.backbone(torch.zeros(1, 3, 64, 64))
            out = model(torch.zeros(1, 3, 64, 64))
    assert model.head.in_features == features
    assert feats.shape == (1, features)
    assert out["au"].shape == (1, 17)
    if device == "cpu":
        assert torch.isfinite(out["au"]).all()


def test_heads_split_one_linear_layer_and_can_be_replaced():
    tasks = [TaskSpec("id", "multiclass", ("a", "b", "c")), TaskSpec("attr", "multilabel", ("x", "y"))]
    backbone = torch.nn.Flatten()
    model = MultiTaskNet(backbone, 4, tasks)
    x = torch.randn(3, 4)
    out = model(x)
    full = model.head(x)
    assert torch.equal(out["id"], full[:, :3]) and torch.equal(out["attr"], full[:, 3:])
    model.replace_head([TaskSpec("compound", "multiclass", tuple("abcdefghijklmnop"))])
    assert list(model(x)) == ["compound"] and model(x)["compound"].shape == (3, 16)
    assert model.backbone is backbone


def test_dropout_only_in_training_mode():
    model = MultiTaskNet(torch.nn.Flatten(), 8, affect_tasks(), dropout=0.5)
    x = torch.randn(4, 8)
    model.eval()
    assert torch.equal(model(x)["va"], model(x)["va"])
    model.train()
    torch.manual_seed(0)
    a = model(x)["va"]
    assert not torch.equal(a, model(x)["va"])
