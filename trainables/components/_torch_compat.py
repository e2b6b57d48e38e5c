"""Every private torch API the trainables use, in one place.

Each is something public torch does not offer: :class:`~.dense.Dense` sends large CPU float32
products to oneDNN, which torch reaches only through an op it registers for its own compiler,
and steps aside inside ``vmap`` / ``torch.func`` transforms, which say they are active only
through a private binding. Both exist since torch 2.0 and were checked on 2.13.0;
``tests/trainables/test_torch_compat.py`` fails, naming the torch version, when either moves
or changes. A missing op here is not fatal: :func:`onednn_linear_problem` says why, and
``Dense`` falls back to :func:`torch.nn.functional.linear`.

Example:
    >>> import torch
    >>> x, w, b = torch.ones(2, 3), torch.ones(4, 3), torch.zeros(4)
    >>> onednn_linear(x, w, b).tolist() if has_onednn_linear() else [[3.0] * 4] * 2
    [[3.0, 3.0, 3.0, 3.0], [3.0, 3.0, 3.0, 3.0]]
"""

from __future__ import annotations

from typing import Any

import torch

__all__ = [
    "ONEDNN_LINEAR_OP",
    "functorch_transforms_active",
    "has_onednn_linear",
    "onednn_linear",
]

ONEDNN_LINEAR_OP = "torch.ops.mkldnn._linear_pointwise"
"""The private op :func:`onednn_linear` calls, as named in messages."""


def _linear_pointwise() -> Any:
    # Private: the oneDNN linear op torch registers for Inductor's CPU fusions (torch >= 2.0),
    # schema `_linear_pointwise(Tensor X, Tensor W, Tensor? B, str attr, Scalar?[] scalars,
    # str? algorithm) -> Tensor`, computing X @ W.T + B then the pointwise `attr`.
    return getattr(getattr(torch.ops, "mkldnn", None), "_linear_pointwise", None)


def has_onednn_linear() -> bool:
    """Whether this torch build has oneDNN and its linear op (it may still compute wrongly:
    :func:`~.dense._onednn_problem` checks the numbers before first use)."""
    return _linear_pointwise() is not None and torch.backends.mkldnn.is_available()


def onednn_linear(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """``x @ weight.T + bias`` in oneDNN: 2-D float32 CPU tensors, ``weight`` ``(out, in)``,
    transposed views accepted (oneDNN reads them through their strides)."""
    # Private op (see _linear_pointwise): relies on attr "none" meaning no pointwise op after
    # the product, with no scalars and no algorithm.
    return torch.ops.mkldnn._linear_pointwise(x, weight, bias, "none", [], "")


def functorch_transforms_active() -> bool:
    """Whether a ``vmap`` / ``torch.func`` transform is active (False where torch cannot say)."""
    # Private: torch._C._are_functorch_transforms_active, the binding torch.func's own Python
    # code asks (torch >= 2.0); no public function says whether a transform is running.
    active = getattr(torch._C, "_are_functorch_transforms_active", None)
    return bool(active()) if active is not None else False
