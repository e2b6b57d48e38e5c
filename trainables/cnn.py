"""The ``cnn`` trainable: conv blocks (conv 3x3 -> batch norm -> activation -> max-pool), then
dropout and a linear head.

Every block pads its 3x3 convolution (the image keeps its size) and halves it with a 2x2
max-pool; block ``i`` has ``width * 2**i`` channels. Rows arrive flat and are folded into
``Dataset.image_shape`` images inside the model. Order: config -> model -> train function.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("cnn").train({"epochs": 1}, load_dataset("digits"), seed=0)
    >>> result["epoch"], result["val_accuracy"] > 0.5
    (1, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ._errors import ConfigError
from ._fields import check_choice, check_range, coerce_instance
from ._images import train_image_classifier
from ._loop import CLASSIFIER_METRICS
from .checkpoint import Checkpointer
from .components import (
    ACTIVATIONS,
    INITIALIZERS,
    check_optimizer_args,
    make_activation,
)
from .datasets import Dataset, ImageShape
from .image_datasets import require_image_shape
from .registry import Report, register_trainable

MAX_DEPTH = 4
DATASETS = ("digits", "mnist")


@dataclass(frozen=True)
class CNNConfig:
    """The searchable knobs of the CNN classifier; each field is one search-space parameter.

    Values are coerced and checked on construction like :class:`MLPConfig`. Whether ``depth``
    fits the images is checked when the model is built: each block halves the image, so 8x8
    digits allow at most 3 blocks and 28x28 MNIST 4.

    Example:
        >>> CNNConfig(depth="3", batch_norm=False).depth
        3
        >>> CNNConfig(depth=5)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: depth=5 is out of range; it must satisfy 1 <= depth <= 4
    """

    lr: float = 3e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 64  # images per mini-batch, >= 1
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    dropout: float = 0.25  # drop rate before the linear head, 0 <= d < 1
    init: str = "he_uniform"  # conv/linear weight initializer, one of INITIALIZERS
    depth: int = 3  # conv blocks, 1..4, and at most log2(min(H, W)) for the images
    width: int = 8  # channels of the first block (doubling per block), >= 1
    activation: str = "relu"  # activation after each conv (and batch norm), one of ACTIVATIONS
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    batch_norm: bool = True  # batch norm between each conv and its activation
    epochs: int = 6  # passes over the training split, >= 1
    amp: bool = False  # mixed precision (float16 on CUDA, bfloat16 on the CPU)

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_range("lr", self.lr, low=0, low_open=True)
        check_range("batch_size", self.batch_size, low=1)
        check_range("momentum", self.momentum, low=0, high=1, high_open=True)
        check_range("dropout", self.dropout, low=0, high=1, high_open=True)
        check_choice("init", self.init, INITIALIZERS)
        check_range("depth", self.depth, low=1, high=MAX_DEPTH)
        check_range("width", self.width, low=1)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_range("weight_decay", self.weight_decay, low=0)
        check_range("epochs", self.epochs, low=1)
        check_optimizer_args(self.optimizer, self.lr, self.weight_decay, self.momentum)


def max_depth(image_shape: ImageShape) -> int:
    """The most conv blocks (each halving the image) that leave at least one pixel.

    Example:
        >>> max_depth((1, 8, 8)), max_depth((1, 28, 28))
        (3, 4)
    """
    return min(MAX_DEPTH, min(image_shape[1:]).bit_length() - 1)


class CNN(nn.Module):
    """``depth`` conv blocks, then flatten -> dropout -> Linear to ``n_classes`` logits.

    Takes flat rows ``(n, C * H * W)`` and folds them into ``image_shape`` ``(C, H, W)``.

    Raises:
        ConfigError: ``depth`` too large for the images (field ``depth``).

    Example:
        >>> CNN((1, 28, 28), 10, depth=2, width=8)(torch.zeros(5, 784)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        image_shape: ImageShape,
        n_classes: int,
        *,
        depth: int = 3,
        width: int = 8,
        activation: str = "relu",
        batch_norm: bool = True,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        channels, height, width_px = image_shape
        if not 1 <= depth <= max_depth(image_shape):
            raise ConfigError(
                f"depth={depth!r} is too large for {height}x{width_px} images: each conv block "
                f"halves them, so it must satisfy 1 <= depth <= {max_depth(image_shape)}",
                field="depth",
            )
        layers: list[nn.Module] = [nn.Unflatten(1, tuple(image_shape))]
        for block in range(depth):
            out = width * 2**block
            layers.append(nn.Conv2d(channels, out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                layers.append(nn.BatchNorm2d(out))
            layers += [make_activation(activation), nn.MaxPool2d(2)]
            channels = out
        self.features = nn.Sequential(*layers)
        n_features = channels * (height >> depth) * (width_px >> depth)
        head: list[nn.Module] = [nn.Flatten()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(n_features, n_classes))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of flat image rows ``x``."""
        return self.head(self.features(x))


def build_cnn(config: CNNConfig, image_shape: ImageShape, n_classes: int) -> CNN:
    """The :class:`CNN` that ``config`` describes for ``image_shape`` images, not yet initialized
    with ``config.init`` (the training loop does that).

    Example:
        >>> build_cnn(CNNConfig(depth=2, width=4), (1, 8, 8), 10)(torch.zeros(3, 64)).shape
        torch.Size([3, 10])
    """
    return CNN(
        image_shape,
        n_classes,
        depth=config.depth,
        width=config.width,
        activation=config.activation,
        batch_norm=config.batch_norm,
        dropout=config.dropout,
    )


def check_cnn_data(config: CNNConfig, data: Dataset) -> None:
    """Raise :class:`ConfigError` unless ``data`` holds images big enough for ``config.depth``."""
    image_shape = require_image_shape(data, "cnn", DATASETS)
    deepest = max_depth(image_shape)
    if config.depth > deepest:
        raise ConfigError(
            f"depth={config.depth} is too large for {image_shape[1]}x{image_shape[2]} images "
            f"(dataset {data.name!r}): each conv block halves them, so it must satisfy "
            f"1 <= depth <= {deepest}",
            field="depth",
        )


@register_trainable(
    "cnn",
    config_cls=CNNConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=DATASETS,
    task="classification",
    data_check=check_cnn_data,
)
def train_cnn(
    config: CNNConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train a :class:`CNN` on an image dataset and return the final metrics.

    Pixels are standardized per channel with training-split statistics. Reports, divergence and
    reproducibility behave as for :func:`train_mlp`.

    Raises:
        ConfigError: ``data`` has no ``image_shape`` (field ``dataset``), or ``depth`` is too
            large for its images (field ``depth``).

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_cnn(CNNConfig(epochs=1, width=4), load_dataset("digits"))["epoch"]
        1
    """
    return train_image_classifier(
        lambda image_shape, n_classes: build_cnn(config, image_shape, n_classes),
        config,
        data,
        report,
        device=device,
        seed=seed,
        checkpoint=checkpoint,
        trainable="cnn",
        datasets=DATASETS,
    )
