"""Gradient clipping by L2 norm, attached to an optimizer so any training loop gets it.

Example:
    >>> import torch
    >>> from torch import nn
    >>> layer = nn.Linear(2, 1)
    >>> opt = torch.optim.SGD(layer.parameters(), lr=1.0)
    >>> clip_gradients_before_step(opt, layer, 0.5)
    >>> (layer(torch.full((1, 2), 100.0)).sum()).backward()
    >>> opt.step()
    >>> round(float(torch.cat([p.grad.flatten() for p in layer.parameters()]).norm()), 3)
    0.5
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


def clip_gradients_before_step(
    optimizer: torch.optim.Optimizer, model: nn.Module, max_norm: float
) -> None:
    """Make every ``optimizer.step()`` first scale ``model``'s gradients to L2 norm <= ``max_norm``.

    The norm is that of all gradients taken as one vector (``clip_grad_norm_``), so the
    direction of the step is kept. It is a step pre-hook, so it runs inside ``step``: after a
    gradient scaler has unscaled the gradients (mixed precision), and in whatever loop calls
    ``step``.
    """
    if not max_norm > 0:
        raise ValueError(f"max_norm={max_norm!r} must be > 0")
    params = [p for p in model.parameters() if p.requires_grad]

    def clip(*_: Any) -> None:
        nn.utils.clip_grad_norm_(params, max_norm)

    optimizer.register_step_pre_hook(clip)
