"""The ``unet`` trainable: an encoder-decoder with skip connections that labels every pixel.

Layout (Ronneberger et al.'s U-Net, made small): ``depth`` encoder levels, each a double conv
block (conv 3x3 -> batch norm -> activation, twice) followed by a 2x2 max-pool that halves the
image; a double conv bottleneck, then dropout; ``depth`` decoder levels, each a 1x1 conv that
halves the channels, nearest-neighbour upsampling to the matching encoder level's size, the
concatenation with that level's output (the skip connection) and a double conv block; a 1x1
conv head gives one logit per class and pixel. Level ``i`` (from 0) has ``width * 2**i``
channels, the bottleneck ``width * 2**depth``. Rows arrive flat and are folded into
``Dataset.image_shape`` images; logits leave flat as ``(n, classes, H * W)``, matching the flat
masks. Order: objective -> config -> model -> train function.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("unet").train({"epochs": 1}, load_dataset("shapes"), seed=0)
    >>> result["epoch"], result["val_pixel_accuracy"] > 0.8
    (1, True)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from . import shape_datasets  # noqa: F401  registers "shapes" and "shape_kinds"
from ._errors import ConfigError
from ._fields import check_choice, check_range, coerce_instance
from ._images import image_splits
from ._loop import Objective, check_seed, resolve_device, train_model
from .checkpoint import Checkpointer
from .components import ACTIVATIONS, INITIALIZERS, check_optimizer_args, initialize, make_activation
from .costs import COST_METRIC_NAMES
from .datasets import Dataset, ImageShape
from .image_datasets import require_image_shape
from .registry import Report, register_trainable

MAX_DEPTH = 6
MIN_BOTTLENECK = 2  # pixels on the shorter side of the deepest feature maps
DATASETS = ("shapes", "shape_kinds")
SEGMENTATION_NAMES = ("loss", "pixel_accuracy", "iou")
SEGMENTATION_METRICS = frozenset(
    {
        "epoch",
        "train_loss",
        *(f"{split}_{name}" for split in ("val", "test") for name in SEGMENTATION_NAMES),
        *COST_METRIC_NAMES,
    }
)


def segmentation(n_classes: int) -> Objective:
    """Per-pixel cross-entropy on logits ``(n, k, pixels)`` against masks ``(n, pixels)``.

    Reports ``loss`` (mean cross-entropy per pixel), ``pixel_accuracy`` (share of pixels
    labelled right) and ``iou``: the mean, over the foreground classes ``1..k-1``, of
    intersection over union of the predicted and true pixels of that class, pooled over the
    whole split (with two classes, the foreground IoU). A class absent from both prediction
    and truth is left out of the mean; with none left, ``iou`` is 1.

    Example:
        >>> logits = torch.tensor([[[2.0, 2.0, 0.0], [0.0, 0.0, 2.0]]])  # predicts 0, 0, 1
        >>> m = segmentation(2).metrics(logits, torch.tensor([[0, 1, 1]]))
        >>> round(m["pixel_accuracy"], 3), m["iou"]
        (0.667, 0.5)
    """
    if n_classes < 1:
        raise ValueError(f"segmentation needs n_classes >= 1, got {n_classes=}")

    def metrics(logits: torch.Tensor, masks: torch.Tensor) -> dict[str, float]:
        predicted = logits.argmax(dim=1)
        return {
            "loss": float(F.cross_entropy(logits.float(), masks)),
            "pixel_accuracy": float((predicted == masks).float().mean()),
            "iou": foreground_iou(predicted, masks, n_classes),
        }

    return Objective(SEGMENTATION_NAMES, F.cross_entropy, metrics)


def foreground_iou(predicted: torch.Tensor, masks: torch.Tensor, n_classes: int) -> float:
    """Mean IoU over the classes ``1..n_classes-1`` present in ``predicted`` or ``masks``.

    Example:
        >>> foreground_iou(torch.tensor([1, 1, 2, 0]), torch.tensor([1, 2, 2, 0]), 3)
        0.5
    """
    pairs = masks.reshape(-1) * n_classes + predicted.reshape(-1)
    confusion = torch.bincount(pairs, minlength=n_classes**2).reshape(n_classes, n_classes)
    hits = confusion.diagonal()
    unions = confusion.sum(dim=0) + confusion.sum(dim=1) - hits
    present = unions[1:] > 0
    if not bool(present.any()):
        return 1.0
    return float((hits[1:][present].double() / unions[1:][present].double()).mean())


@dataclass(frozen=True)
class UNetConfig:
    """The searchable knobs of the U-Net segmenter; each field is one search-space parameter.

    Values are coerced and checked on construction like :class:`MLPConfig`. Whether ``depth``
    fits the images is checked against the data: each level halves them, and the bottleneck
    must keep at least 2x2 pixels, so 32x32 images allow at most 4 levels.

    Example:
        >>> UNetConfig(depth="2", batch_norm=False).depth
        2
        >>> UNetConfig(width=0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: width=0 is out of range; it must satisfy width >= 1
    """

    lr: float = 2e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 16  # images per mini-batch, >= 1
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    dropout: float = 0.0  # drop rate after the bottleneck, 0 <= d < 1
    init: str = "he_uniform"  # conv weight initializer, one of INITIALIZERS
    depth: int = 3  # down/up levels, 1..6, and at most log2(min(H, W)) - 1 for the images
    width: int = 8  # channels of the first level (doubling per level), >= 1
    activation: str = "relu"  # activation after each conv (and batch norm), one of ACTIVATIONS
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    batch_norm: bool = True  # batch norm between each 3x3 conv and its activation
    epochs: int = 7  # passes over the training split, >= 1
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
    """The most levels (each halving the image) that leave a bottleneck of at least 2x2 pixels.

    Example:
        >>> max_depth((1, 32, 32)), max_depth((1, 28, 28)), max_depth((1, 8, 8))
        (4, 3, 2)
    """
    return min(MAX_DEPTH, max(0, (min(image_shape[1:]) // MIN_BOTTLENECK).bit_length() - 1))


def _double_conv(
    in_channels: int, out_channels: int, activation: str, batch_norm: bool
) -> nn.Sequential:
    layers: list[nn.Module] = []
    for channels in (in_channels, out_channels):
        layers.append(nn.Conv2d(channels, out_channels, 3, padding=1, bias=not batch_norm))
        if batch_norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(make_activation(activation))
    return nn.Sequential(*layers)


class UNet(nn.Module):
    """Encoder levels -> bottleneck -> decoder levels with skip connections -> 1x1 conv head.

    Takes flat rows ``(n, C * H * W)`` and returns flat logits ``(n, n_classes, H * W)``.

    Raises:
        ConfigError: ``depth`` too large for the images (field ``depth``).

    Example:
        >>> UNet((1, 32, 32), 2, depth=3, width=4)(torch.zeros(5, 1024)).shape
        torch.Size([5, 2, 1024])
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
        _check_depth(depth, image_shape)
        self.image_shape = tuple(image_shape)
        channels = [width * 2**level for level in range(depth + 1)]
        inputs = [image_shape[0], *channels[:-2]]
        self.encoder = nn.ModuleList(
            _double_conv(c_in, c_out, activation, batch_norm)
            for c_in, c_out in zip(inputs, channels[:-1], strict=True)
        )
        self.pool = nn.MaxPool2d(2)
        self.bottleneck = _double_conv(channels[-2], channels[-1], activation, batch_norm)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        # Decoder level i turns 2 * channels[i] (upsampled + skip) into channels[i].
        self.reduce = nn.ModuleList(
            nn.Conv2d(channels[level + 1], channels[level], 1) for level in range(depth)
        )
        self.decoder = nn.ModuleList(
            _double_conv(2 * channels[level], channels[level], activation, batch_norm)
            for level in range(depth)
        )
        self.head = nn.Conv2d(channels[0], n_classes, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return per-pixel class logits ``(n, n_classes, H * W)`` for flat image rows ``x``."""
        x = x.unflatten(1, self.image_shape)
        skips = []
        for block in self.encoder:
            x = block(x)
            skips.append(x)
            x = self.pool(x)
        x = self.dropout(self.bottleneck(x))
        for level in reversed(range(len(skips))):
            skip = skips[level]
            x = F.interpolate(self.reduce[level](x), size=skip.shape[-2:], mode="nearest")
            x = self.decoder[level](torch.cat([skip, x], dim=1))
        return self.head(x).flatten(2)


def _check_depth(depth: int, image_shape: ImageShape, dataset: str | None = None) -> None:
    deepest = max_depth(image_shape)
    if not 1 <= depth <= deepest:
        of = f" (dataset {dataset!r})" if dataset is not None else ""
        raise ConfigError(
            f"depth={depth!r} is too large for {image_shape[1]}x{image_shape[2]} images{of}: "
            f"each level halves them and the bottleneck keeps at least {MIN_BOTTLENECK}x"
            f"{MIN_BOTTLENECK} pixels, so it must satisfy 1 <= depth <= {deepest}",
            field="depth",
        )


def check_unet_data(config: UNetConfig, data: Dataset) -> None:
    """Raise :class:`ConfigError` unless ``data`` holds segmentation images big enough for
    ``config.depth``."""
    if data.task != "segmentation":
        raise ConfigError(
            f"dataset {data.name!r} is a {data.task} dataset but trainable 'unet' trains on "
            f"segmentation data; choose one of: {', '.join(DATASETS)}",
            field="dataset",
        )
    _check_depth(config.depth, require_image_shape(data, "unet", DATASETS), data.name)


@register_trainable(
    "unet",
    config_cls=UNetConfig,
    metrics=SEGMENTATION_METRICS,
    datasets=DATASETS,
    task="segmentation",
    data_check=check_unet_data,
)
def train_unet(
    config: UNetConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train a :class:`UNet` on a segmentation dataset and return the final metrics.

    Pixels are standardized per channel with training-split statistics. Reports ``val_loss``,
    ``val_pixel_accuracy`` and ``val_iou`` every epoch (see :func:`segmentation`), ``test_*``
    and the cost metrics ``n_params``, ``latency_ms`` and ``train_s`` (see :mod:`.costs`) after
    the last; divergence and reproducibility behave as for :func:`train_mlp`. Whole
    splits are moved to ``device`` and evaluated in one pass, which suits small datasets like
    ``shapes``.

    Raises:
        ConfigError: ``data`` is not a segmentation dataset of images (field ``dataset``), or
            ``depth`` is too large for its images (field ``depth``).

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_unet(UNetConfig(epochs=1, width=4), load_dataset("shapes"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    check_unet_data(config, data)
    image_shape = require_image_shape(data, "unet", DATASETS)
    n_classes = data.n_classes

    def build() -> nn.Module:
        model = UNet(
            image_shape,
            n_classes,
            depth=config.depth,
            width=config.width,
            activation=config.activation,
            batch_norm=config.batch_norm,
            dropout=config.dropout,
        )
        initialize(model, config.init)
        return model

    return train_model(
        build,
        config,
        image_splits(data, image_shape, torch_device),
        segmentation(n_classes),
        device=torch_device,
        seed=seed,
        report=report,
        checkpoint=checkpoint,
    )
