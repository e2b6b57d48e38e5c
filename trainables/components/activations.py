"""Named activation functions from the course notes, each built as a fresh ``nn.Module``.

========== ===================================================
name       g(z)
========== ===================================================
sigmoid    1 / (1 + exp(-z))
tanh       tanh(z)
relu       max(0, z)
leaky_relu z if z > 0 else 0.01 z
prelu      z if z > 0 else a z, one learned slope a (starts at 0.25)
elu        z if z > 0 else exp(z) - 1
softplus   log(1 + exp(z))
identity   z
========== ===================================================

Example:
    >>> import torch
    >>> make_activation("leaky_relu")(torch.tensor([-1.0, 2.0])).tolist()
    [-0.009999999776482582, 2.0]
"""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from .._fields import check_choice

ACTIVATIONS = ("sigmoid", "tanh", "relu", "leaky_relu", "prelu", "elu", "softplus", "identity")

_FACTORIES: dict[str, Callable[[], nn.Module]] = {
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(negative_slope=0.01),
    "prelu": lambda: nn.PReLU(num_parameters=1, init=0.25),
    "elu": lambda: nn.ELU(alpha=1.0),
    "softplus": lambda: nn.Softplus(beta=1.0),
    "identity": nn.Identity,
}


def make_activation(name: str) -> nn.Module:
    """Build a new activation module; a new one per layer, so PReLU slopes are not shared.

    Example:
        >>> make_activation("prelu") is make_activation("prelu")
        False
    """
    check_choice("activation", name, ACTIVATIONS)
    return _FACTORIES[name]()
