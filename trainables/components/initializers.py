"""Named weight initializers from the course notes, applied to every Linear/Conv weight.

Biases are set to zero. With ``fan_in`` / ``fan_out`` the weight's input / output size:

=============== ==============================================================
name            weights drawn from
=============== ==============================================================
xavier_uniform  U(-a, a), a = sqrt(6 / (fan_in + fan_out))      (Glorot)
xavier_normal   N(0, s^2), s = sqrt(2 / (fan_in + fan_out))     (Glorot)
he_uniform      U(-a, a), a = sqrt(6 / fan_in)                  (He/Kaiming, for ReLU)
he_normal       N(0, s^2), s = sqrt(2 / fan_in)                 (He/Kaiming, for ReLU)
lecun_uniform   U(-a, a), a = sqrt(3 / fan_in)                  (LeCun: variance 1/fan_in)
lecun_normal    N(0, s^2), s = sqrt(1 / fan_in)                 (LeCun, untruncated)
normal          N(0, s^2), s = 0.01 by default                  (small Gaussian)
zeros           0 everywhere: the documented failure case, hidden units stay identical
=============== ==============================================================

``lecun_uniform`` uses the standard bound sqrt(3 / fan_in) (LeCun et al. 1998, Keras), so both
LeCun variants have variance 1 / fan_in. The course notes' ±1/sqrt(fan_in) has a third of that
variance (it is close to PyTorch's default Linear init).

Example:
    >>> from torch import nn
    >>> layer = nn.Linear(64, 32)
    >>> initialize(layer, "zeros")
    >>> float(layer.weight.detach().abs().sum())
    0.0
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import nn

from .._errors import ConfigError
from .._fields import check_choice

INITIALIZERS = (
    "xavier_uniform",
    "xavier_normal",
    "he_uniform",
    "he_normal",
    "lecun_uniform",
    "lecun_normal",
    "normal",
    "zeros",
)

_WEIGHTED = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def _fan_in(weight: torch.Tensor) -> int:
    return nn.init._calculate_fan_in_and_fan_out(weight)[0]


def _lecun_uniform(weight: torch.Tensor) -> None:
    bound = math.sqrt(3.0 / _fan_in(weight))
    nn.init.uniform_(weight, -bound, bound)


def _lecun_normal(weight: torch.Tensor) -> None:
    nn.init.normal_(weight, 0.0, math.sqrt(1.0 / _fan_in(weight)))


def weight_initializer(name: str, *, std: float = 0.01) -> Callable[[torch.Tensor], None]:
    """Return the in-place function that fills one weight tensor for initializer ``name``.

    ``std`` is used by ``"normal"`` only.

    Example:
        >>> import torch
        >>> w = torch.empty(100, 50)
        >>> weight_initializer("normal", std=0.5)(w)
        >>> 0.4 < float(w.std()) < 0.6
        True
    """
    check_choice("init", name, INITIALIZERS)
    if not std > 0:
        raise ConfigError(f"std={std!r} is out of range; it must satisfy std > 0", field="std")
    table: dict[str, Callable[[torch.Tensor], None]] = {
        "xavier_uniform": nn.init.xavier_uniform_,
        "xavier_normal": nn.init.xavier_normal_,
        "he_uniform": lambda w: nn.init.kaiming_uniform_(w, mode="fan_in", nonlinearity="relu"),
        "he_normal": lambda w: nn.init.kaiming_normal_(w, mode="fan_in", nonlinearity="relu"),
        "lecun_uniform": _lecun_uniform,
        "lecun_normal": _lecun_normal,
        "normal": lambda w: nn.init.normal_(w, 0.0, std),
        "zeros": nn.init.zeros_,
    }
    fill = table[name]

    def init(weight: torch.Tensor) -> None:
        with torch.no_grad():
            fill(weight)

    return init


def initialize(model: nn.Module, name: str, *, std: float = 0.01) -> None:
    """Initialize every Linear/Conv weight of ``model`` with ``name`` and zero their biases.

    Other parameters (e.g. PReLU slopes) keep their own defaults. Draws use torch's global RNG,
    so seed it (``torch.manual_seed``) for a reproducible model.

    Example:
        >>> from torch import nn
        >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 2))
        >>> initialize(model, "he_normal")
        >>> float(model[0].bias.detach().abs().sum())
        0.0
    """
    fill = weight_initializer(name, std=std)
    for module in model.modules():
        if isinstance(module, _WEIGHTED):
            fill(module.weight)
            if module.bias is not None:
                with torch.no_grad():
                    module.bias.zero_()
