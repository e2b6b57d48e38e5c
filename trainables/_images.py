"""Pieces shared by the image families (``cnn``, ``resnet``): per-channel pixel scaling.

Per-pixel standardization (what the MLP uses) would blow up rarely-inked border pixels and
break the translation symmetry a convolution relies on, so images are scaled per channel: one
mean and one standard deviation over every training pixel of that channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch

from ._loop import TensorSplits, check_seed, classification, resolve_device, train_model
from .checkpoint import Checkpointer
from .components import initialize
from .datasets import Dataset, ImageShape
from .image_datasets import require_image_shape
from .registry import Report


def channel_stats(X: np.ndarray, image_shape: ImageShape) -> tuple[np.ndarray, np.ndarray]:
    """Return per-channel ``(mean, std)`` of flat image rows ``X``, each of shape ``(C,)``.

    A channel with no spread gets std 1, so scaling leaves it centred but not divided by zero.

    Example:
        >>> X = np.array([[0.0, 2.0, 0.0, 2.0]], dtype=np.float32)
        >>> [a.tolist() for a in channel_stats(X, (1, 2, 2))]
        [[1.0], [1.0]]
    """
    channels = X.reshape(len(X), image_shape[0], -1).astype(np.float64)
    mean, std = channels.mean(axis=(0, 2)), channels.std(axis=(0, 2))
    return mean, np.where(std > 0, std, 1.0)


def pixel_scaling(data: Dataset, image_shape: ImageShape) -> tuple[np.ndarray, np.ndarray]:
    """Per-column ``float32`` ``(offset, scale)`` of flat image rows: each pixel gets its
    channel's training-split mean and std, and :func:`image_splits` stores
    ``(X - offset) / scale``.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> offset, scale = pixel_scaling(load_dataset("digits"), (1, 8, 8))
        >>> offset.shape, offset.dtype, bool((offset == offset[0]).all())
        ((64,), dtype('float32'), True)
    """
    mean, std = channel_stats(data.X_train, image_shape)
    pixels = image_shape[1] * image_shape[2]
    return np.repeat(mean, pixels).astype(np.float32), np.repeat(std, pixels).astype(np.float32)


def image_splits(data: Dataset, image_shape: ImageShape, device: torch.device) -> TensorSplits:
    """Scale every split per channel with training-split statistics; move it to ``device``.

    Rows stay flat (``(n, C * H * W)``); the models fold them into images themselves.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> splits = image_splits(load_dataset("digits"), (1, 8, 8), torch.device("cpu"))
        >>> splits.x_train.shape, round(float(splits.x_train.mean()), 4)
        (torch.Size([1077, 64]), 0.0)
    """
    offset, scale = pixel_scaling(data, image_shape)
    parts = []
    for part in ("train", "val", "test"):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        X = np.ascontiguousarray((X - offset) / scale, dtype=np.float32)
        parts += [torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)]
    return TensorSplits(*parts)


def train_image_classifier(
    build_model: Callable[[ImageShape, int], torch.nn.Module],
    config: Any,
    data: Dataset,
    report: Report | None,
    *,
    device: str | torch.device,
    seed: int,
    trainable: str,
    datasets: tuple[str, ...],
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """The training shared by the image families: ``build_model(image_shape, n_classes)`` is
    initialised with ``config.init``, optimised with ``config.optimizer`` and trained by the
    shared loop on per-channel standardised pixels."""
    torch_device = resolve_device(device)
    check_seed(seed)
    image_shape = require_image_shape(data, trainable, datasets)

    def build() -> torch.nn.Module:
        model = build_model(image_shape, data.n_classes)
        initialize(model, config.init)
        return model

    return train_model(
        build,
        config,
        image_splits(data, image_shape, torch_device),
        classification(),
        device=torch_device,
        seed=seed,
        report=report,
        checkpoint=checkpoint,
    )
