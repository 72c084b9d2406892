"""Task balancing on toy problems with known answers (losses/balancing.py)."""

from __future__ import annotations

import torch

from facebehavior.labels import TaskSpec
from facebehavior.losses.balancing import UncertaintyWeighting, objectives, pcgrad_backward
from facebehavior.losses.objective import MultiTaskObjective

NAN = float("nan")


def _regression(name: str) -> TaskSpec:
    return TaskSpec(name, "regression", ("v",), "mse")


def test_uncertainty_weights_converge_to_the_inverse_task_noise():
    # y_t = a_t x + noise of std σ_t: at the optimum L_t = σ_t² and exp(−s_t) = 1 / σ_t² (our form's constant: 1)
    gen = torch.Generator().manual_seed(0)
    sigmas = {"r1": 0.5, "r2": 2.0}
    x = torch.randn(4096, 1, generator=gen)
    labels = {t: 3.0 * x + s * torch.randn(4096, 1, generator=gen) for t, s in sigmas.items()}
    objective = MultiTaskObjective([_regression("r1"), _regression("r2")])
    balancer = UncertaintyWeighting(["r1", "r2"])
    slopes = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.Adam([slopes, *balancer.parameters()], lr=0.05)
    for _ in range(600):
        present: dict = {}
        losses = objective({"r1": slopes[0] * x, "r2": slopes[1] * x}, labels, present=present)
        opt.zero_grad(set_to_none=True)
        balancer(losses, present).backward()
        opt.step()
    noise = {t: float(((labels[t] - 3.0 * x) ** 2).mean()) for t in sigmas}  # the sample's σ_t²
    weights = balancer.weights()
    for t in sigmas:
        assert abs(weights[t] * noise[t] - 1) < 0.02, (t, weights[t], 1 / noise[t])
    assert abs(weights["r1"] / weights["r2"] - noise["r2"] / noise["r1"]) < 0.05 * noise["r2"] / noise["r1"]


def test_uncertainty_total_is_the_documented_form_and_leaves_absent_tasks_out():
    balancer = UncertaintyWeighting(["a", "b"])
    with torch.no_grad():
        balancer.log_var("a").fill_(0.5)
        balancer.log_var("b").fill_(-1.0)
    losses = {"a": torch.tensor(2.0), "b": torch.tensor(0.0), "dm:a-b": torch.tensor(0.25)}
    total = balancer(losses, {"a": True, "b": False})
    torch.testing.assert_close(total, torch.exp(torch.tensor(-0.5)) * 2.0 + 0.5 + 0.25)
    total.backward()
    assert balancer.log_var("a").grad is not None and balancer.log_var("b").grad is None


def test_objective_reports_which_tasks_the_batch_labels():
    tasks = [TaskSpec("e", "multiclass", ("x", "y", "z")), TaskSpec("u", "multilabel", ("p", "q")),
             TaskSpec("va", "regression", ("v", "w"), "ccc"), TaskSpec("off", "regression", ("v",), "mse", weight=0.0)]
    logits = {"e": torch.randn(3, 3, requires_grad=True), "u": torch.randn(3, 2, requires_grad=True),
              "va": torch.randn(3, 2, requires_grad=True), "off": torch.randn(3, 1, requires_grad=True)}
    labels = {"e": torch.tensor([-1, -1, -1]), "u": torch.tensor([[NAN, NAN], [1.0, NAN], [NAN, NAN]]),
              "va": torch.tensor([[0.1, NAN], [NAN, NAN], [NAN, 0.3]]),  # ccc needs two labels in a column
              "off": torch.tensor([[1.0], [2.0], [3.0]])}
    present: dict = {}
    losses = MultiTaskObjective(tasks)(logits, labels, present=present)
    assert present == {"e": False, "u": True, "va": False, "off": False}
    for absent in ("e", "va", "off"):
        assert float(losses[absent].detach()) == 0.0
    assert set(objectives(losses, present)) == {"u"}


def _surgery(g1: torch.Tensor, g2: torch.Tensor) -> tuple[torch.Tensor, dict]:
    w = torch.nn.Parameter(torch.zeros(len(g1)))
    features = w * 1.0  # the shared representation: each task's gradient on w is its g
    weights = pcgrad_backward({"a": (g1 * features).sum(), "b": (g2 * features).sum()}, [features], [w])
    return w.grad, weights


def test_pcgrad_removes_the_conflicting_component_of_two_opposed_gradients():
    g1, g2 = torch.tensor([1.0, 0.0]), torch.tensor([-1.0, 1.0])  # g1·g2 = −1 < 0
    grad, weights = _surgery(g1, g2)
    # g1 − (g1·g2/|g2|²) g2 = (0.5, 0.5); g2 − (g2·g1/|g1|²) g1 = (0, 1); their sum:
    torch.testing.assert_close(grad, torch.tensor([0.5, 1.5]), rtol=0, atol=1e-7)
    assert weights == {"a": 2.0, "b": 1.5}
    projected_a = torch.tensor([0.5, 0.5])
    assert float(projected_a @ g2) == 0.0  # what is left of g1 no longer conflicts with g2


def test_pcgrad_leaves_non_conflicting_gradients_unchanged():
    g1, g2 = torch.tensor([1.0, 0.0, 2.0]), torch.tensor([1.0, 1.0, -0.25])  # g1·g2 = 0.5 ≥ 0
    grad, weights = _surgery(g1, g2)
    torch.testing.assert_close(grad, g1 + g2, rtol=0, atol=0)
    assert weights == {"a": 1.0, "b": 1.0}


def test_pcgrad_projects_the_backbone_and_gives_each_task_its_own_head_rows():
    torch.manual_seed(0)
    backbone = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.ReLU(),
                                   torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten())
    head = torch.nn.Linear(4, 5)  # rows 0-1 task a, rows 2-4 task b
    x = torch.randn(6, 3, 8, 8)
    target = torch.randn(6, 3)
    shared = list(backbone.parameters())

    def losses():
        features = backbone(x)
        out = head(features)
        return features, out[:, :2].pow(2).mean(), -(out[:, 2:] * target).mean() * 4

    features, a, b = losses()
    pcgrad_backward({"a": a, "b": b}, [features], shared + list(head.parameters()))
    got_shared = torch.cat([p.grad.flatten() for p in shared])
    got_head = (head.weight.grad.clone(), head.bias.grad.clone())
    for p in shared + list(head.parameters()):
        p.grad = None
    features, a, b = losses()
    ga = torch.cat([g.flatten() for g in torch.autograd.grad(a, shared, retain_graph=True)])
    gb = torch.cat([g.flatten() for g in torch.autograd.grad(b, shared, retain_graph=True)])
    dot = ga @ gb
    assert dot < 0  # the example conflicts
    expected = (ga - dot / (gb @ gb) * gb) + (gb - dot / (ga @ ga) * ga)
    torch.testing.assert_close(got_shared, expected, rtol=1e-5, atol=1e-6)
    (a + b).backward()  # the head: each task's rows get their own gradient, unprojected
    torch.testing.assert_close(got_head[0], head.weight.grad, rtol=0, atol=1e-7)
    torch.testing.assert_close(got_head[1], head.bias.grad, rtol=0, atol=1e-7)
