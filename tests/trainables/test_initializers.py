"""Each named initializer draws weights with the documented statistics; biases start at zero."""

import math

import pytest
import torch
from torch import nn

from sweepforge.trainables import INITIALIZERS, ConfigError
from sweepforge.trainables.components import build_optimizer, initialize, make_activation

FAN_IN, FAN_OUT = 400, 200

# name -> (expected std, uniform bound or None)
EXPECTED = {
    "xavier_uniform": (math.sqrt(2 / (FAN_IN + FAN_OUT)), math.sqrt(6 / (FAN_IN + FAN_OUT))),
    "xavier_normal": (math.sqrt(2 / (FAN_IN + FAN_OUT)), None),
    "he_uniform": (math.sqrt(2 / FAN_IN), math.sqrt(6 / FAN_IN)),
    "he_normal": (math.sqrt(2 / FAN_IN), None),
    "lecun_uniform": (math.sqrt(1 / FAN_IN), math.sqrt(3 / FAN_IN)),
    "lecun_normal": (math.sqrt(1 / FAN_IN), None),
    "normal": (0.01, None),
}


def _initialized(name: str) -> nn.Linear:
    torch.manual_seed(0)
    layer = nn.Linear(FAN_IN, FAN_OUT)
    initialize(layer, name)
    return layer


def test_every_documented_initializer_is_available():
    assert set(INITIALIZERS) == set(EXPECTED) | {"zeros"}


@pytest.mark.parametrize("name", list(EXPECTED))
def test_weight_statistics_match_the_formula(name):
    layer = _initialized(name)
    weight = layer.weight.detach()
    std, bound = EXPECTED[name]
    assert abs(float(weight.mean())) < 0.05 * std
    assert float(weight.std()) == pytest.approx(std, rel=0.03)
    if bound is not None:
        assert float(weight.abs().max()) <= bound
        assert float(weight.abs().max()) > 0.99 * bound
    assert float(layer.bias.detach().abs().max()) == 0.0


def test_normal_takes_a_custom_std():
    layer = nn.Linear(FAN_IN, FAN_OUT)
    initialize(layer, "normal", std=0.1)
    assert float(layer.weight.detach().std()) == pytest.approx(0.1, rel=0.03)


def test_zeros_keeps_hidden_units_identical_while_training():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(5, 8), make_activation("sigmoid"), nn.Linear(8, 3))
    initialize(model, "zeros")
    optimizer = build_optimizer("sgd", model.parameters(), lr=0.5)
    x, y = torch.randn(32, 5), torch.randint(0, 3, (32,))
    for _ in range(5):
        optimizer.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        optimizer.step()
    hidden_in, hidden_out = model[0].weight.detach(), model[2].weight.detach()
    assert float(hidden_out.abs().sum()) > 0  # it did learn something ...
    assert torch.equal(hidden_in, hidden_in[:1].expand_as(hidden_in))  # ... but symmetrically
    assert torch.equal(hidden_out, hidden_out[:, :1].expand_as(hidden_out))


def test_conv_weights_are_initialized_and_prelu_slopes_kept():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), make_activation("prelu"))
    initialize(model, "zeros")
    assert float(model[0].weight.detach().abs().sum()) == 0.0
    assert float(model[1].weight.detach()) == 0.25


def test_unknown_initializer_and_bad_std():
    with pytest.raises(ConfigError, match=r"init='he_norm' is not allowed; .*'he_normal'"):
        initialize(nn.Linear(2, 2), "he_norm")
    with pytest.raises(ConfigError, match=r"std=0 is out of range; it must satisfy std > 0"):
        initialize(nn.Linear(2, 2), "normal", std=0)
