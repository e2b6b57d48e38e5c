"""Each named optimizer builds on torch.optim and takes a step; knobs are checked."""

import pytest
import torch
from torch import nn

from sweepforge.trainables import MOMENTUM_OPTIMIZERS, OPTIMIZERS, ConfigError
from sweepforge.trainables.components import build_optimizer
from sweepforge.trainables.components.optimizers import FUSED_DEVICES

TORCH_CLASS = {
    "sgd": torch.optim.SGD,
    "momentum": torch.optim.SGD,
    "nesterov": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "rmsprop": torch.optim.RMSprop,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}


def test_every_documented_optimizer_is_available():
    assert set(OPTIMIZERS) == set(TORCH_CLASS)
    assert set(MOMENTUM_OPTIMIZERS) == {"momentum", "nesterov"}


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_builds_and_a_step_lowers_a_quadratic_loss(name):
    torch.manual_seed(0)
    model = nn.Linear(4, 1)
    optimizer = build_optimizer(name, model.parameters(), lr=1.0 if name == "adadelta" else 0.05)
    assert type(optimizer) is TORCH_CLASS[name]
    x = torch.randn(64, 4)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 1.0

    def loss() -> torch.Tensor:
        return ((model(x).squeeze(1) - y) ** 2).mean()

    before = float(loss().detach())
    for _ in range(3):
        optimizer.zero_grad()
        loss().backward()
        optimizer.step()
    assert float(loss().detach()) < before


def test_momentum_goes_only_where_it_belongs():
    params = list(nn.Linear(2, 1).parameters())
    assert build_optimizer("sgd", params, lr=0.1, momentum=0.9).defaults["momentum"] == 0.0
    assert build_optimizer("momentum", params, lr=0.1, momentum=0.8).defaults["momentum"] == 0.8
    nesterov = build_optimizer("nesterov", params, lr=0.1, momentum=0.7)
    assert (nesterov.defaults["momentum"], nesterov.defaults["nesterov"]) == (0.7, True)
    assert build_optimizer("rmsprop", params, lr=0.1, momentum=0.9).defaults["momentum"] == 0


def test_weight_decay_is_passed_through():
    params = list(nn.Linear(2, 1).parameters())
    adamw = build_optimizer("adamw", params, lr=0.1, weight_decay=0.01)
    assert adamw.defaults["weight_decay"] == 0.01


@pytest.mark.parametrize(
    ("name", "kwargs", "match"),
    [
        ("adamx", {}, (r"optimizer='adamx' is not allowed; choose one of: sgd, momentum, nesterov, "
                       r"adagrad, adadelta, rmsprop, adam, adamw")),
        ("adam", {"lr": 0.0}, r"lr=0.0 is out of range; it must satisfy lr > 0"),
        ("adam", {"weight_decay": -1.0}, r"weight_decay=-1.0 is out of range; .* >= 0"),
        ("momentum", {"momentum": 1.0}, r"momentum=1.0 is out of range; .* 0 <= momentum < 1"),
        ("nesterov", {"momentum": 0.0}, r"momentum=0.0 is out of range for optimizer='nesterov'"),
    ],
)
def test_bad_knobs(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_optimizer(name, nn.Linear(2, 1).parameters(), **{"lr": 0.1, **kwargs})


def _trained_weights(optimizer_for, steps: int = 5) -> list[torch.Tensor]:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 2))
    optimizer = optimizer_for(model.parameters())
    x, y = torch.randn(32, 6), torch.randn(32, 2)
    for _ in range(steps):
        optimizer.zero_grad()
        ((model(x) - y) ** 2).mean().backward()
        optimizer.step()
    return [p.detach().clone() for p in model.parameters()]


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_fused_kernels_where_torch_has_them_agree_with_the_for_loop(name):
    kwargs = {"lr": 1.0 if name == "adadelta" else 0.05, "weight_decay": 0.01, "momentum": 0.9}
    built = build_optimizer(name, nn.Linear(2, 1).parameters(), **kwargs)
    assert built.defaults.get("fused") is (True if "cpu" in FUSED_DEVICES.get(name, ()) else None)

    def built_for(params):
        return build_optimizer(name, params, **kwargs)

    fused = _trained_weights(built_for)
    assert all(torch.equal(a, b) for a, b in zip(fused, _trained_weights(built_for)))

    def for_loop(params):
        optimizer = built_for(params)
        for group in optimizer.param_groups:
            group["fused"], group["foreach"] = None, False
        return optimizer

    for a, b in zip(fused, _trained_weights(for_loop)):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_parameter_groups_given_as_generators_are_all_optimized():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 1))
    groups = [{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": 0.5}]
    optimizer = build_optimizer("adam", groups, lr=0.1)
    assert [len(group["params"]) for group in optimizer.param_groups] == [2, 2]
    assert optimizer.param_groups[1]["lr"] == 0.5 and optimizer.defaults["fused"] is True
