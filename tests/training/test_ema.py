"""The weights' moving average (train.ema_decay): what validation scores and `best` ships, resumed exactly."""

import torch



def test_ema_is_the_moving_average_of_the_trained_weights():
    from torch import nn

    from facebehavior.training.step import _moving_average

    net = nn.Linear(3, 1, bias=False)
    ema = _moving_average(net, 0.5)
    values = []
    for v in (1.0, 2.0, 4.0):
        with torch.no_grad():
            net.weight.fill_(v)
        ema.update_parameters(net)
        values.append(float(ema.module.weight.detach()[0, 0]))
    assert values == [1.0, 1.5, 2.75]  # first copy, then 0.5·old + 0.5·new
    assert _moving_average(net, 0.0) is None


def test_training_with_ema_validates_and_ships_the_average_and_keeps_it_for_resume(tiny_manifest, tmp_path):
    from safetensors.torch import load_file

    from facebehavior.config import load_config
    from facebehavior.models.checkpoint import load_train_state
    from facebehavior.training.trainer import train
    from tests.training.conftest import tiny_config

    base = tiny_config(tiny_manifest, tmp_path / "run", epochs=1)
    base["train"]["ema_decay"] = 0.9
    base["tasks"] = [t for t in base["tasks"] if t["name"] == "expr"]
    base["coupling"] = []
    result = train(load_config(base=base), say=lambda *_: None)
    best = load_file(result.best_checkpoint / "model.safetensors")
    raw = load_file(result.last_checkpoint / "model.safetensors")
    ema = load_train_state(result.last_checkpoint)["ema"]
    for name, value in best.items():  # best holds the average, last the raw weights plus the average
        assert torch.equal(value, ema[f"module.{name}"])
    assert any(not torch.equal(best[k], raw[k]) for k in best if best[k].is_floating_point())
