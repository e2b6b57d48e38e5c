"""What a model is trained for and judged by: a batch loss, whole-split metrics and penalties.

An :class:`Objective` is the only task-specific input of the shared loop in ``_loop.py``:
classification (cross-entropy, accuracy) and regression (squared error, R², MAE) are two
instances, so a new task needs a new objective, not a new loop.

Example:
    >>> import torch
    >>> objective = classification()
    >>> objective.metrics(torch.tensor([[2.0, 0.0], [0.0, 2.0]]), torch.tensor([0, 0]))["accuracy"]
    0.5
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .costs import COST_METRIC_NAMES

LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
"""``loss(outputs, targets) -> scalar tensor``: the mean loss of a batch, differentiable."""

MetricsFn = Callable[[torch.Tensor, torch.Tensor], dict[str, float]]
"""``metrics(outputs, targets) -> {name: value}`` over a whole split, one entry per name."""

Penalty = Callable[[], torch.Tensor]
"""A regularization term of the current parameters, added to each batch loss before backward."""


@dataclass(frozen=True)
class Objective:
    """A batch loss to minimise plus the metrics that judge a whole split.

    Attributes:
        names: the keys ``metrics`` returns; the loop reports them as ``val_<name>`` every epoch
            and ``test_<name>`` after the last one (with the cost metrics of :mod:`.costs`).
            ``"loss"`` must be one of them.
        loss: the training loss of a batch, on the targets as the splits store them.
        metrics: metrics of a whole split; free to report in other units than ``loss`` uses
            (regression reports in the target's original units).
        loss_scale: the loop reports ``train_loss`` as the mean batch loss times this, so that
            ``train_loss`` and ``val_loss`` share units (``scale**2`` for a standardized target).

    Example:
        >>> sorted(regression().report_names())  # doctest: +NORMALIZE_WHITESPACE
        ['epoch', 'latency_ms', 'n_params', 'test_loss', 'test_mae', 'test_r2', 'train_loss',
         'train_s', 'val_loss', 'val_mae', 'val_r2']
    """

    names: tuple[str, ...]
    loss: LossFn
    metrics: MetricsFn
    loss_scale: float = 1.0

    def __post_init__(self) -> None:
        if "loss" not in self.names:
            raise ValueError(f"an objective must report 'loss'; got names {self.names}")

    def report_names(self) -> frozenset[str]:
        """Every key the loop may report for this objective (the trainable's ``metrics``):
        ``epoch``, ``train_loss``, ``val_<name>`` and ``test_<name>``, and the cost metrics
        (``n_params``, ``latency_ms``, ``train_s``) it adds after the last epoch."""
        split_names = {f"{split}_{name}" for split in ("val", "test") for name in self.names}
        return frozenset({"epoch", "train_loss", *split_names, *COST_METRIC_NAMES})


def classification() -> Objective:
    """Cross-entropy on logits ``(n, k)`` against labels ``0..k-1``; reports loss and accuracy.

    Example:
        >>> sorted(classification().names)
        ['accuracy', 'loss']
    """
    return Objective(("loss", "accuracy"), F.cross_entropy, _classification_metrics)


def regression(offset: float = 0.0, scale: float = 1.0) -> Objective:
    """Mean squared error on targets stored as ``(y - offset) / scale``.

    Training minimises the MSE of the stored (e.g. standardized) targets; ``loss`` (MSE), ``r2``
    and ``mae`` are reported in original units, ``y = stored * scale + offset``. Outputs may be
    ``(n,)`` or ``(n, 1)``.

    Example:
        >>> import torch
        >>> m = regression(offset=10.0, scale=2.0).metrics(torch.tensor([[1.0], [0.0]]),
        ...                                                torch.tensor([0.0, 0.0]))
        >>> m["loss"], m["mae"]
        (2.0, 1.0)
    """
    if not (math.isfinite(scale) and scale > 0 and math.isfinite(offset)):
        raise ValueError(f"regression needs a finite offset and scale > 0, got {offset=}, {scale=}")

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(outputs.reshape(targets.shape), targets)

    def metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        y = targets * scale + offset
        error = outputs.reshape(targets.shape) * scale + offset - y
        sse = float(error.square().sum())
        sst = float((y - y.mean()).square().sum())
        # A constant target has no variance to explain: R² is 1 for a perfect fit, else 0.
        r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)
        return {"loss": sse / len(y), "r2": r2, "mae": float(error.abs().mean())}

    return Objective(("loss", "r2", "mae"), loss, metrics, loss_scale=scale**2)


def l1_penalty(model: nn.Module, strength: float) -> Penalty | None:
    """``strength * Σ|w|`` over the weight matrices of ``model`` (biases are not penalised).

    Returns ``None`` for ``strength == 0`` so the loop skips the work. The penalty is added to
    each batch's mean loss; with plain SGD it pulls every weight toward 0 by ``lr * strength``
    per step (the lasso's subgradient; weights get small, not exactly 0).

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = layer.weight.fill_(-3.0)
        >>> l1_penalty(layer, 0.5)().item()
        3.0
    """
    if strength < 0 or not math.isfinite(strength):
        raise ValueError(f"l1 strength must be finite and >= 0, got {strength!r}")
    if strength == 0:
        return None
    weights = [p for p in model.parameters() if p.ndim >= 2]
    if not weights:
        return None

    def penalty() -> torch.Tensor:
        return strength * torch.stack([w.abs().sum() for w in weights]).sum()

    return penalty


def _classification_metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    loss = F.cross_entropy(logits, labels)
    accuracy = (logits.argmax(dim=1) == labels).float().mean()
    return {"loss": float(loss), "accuracy": float(accuracy)}
