"""The ``resnet`` trainable: a small ResNet / Wide ResNet (basic blocks with skip connections).

Layout: a stem (conv 3x3 with stride 2 -> batch norm -> activation; it halves the image early,
as ResNet's ImageNet stem does, which keeps CPU training cheap), ``depth`` basic blocks (conv-BN-act-conv-BN, plus an identity skip or a 1x1 projection
where the shape changes, then the activation), global average pooling, dropout and a linear
head. Blocks are spread over up to three stages of ``16, 32, 64`` channels times ``widen`` (the
Wide ResNet multiplier); each stage after the first starts with a stride-2 block. Rows arrive
flat and are folded into ``Dataset.image_shape`` images. Order: blocks -> config -> model ->
train function.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("resnet").train({"epochs": 1}, load_dataset("digits"), seed=0)
    >>> result["epoch"], result["val_accuracy"] > 0.5
    (1, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

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

MAX_DEPTH = 12
MAX_WIDEN = 8
STEM_CHANNELS = 16
STAGE_CHANNELS = (16, 32, 64)  # times widen
DATASETS = ("digits", "mnist")


def _conv3x3(in_channels: int, out_channels: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """``act(BN(conv(act(BN(conv(x))))) + skip(x))``; the skip is the identity unless the
    stride or channel count changes, then a 1x1 convolution with batch norm.

    Example:
        >>> BasicBlock(16, 32, stride=2)(torch.zeros(2, 16, 14, 14)).shape
        torch.Size([2, 32, 7, 7])
    """

    def __init__(
        self, in_channels: int, out_channels: int, *, stride: int = 1, activation: str = "relu"
    ) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            _conv3x3(in_channels, out_channels, stride),
            nn.BatchNorm2d(out_channels),
            make_activation(activation),
            _conv3x3(out_channels, out_channels),
            nn.BatchNorm2d(out_channels),
        )
        self.skip: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.skip = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                nn.BatchNorm2d(out_channels),
            )
        self.activation = make_activation(activation)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the block's output for a batch of feature maps ``x``."""
        return self.activation(self.residual(x) + self.skip(x))


@dataclass(frozen=True)
class ResNetConfig:
    """The searchable knobs of the ResNet classifier; each field is one search-space parameter.

    Values are coerced and checked on construction like :class:`MLPConfig`.

    Example:
        >>> ResNetConfig(widen="4").widen
        4
        >>> ResNetConfig(depth=0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: depth=0 is out of range; it must satisfy 1 <= depth <= 12
    """

    lr: float = 3e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 64  # images per mini-batch, >= 1
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    dropout: float = 0.0  # drop rate before the linear head, 0 <= d < 1
    init: str = "he_uniform"  # conv/linear weight initializer, one of INITIALIZERS
    depth: int = 3  # residual blocks, 1..12, spread over up to 3 stages
    widen: int = 1  # Wide ResNet multiplier of the stage channels (16, 32, 64), 1..8
    activation: str = "relu"  # activation inside and after each block, one of ACTIVATIONS
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
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
        check_range("widen", self.widen, low=1, high=MAX_WIDEN)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_range("weight_decay", self.weight_decay, low=0)
        check_range("epochs", self.epochs, low=1)
        check_optimizer_args(self.optimizer, self.lr, self.weight_decay, self.momentum)


def stage_plan(depth: int, widen: int) -> list[tuple[int, int]]:
    """Return ``(out_channels, stride)`` per block: ``depth`` blocks over ``min(depth, 3)``
    stages, as evenly as possible, each later stage opening with a stride-2 block.

    Example:
        >>> stage_plan(4, 2)
        [(32, 1), (32, 1), (64, 2), (128, 2)]
    """
    n_stages = min(depth, len(STAGE_CHANNELS))
    plan, previous = [], 0
    for block in range(depth):
        stage = block * n_stages // depth
        stride = 2 if stage != previous else 1
        plan.append((STAGE_CHANNELS[stage] * widen, stride))
        previous = stage
    return plan


class ResNet(nn.Module):
    """Stem, ``depth`` :class:`BasicBlock` s, global average pool, dropout, Linear head.

    Takes flat rows ``(n, C * H * W)`` and folds them into ``image_shape`` ``(C, H, W)``.

    Example:
        >>> ResNet((1, 28, 28), 10, depth=2, widen=1)(torch.zeros(5, 784)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        image_shape: ImageShape,
        n_classes: int,
        *,
        depth: int = 3,
        widen: int = 1,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = [
            nn.Unflatten(1, tuple(image_shape)),
            _conv3x3(image_shape[0], STEM_CHANNELS, stride=2),
            nn.BatchNorm2d(STEM_CHANNELS),
            make_activation(activation),
        ]
        channels = STEM_CHANNELS
        for out, stride in stage_plan(depth, widen):
            layers.append(BasicBlock(channels, out, stride=stride, activation=activation))
            channels = out
        self.features = nn.Sequential(*layers)
        head: list[nn.Module] = [nn.AdaptiveAvgPool2d(1), nn.Flatten()]
        if dropout > 0:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(channels, n_classes))
        self.head = nn.Sequential(*head)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of flat image rows ``x``."""
        return self.head(self.features(x))


def build_resnet(config: ResNetConfig, image_shape: ImageShape, n_classes: int) -> ResNet:
    """The :class:`ResNet` that ``config`` describes for ``image_shape`` images, not yet
    initialized with ``config.init`` (the training loop does that).

    Example:
        >>> build_resnet(ResNetConfig(depth=1), (1, 8, 8), 10)(torch.zeros(3, 64)).shape
        torch.Size([3, 10])
    """
    return ResNet(
        image_shape,
        n_classes,
        depth=config.depth,
        widen=config.widen,
        activation=config.activation,
        dropout=config.dropout,
    )


@register_trainable(
    "resnet",
    config_cls=ResNetConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=DATASETS,
    task="classification",
    data_check=lambda config, data: require_image_shape(data, "resnet", DATASETS) and None,
)
def train_resnet(
    config: ResNetConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train a :class:`ResNet` on an image dataset and return the final metrics.

    Pixels are standardized per channel with training-split statistics. Reports, divergence and
    reproducibility behave as for :func:`train_mlp`.

    Raises:
        ConfigError: ``data`` has no ``image_shape`` (field ``dataset``).

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_resnet(ResNetConfig(epochs=1, depth=1), load_dataset("digits"))["epoch"]
        1
    """
    return train_image_classifier(
        lambda image_shape, n_classes: build_resnet(config, image_shape, n_classes),
        config,
        data,
        report,
        device=device,
        seed=seed,
        checkpoint=checkpoint,
        trainable="resnet",
        datasets=DATASETS,
    )
