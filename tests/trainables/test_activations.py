"""Each named activation computes the documented g(z)."""

import pytest
import torch
from torch import nn

from sweepforge.trainables import ACTIVATIONS, ConfigError
from sweepforge.trainables.components import make_activation

Z = torch.linspace(-3, 3, 13)

EXPECTED = {
    "sigmoid": 1 / (1 + torch.exp(-Z)),
    "tanh": torch.tanh(Z),
    "relu": Z.clamp(min=0),
    "leaky_relu": torch.where(Z > 0, Z, 0.01 * Z),
    "prelu": torch.where(Z > 0, Z, 0.25 * Z),
    "elu": torch.where(Z > 0, Z, torch.exp(Z) - 1),
    "softplus": torch.log1p(torch.exp(Z)),
    "identity": Z,
}


def test_every_documented_activation_is_available():
    assert set(ACTIVATIONS) == set(EXPECTED)


@pytest.mark.parametrize("name", ACTIVATIONS)
def test_activation_values(name):
    module = make_activation(name)
    assert isinstance(module, nn.Module)
    torch.testing.assert_close(module(Z).detach(), EXPECTED[name])


def test_prelu_slope_is_learned_and_not_shared():
    a, b = make_activation("prelu"), make_activation("prelu")
    assert [p.requires_grad for p in a.parameters()] == [True]
    assert a.weight is not b.weight


def test_unknown_activation():
    with pytest.raises(ConfigError, match="activation='gelu' is not allowed; choose one of: sigm"):
        make_activation("gelu")
