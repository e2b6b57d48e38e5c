"""The training loop shared by classifier families: device, seeding, tensors, epochs, report.

Kept free of any search or tracking library: progress leaves only through ``report``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from ._errors import ConfigError
from ._fields import check_choice
from .datasets import Dataset
from .preprocessing import MinMaxScaler, Standardizer
from .registry import Report

CLASSIFIER_METRIC_NAMES = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_accuracy",
    "test_loss",
    "test_accuracy",
)
CLASSIFIER_METRICS = frozenset(CLASSIFIER_METRIC_NAMES)


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"cpu"`` / ``"cuda:0"`` / a ``torch.device`` into a usable device, or raise.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"device={device!r} is not a valid torch device; use e.g. 'cpu' or 'cuda:0'",
            field="device",
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={device!r} is not available here: torch.cuda.is_available() is False",
                field="device",
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device={device!r} does not exist; this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)",
                field="device",
            )
    return resolved


def check_seed(seed: int) -> int:
    """Return ``seed`` if it is a non-negative int, else raise :class:`ConfigError`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} is not allowed; it must be an int >= 0", field="seed")
    return seed


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's RNGs for ``device`` inside the block and restore the caller's state after."""
    devices: list[int] = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(devices[0]):
                torch.cuda.manual_seed(seed)
        yield


@dataclass(frozen=True)
class TensorSplits:
    """The three splits of a :class:`Dataset` as tensors on one device, inputs scaled."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_val: torch.Tensor
    y_val: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor

    @classmethod
    def from_dataset(
        cls, data: Dataset, device: torch.device, *, scaling: str = "standard"
    ) -> TensorSplits:
        """Scale inputs with training-split statistics (``"standard"``, ``"minmax"`` or
        ``"none"``) and move every split to ``device`` once."""
        check_choice("scaling", scaling, ("standard", "minmax", "none"))
        scaler = {"standard": Standardizer, "minmax": MinMaxScaler}.get(scaling)
        fitted = scaler().fit(data.X_train) if scaler is not None else None
        parts = []
        for part in ("train", "val", "test"):
            X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
            X = fitted.transform(X) if fitted is not None else X
            parts += [torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)]
        return cls(*parts)


def fit_classifier(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    splits: TensorSplits,
    *,
    epochs: int,
    batch_size: int,
    generator: torch.Generator,
    report: Report | None = None,
) -> dict[str, float]:
    """Train ``model`` with cross-entropy for ``epochs`` epochs, reporting after each one.

    Each report holds ``epoch`` (1-based), ``train_loss`` (mean over the epoch's batches, weighted
    by batch size), ``val_loss`` and ``val_accuracy``; the last one adds ``test_loss`` and
    ``test_accuracy``. A non-finite loss stops training: that epoch is reported, and returned,
    with every metric NaN. Returns the last report.
    """
    for epoch in range(1, epochs + 1):
        train_loss = _train_epoch(
            model, optimizer, splits.x_train, splits.y_train, batch_size, generator
        )
        val_loss, val_accuracy = evaluate_classifier(model, splits.x_val, splits.y_val)
        diverged = not (math.isfinite(train_loss) and math.isfinite(val_loss))
        if diverged:
            metrics = {name: math.nan for name in CLASSIFIER_METRIC_NAMES}
            metrics["epoch"] = epoch
        else:
            metrics = {
                "epoch": epoch,
                "train_loss": train_loss,
                "val_loss": val_loss,
                "val_accuracy": val_accuracy,
            }
            if epoch == epochs:
                test_loss, test_accuracy = evaluate_classifier(model, splits.x_test, splits.y_test)
                metrics.update(test_loss=test_loss, test_accuracy=test_accuracy)
        if report is not None:
            report(dict(metrics))
        if diverged or epoch == epochs:
            return metrics
    raise ValueError(f"epochs={epochs!r} is out of range; it must satisfy epochs >= 1")


def evaluate_classifier(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """Return ``(mean cross-entropy, accuracy)`` of ``model`` on ``x``, ``y`` in eval mode."""
    model.eval()
    with torch.inference_mode():
        logits = model(x)
        loss = F.cross_entropy(logits, y)
        accuracy = (logits.argmax(dim=1) == y).float().mean()
    return float(loss), float(accuracy)


def _train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    x: torch.Tensor,
    y: torch.Tensor,
    batch_size: int,
    generator: torch.Generator,
) -> float:
    model.train()
    n = len(y)
    # The permutation is drawn on the CPU so a seed gives the same batches on every device.
    order = torch.randperm(n, generator=generator).to(x.device)
    total = torch.zeros((), device=x.device)
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        loss = F.cross_entropy(model(x[index]), y[index])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total += loss.detach() * len(index)
    return float(total) / n
