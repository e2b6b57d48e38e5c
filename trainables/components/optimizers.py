"""Named optimizers from the course notes, built on ``torch.optim``.

============ ================================================================
name         torch optimizer
============ ================================================================
sgd          SGD, no momentum
momentum     SGD with heavy-ball momentum ``momentum`` (beta, ~0.9)
nesterov     SGD with Nesterov accelerated gradient, momentum ``momentum`` > 0
adagrad      Adagrad
adadelta     Adadelta (rho 0.9; note torch's usual lr for it is 1.0)
rmsprop      RMSprop (alpha 0.99, no momentum)
adam         Adam (betas 0.9, 0.999, bias-corrected); weight decay is an L2 term
adamw        AdamW: Adam with decoupled weight decay
============ ================================================================

``lr`` and ``weight_decay`` are passed to every optimizer as given; ``momentum`` is used only by
the optimizers in :data:`MOMENTUM_OPTIMIZERS`.

Where torch has a fused kernel for an optimizer on the parameters' device (:data:`FUSED_DEVICES`),
it is used: one kernel updates every parameter, where the default for-loop runs about ten small
ops per parameter tensor. On a CPU that makes an Adam step over the 270k weights of a
784-256-256-10 MLP about 2.4x faster (see BENCHMARKS.md). The result agrees with the for-loop
to rounding and is just as deterministic.

Example:
    >>> from torch import nn
    >>> opt = build_optimizer("nesterov", nn.Linear(3, 1).parameters(), lr=0.1, momentum=0.9)
    >>> type(opt).__name__, opt.defaults["nesterov"]
    ('SGD', True)
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from .._errors import ConfigError
from .._fields import check_choice, check_range

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "adadelta", "rmsprop", "adam", "adamw")

MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
"""The optimizers whose ``momentum`` knob matters (a conditional parameter in a search space)."""

FUSED_DEVICES = {
    "sgd": ("cpu", "cuda"),
    "momentum": ("cpu", "cuda"),
    "nesterov": ("cpu", "cuda"),
    "adagrad": ("cpu",),
    "adam": ("cpu", "cuda"),
    "adamw": ("cpu", "cuda"),
}
"""The device types on which each optimizer runs torch's fused kernel (``fused=True``)."""

Params = Iterable[torch.nn.Parameter] | Iterable[dict]


def build_optimizer(
    name: str,
    params: Params,
    lr: float,
    weight_decay: float = 0.0,
    momentum: float = 0.9,
) -> torch.optim.Optimizer:
    """Build optimizer ``name`` over ``params``.

    Args:
        name: one of :data:`OPTIMIZERS`.
        params: model parameters (or parameter groups).
        lr: learning rate, ``lr > 0``.
        weight_decay: L2 penalty (decoupled for ``adamw``), ``weight_decay >= 0``.
        momentum: beta for ``momentum`` / ``nesterov``, ``0 <= momentum < 1`` (``> 0`` for
            ``nesterov``); ignored by the other optimizers.

    Raises:
        ConfigError: an unknown name or a value out of range.

    Example:
        >>> from torch import nn
        >>> type(build_optimizer("adamw", nn.Linear(3, 1).parameters(), lr=1e-3)).__name__
        'AdamW'
    """
    check_optimizer_args(name, lr, weight_decay, momentum)
    params = [_listed(item) for item in params]
    common = {"lr": lr, "weight_decay": weight_decay}
    if _can_fuse(name, params):
        common["fused"] = True
    if name == "sgd":
        return torch.optim.SGD(params, momentum=0.0, **common)
    if name == "momentum":
        return torch.optim.SGD(params, momentum=momentum, **common)
    if name == "nesterov":
        return torch.optim.SGD(params, momentum=momentum, nesterov=True, **common)
    if name == "adagrad":
        return torch.optim.Adagrad(params, **common)
    if name == "adadelta":
        return torch.optim.Adadelta(params, **common)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, **common)
    if name == "adam":
        return torch.optim.Adam(params, **common)
    return torch.optim.AdamW(params, **common)


def _listed(item: torch.nn.Parameter | dict) -> torch.nn.Parameter | dict:
    """A parameter group with its ``params`` as a list (they are read twice), or the parameter."""
    if not isinstance(item, dict):
        return item
    group = item["params"]
    return {**item, "params": [group] if isinstance(group, torch.Tensor) else list(group)}


def _can_fuse(name: str, params: list) -> bool:
    """Whether every parameter is a floating-point tensor on a device with ``name``'s kernel."""
    tensors = [p for item in params for p in (item["params"] if isinstance(item, dict) else [item])]
    devices = FUSED_DEVICES.get(name, ())
    return bool(tensors) and all(
        t.device.type in devices and torch.is_floating_point(t) for t in tensors
    )


def check_optimizer_args(name: str, lr: float, weight_decay: float, momentum: float) -> None:
    """Raise :class:`ConfigError` unless the optimizer knobs are allowed together.

    Example:
        >>> check_optimizer_args("nesterov", 0.1, 0.0, 0.0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: momentum=0.0 is out of range for optimizer='nesterov'...
    """
    check_choice("optimizer", name, OPTIMIZERS)
    check_range("lr", lr, low=0, low_open=True)
    check_range("weight_decay", weight_decay, low=0)
    check_range("momentum", momentum, low=0, high=1, high_open=True)
    if name == "nesterov" and momentum == 0:
        raise ConfigError(
            f"momentum={momentum!r} is out of range for optimizer='nesterov'; "
            "it must satisfy 0 < momentum < 1",
            field="momentum",
        )
