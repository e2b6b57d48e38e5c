"""The one training loop every family shares: device, seeding, tensors, epochs, report.

The loop is task-agnostic: what is minimised and measured comes in as an
:class:`~._objectives.Objective` (a batch loss plus whole-split metrics), so classifiers and
regressors share one code path, with checkpoints and mixed precision.
Kept free of any search or tracking library: progress leaves only through ``report``.

Example:
    >>> from torch import nn
    >>> from sweepforge.trainables import load_dataset
    >>> splits = TensorSplits.from_dataset(load_dataset("iris"), torch.device("cpu"))
    >>> model = nn.Linear(4, 3)
    >>> result = fit(model, torch.optim.SGD(model.parameters(), lr=0.1), splits, classification(),
    ...              epochs=2, batch_size=16, generator=torch.Generator().manual_seed(0))
    >>> sorted(result)  # doctest: +NORMALIZE_WHITESPACE
    ['epoch', 'latency_ms', 'n_params', 'test_accuracy', 'test_loss', 'train_loss', 'train_s',
     'val_accuracy', 'val_loss']
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._errors import ConfigError
from ._fields import check_choice
from ._objectives import Objective, Penalty, classification, l1_penalty, regression
from ._runtime import check_seed, resolve_device, seeded
from .checkpoint import Checkpointer, capture, restore
from .components import build_optimizer, clip_gradients_before_step
from .costs import COST_METRIC_NAMES, COST_METRICS, TrainClock, model_costs
from .datasets import Dataset
from .preprocessing import MinMaxScaler, Standardizer
from .registry import Report

__all__ = [
    "CLASSIFIER_METRICS",
    "CLASSIFIER_METRIC_NAMES",
    "REGRESSOR_METRICS",
    "REGRESSOR_METRIC_NAMES",
    "Objective",
    "Penalty",
    "TensorSplits",
    "check_seed",
    "classification",
    "evaluate",
    "fit",
    "l1_penalty",
    "regression",
    "resolve_device",
    "seeded",
    "train_model",
]

CLASSIFIER_METRIC_NAMES = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
    *COST_METRIC_NAMES,
)
CLASSIFIER_METRICS = frozenset(CLASSIFIER_METRIC_NAMES)
REGRESSOR_METRIC_NAMES = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_r2",
    "val_mae",
    "test_loss",
    "test_r2",
    "test_mae",
    *COST_METRIC_NAMES,
)
REGRESSOR_METRICS = frozenset(REGRESSOR_METRIC_NAMES)


@dataclass(frozen=True)
class TensorSplits:
    """The three splits of a :class:`Dataset` as tensors on one device, inputs scaled.

    ``y_offset`` / ``y_scale`` record how a regression target was scaled (stored
    ``y = (original - y_offset) / y_scale``); they are 0 / 1 when it was not.
    """

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    y_offset: float = 0.0
    y_scale: float = 1.0

    @classmethod
    def from_dataset(
        cls,
        data: Dataset,
        device: torch.device,
        *,
        scaling: str = "standard",
        target_scaling: str = "none",
    ) -> TensorSplits:
        """Scale inputs with training-split statistics (``"standard"``, ``"minmax"`` or
        ``"none"``) and move every split to ``device`` once.

        ``target_scaling="standard"`` also standardizes a regression target with training-split
        statistics; pass ``regression(splits.y_offset, splits.y_scale)`` to report in its units.
        """
        check_choice("scaling", scaling, ("standard", "minmax", "none"))
        check_choice("target_scaling", target_scaling, ("standard", "none"))
        if target_scaling != "none" and data.task != "regression":
            raise ConfigError(
                f"target_scaling={target_scaling!r} needs a regression dataset, but "
                f"{data.name!r} is a {data.task} dataset; use target_scaling='none'",
                field="target_scaling",
            )
        fitted = input_scaler(data, scaling)
        y_offset, y_scale = target_standardization(data) if target_scaling == "standard" else (0.0, 1.0)
        parts = []
        for part in ("train", "val", "test"):
            X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
            X = fitted.transform(X) if fitted is not None else X
            if target_scaling == "standard":
                y = (y - y_offset) / y_scale
            parts += [torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)]
        return cls(*parts, y_offset=y_offset, y_scale=y_scale)


def input_scaler(data: Dataset, scaling: str) -> Standardizer | MinMaxScaler | None:
    """The input scaler ``scaling`` names, fitted on ``data``'s training split (``None`` for
    ``"none"``): what :meth:`TensorSplits.from_dataset` applies, and a predictor too."""
    scaler = {"standard": Standardizer, "minmax": MinMaxScaler}.get(scaling)
    return scaler().fit(data.X_train) if scaler is not None else None


def target_standardization(data: Dataset) -> tuple[float, float]:
    """``(offset, scale)`` that standardize a regression target with training-split
    statistics (``target_scaling="standard"``)."""
    target = Standardizer().fit(data.y_train.reshape(-1, 1))
    return float(target.offset_[0]), float(target.scale_[0])


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    splits: TensorSplits,
    objective: Objective,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    report: Report | None = None,
    penalty: Penalty | None = None,
    checkpoint: Checkpointer | None = None,
    amp: bool = False,
) -> dict[str, float]:
    """Train ``model`` on ``objective`` for ``epochs`` epochs, reporting after each one.

    Each epoch shuffles the training split with ``generator`` (a CPU generator, so a seed gives
    the same batches on every device) and steps once per mini-batch on ``objective.loss`` plus
    ``penalty()`` when given. Each report holds ``epoch`` (1-based), ``train_loss`` (the mean
    batch loss over the epoch, weighted by batch size, times ``objective.loss_scale``; penalties
    not included) and ``val_<name>`` for each of ``objective.names``; the last one adds
    ``test_<name>`` and the cost metrics of :mod:`.costs` (``n_params``; ``latency_ms`` over the
    first ``batch_size`` validation rows; ``train_s``, the seconds of the epochs' training passes
    and validation evaluations). A non-finite training loss or validation metric stops training:
    that epoch is reported, and returned, with every metric but ``epoch`` NaN. Returns the last
    report.

    With ``checkpoint``, a saved state is loaded first (training goes on after its epoch, and
    ``train_s`` from the seconds it recorded; a run already past ``epochs`` returns the saved
    metrics, with the costs measured now if they lack them) and the state is saved after every
    epoch, before ``report``. ``amp=True`` runs the forward pass in mixed precision: float16 with
    gradient scaling on CUDA, bfloat16 on the CPU.

    Raises:
        ValueError: ``epochs < 1``.
    """
    if epochs < 1:
        raise ValueError(f"epochs={epochs!r} is out of range; it must satisfy epochs >= 1")
    device = splits.x_train.device
    precision = _Precision(device, amp)
    metrics: dict[str, float] = {}
    first = 1
    clock = TrainClock(device=device)
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        first = restore(state, model=model, optimizer=optimizer, generator=generator, device=device) + 1
        precision.load_state_dict(state["extra"].get("grad_scaler"))
        clock.seconds = float(state["extra"].get("train_s", 0.0))
        metrics = dict(state["metrics"])
    for epoch in range(first, epochs + 1):
        with clock:
            train_loss = objective.loss_scale * _train_epoch(
                model, optimizer, splits, objective, batch_size, generator, penalty, precision
            )
            val = evaluate(model, splits.x_val, splits.y_val, objective)
        if not all(math.isfinite(value) for value in (train_loss, *val.values())):
            metrics = {name: math.nan for name in objective.report_names()}
            metrics["epoch"] = epoch
            if report is not None:
                report(dict(metrics))
            return metrics
        metrics = {"epoch": epoch, "train_loss": train_loss}
        metrics.update({f"val_{name}": val[name] for name in objective.names})
        if epoch == epochs:
            test = evaluate(model, splits.x_test, splits.y_test, objective)
            metrics.update({f"test_{name}": test[name] for name in objective.names})
            metrics.update(_costs(model, splits, batch_size, clock))
        if checkpoint is not None:
            checkpoint.save(capture(
                epoch=epoch, model=model, optimizer=optimizer, generator=generator, device=device,
                metrics=metrics,
                extra={"grad_scaler": precision.state_dict(), "train_s": clock.seconds},
            ))
        if report is not None:
            report(dict(metrics))
    if first > epochs and metrics and not metrics.keys() >= COST_METRICS:
        # restored past its last epoch from a checkpoint that holds no costs (written before
        # they were measured, or at an epoch that was not its run's last): measure them now
        metrics.update(_costs(model, splits, batch_size, clock))
    return metrics


def _costs(
    model: nn.Module, splits: TensorSplits, batch_size: int, clock: TrainClock
) -> dict[str, float]:
    """The cost metrics of the trained ``model`` (:mod:`.costs`): latency over the first
    ``batch_size`` validation rows, ``train_s`` from ``clock``."""
    return model_costs(model, splits.x_val[:batch_size], train_s=clock.seconds)


def evaluate(
    model: nn.Module, x: torch.Tensor, y: torch.Tensor, objective: Objective
) -> dict[str, float]:
    """Return ``objective.metrics`` of ``model`` on ``x``, ``y``, computed in eval mode."""
    model.eval()
    with torch.inference_mode():
        return objective.metrics(model(x), y)


def train_model(
    build_model: Callable[[], nn.Module],
    config: Any,
    splits: TensorSplits,
    objective: Objective,
    *,
    device: torch.device,
    seed: int,
    report: Report | None = None,
    penalty: Callable[[nn.Module], Penalty] | None = None,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Seeded set-up and training shared by every family.

    Inside ``seeded(seed)``: ``build_model()`` (which also initializes the weights), the
    optimizer from ``config``'s ``optimizer``, ``lr``, ``weight_decay`` and ``momentum``, then
    :func:`fit` for ``config.epochs`` epochs of ``config.batch_size`` rows, shuffled from ``seed``.
    ``penalty(model)``, if given, adds a regularisation term (e.g. L1) to the loss. A config
    with an ``amp`` field turns mixed precision on, and one with ``grad_clip > 0`` clips the
    gradients to that L2 norm before each step; ``checkpoint`` resumes and saves (see
    :func:`fit`).
    """
    with seeded(seed, device):
        model = build_model().to(device)
        optimizer = build_optimizer(
            config.optimizer, model.parameters(), config.lr, config.weight_decay, config.momentum
        )
        if getattr(config, "grad_clip", 0) > 0:
            clip_gradients_before_step(optimizer, model, config.grad_clip)
        return fit(
            model,
            optimizer,
            splits,
            objective,
            epochs=config.epochs,
            batch_size=config.batch_size,
            generator=torch.Generator().manual_seed(seed),
            report=report,
            penalty=penalty(model) if penalty is not None else None,
            checkpoint=checkpoint,
            amp=bool(getattr(config, "amp", False)),
        )


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    splits: TensorSplits,
    objective: Objective,
    batch_size: int,
    generator: torch.Generator,
    penalty: Penalty | None,
    precision: _Precision,
) -> float:
    # Small steps are dominated by per-op overhead (BENCHMARKS.md), so each step does little
    # besides the model's own work: no host-device sync (the loss is summed on the device and
    # read once per epoch), batches gathered with index_select (several times faster than
    # x[index] on a CPU), gradients dropped directly (optimizer.zero_grad(set_to_none=True)
    # does the same with more per-call overhead).
    model.train()
    x, y = splits.x_train, splits.y_train
    n = len(y)
    params = [p for group in optimizer.param_groups for p in group["params"]]
    order = torch.randperm(n, generator=generator).to(x.device)
    total = torch.zeros((), device=x.device)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        with precision.autocast():
            loss = objective.loss(model(x.index_select(0, index)), y.index_select(0, index))
        for param in params:
            param.grad = None
        precision.step(loss + penalty() if penalty is not None else loss, optimizer)
        total.add_(loss.detach(), alpha=len(index))
    return float(total) / n


class _Precision:
    """Full precision, or mixed precision (``amp``): float16 autocast with a gradient scaler on
    CUDA, bfloat16 autocast on the CPU (no scaler needed: bfloat16 has float32's range)."""

    def __init__(self, device: torch.device, amp: bool):
        self.device_type = device.type
        self.enabled = amp
        self.dtype = torch.float16 if device.type == "cuda" else torch.bfloat16
        self.scaler = torch.amp.GradScaler("cuda") if amp and device.type == "cuda" else None

    def autocast(self) -> Any:
        if not self.enabled:
            return contextlib.nullcontext()
        return torch.autocast(self.device_type, dtype=self.dtype)

    def step(self, loss: torch.Tensor, optimizer: torch.optim.Optimizer) -> None:
        if self.scaler is None:
            loss.backward()
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        self.scaler.step(optimizer)
        self.scaler.update()

    def state_dict(self) -> dict[str, Any]:
        return self.scaler.state_dict() if self.scaler is not None else {}

    def load_state_dict(self, state: dict[str, Any] | None) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)
