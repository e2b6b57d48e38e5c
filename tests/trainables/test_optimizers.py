"""Each named optimizer builds on torch.optim and takes a step; knobs are checked."""

import pytest
import torch
from torch import nn

from sweepforge.trainables import MOMENTUM_OPTIMIZERS, OPTIMIZERS, ConfigError
from sweepforge.trainables.components import build_optimizer

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
        ("adamx", {}, r"optimizer='adamx' is not allowed; choose one of: sgd, momentum, nesterov, "
                      r"adagrad, adadelta, rmsprop, adam, adamw"),
        ("adam", {"lr": 0.0}, r"lr=0.0 is out of range; it must satisfy lr > 0"),
        ("adam", {"weight_decay": -1.0}, r"weight_decay=-1.0 is out of range; .* >= 0"),
        ("momentum", {"momentum": 1.0}, r"momentum=1.0 is out of range; .* 0 <= momentum < 1"),
        ("nesterov", {"momentum": 0.0}, r"momentum=0.0 is out of range for optimizer='nesterov'"),
    ],
)
def test_bad_knobs(name, kwargs, match):
    with pytest.raises(ConfigError, match=match):
        build_optimizer(name, nn.Linear(2, 1).parameters(), **{"lr": 0.1, **kwargs})
