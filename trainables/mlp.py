"""The ``mlp`` trainable: a feed-forward classifier (Linear -> [batch norm ->] activation ->
dropout, repeated).

Order: config -> model -> train function (registered as ``"mlp"``).

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("mlp").train({"epochs": 2}, load_dataset("iris"), seed=0)
    >>> result["epoch"], result["val_accuracy"] > 0.5
    (2, True)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._fields import check_choice, check_range, coerce_instance
from ._loop import (
    CLASSIFIER_METRICS,
    TensorSplits,
    check_seed,
    classification,
    resolve_device,
    train_model,
)
from .checkpoint import Checkpointer
from .components import (
    ACTIVATIONS,
    INITIALIZERS,
    Dense,
    RowBatchNorm,
    check_optimizer_args,
    initialize,
    make_activation,
)
from .datasets import Dataset
from .registry import Report, register_trainable

MAX_DEPTH = 16


@dataclass(frozen=True)
class MLPConfig:
    """The searchable knobs of the MLP classifier; each field is one search-space parameter.

    Loose types are coerced (``"1e-3"`` -> 0.001, ``64.0`` -> 64) and every value is checked on
    construction; a bad one raises :class:`ConfigError` naming the field and what is allowed.

    Example:
        >>> MLPConfig(lr="3e-3", optimizer="nesterov").lr
        0.003
        >>> MLPConfig(dropout=1.2)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: dropout=1.2 is out of range; it must satisfy 0 <= ...
    """

    lr: float = 1e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 64  # rows per mini-batch, >= 1 (1 = SGD; >= training rows = batch GD)
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    dropout: float = 0.0  # inverted-dropout drop rate after each hidden layer, 0 <= d < 1
    init: str = "he_uniform"  # weight initializer, one of INITIALIZERS (biases start at zero)
    depth: int = 2  # number of hidden layers, 1..16
    width: int = 128  # units per hidden layer, >= 1
    activation: str = "relu"  # hidden-layer activation, one of ACTIVATIONS
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    epochs: int = 20  # passes over the training split, >= 1
    amp: bool = False  # mixed precision (float16 on CUDA, bfloat16 on the CPU)
    grad_clip: float = 0.0  # max L2 norm of all gradients before each step, >= 0; 0 = off
    batch_norm: bool = False  # batch norm between each hidden linear layer and its activation

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_mlp_knobs(self)


def check_mlp_knobs(config: Any) -> None:
    """Check the MLP knobs of ``config`` (an :class:`MLPConfig` or a config with its fields).

    Shared by every MLP-bodied family (e.g. ``MLPRegressorConfig``), so the rules and messages
    stay the same. Raises :class:`ConfigError` naming the first bad field.

    Example:
        >>> from types import SimpleNamespace
        >>> from dataclasses import asdict
        >>> check_mlp_knobs(SimpleNamespace(**{**asdict(MLPConfig()), "width": 0}))
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: width=0 is out of range; it must satisfy width >= 1
    """
    check_range("lr", config.lr, low=0, low_open=True)
    check_range("batch_size", config.batch_size, low=1)
    check_range("momentum", config.momentum, low=0, high=1, high_open=True)
    check_range("dropout", config.dropout, low=0, high=1, high_open=True)
    check_choice("init", config.init, INITIALIZERS)
    check_range("depth", config.depth, low=1, high=MAX_DEPTH)
    check_range("width", config.width, low=1)
    check_choice("activation", config.activation, ACTIVATIONS)
    check_range("weight_decay", config.weight_decay, low=0)
    check_range("epochs", config.epochs, low=1)
    check_range("grad_clip", getattr(config, "grad_clip", 0.0), low=0)
    check_optimizer_args(config.optimizer, config.lr, config.weight_decay, config.momentum)


class MLP(nn.Module):
    """``depth`` hidden layers of ``width`` units (Linear -> activation -> dropout), then a
    Linear layer to ``n_outputs`` logits. With ``batch_norm``, a :class:`RowBatchNorm` sits
    between each hidden Linear layer (then without bias: the norm's shift replaces it) and its
    activation; the output layer is left alone.

    Example:
        >>> import torch
        >>> MLP(64, 10, depth=2, width=32)(torch.zeros(5, 64)).shape
        torch.Size([5, 10])
    """

    def __init__(
        self,
        n_inputs: int,
        n_outputs: int,
        *,
        depth: int = 2,
        width: int = 128,
        activation: str = "relu",
        dropout: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        size = n_inputs
        for _ in range(depth):
            layers.append(Dense(size, width, bias=not batch_norm))
            if batch_norm:
                layers.append(RowBatchNorm(width))
            layers.append(make_activation(activation))
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            size = width
        layers.append(Dense(size, n_outputs))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return class logits for a batch of rows ``x``."""
        return self.layers(x)


@register_trainable(
    "mlp",
    config_cls=MLPConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=("digits", "iris", "wine", "breast_cancer", "mnist"),
    task="classification",
)
def train_mlp(
    config: MLPConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train an :class:`MLP` on ``data`` and return the final metrics.

    Inputs are standardized with training-split statistics. After each epoch ``report`` (if
    given) receives ``epoch``, ``train_loss``, ``val_loss`` and ``val_accuracy``; the last report
    and the returned dict add ``test_loss`` and ``test_accuracy``, and the cost metrics
    ``n_params``, ``latency_ms`` and ``train_s`` (see :mod:`.costs`). A diverged run (non-finite
    loss) stops and returns NaN metrics instead of raising. Same config, data and seed give the
    same metrics on CPU; the caller's torch RNG state is left untouched.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_mlp(MLPConfig(epochs=1), load_dataset("wine"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    splits = TensorSplits.from_dataset(data, torch_device, scaling="standard")
    return train_model(
        lambda: build_mlp(config, data.n_features, data.n_classes),
        config,
        splits,
        classification(),
        device=torch_device,
        seed=seed,
        report=report,
        checkpoint=checkpoint,
    )


def build_mlp(config: Any, n_inputs: int, n_outputs: int) -> MLP:
    """Build an :class:`MLP` from the body knobs of ``config`` and initialize it.

    Draws from torch's global RNG: call it inside ``seeded(...)`` for a reproducible model.

    Example:
        >>> build_mlp(MLPConfig(depth=1, width=8), 4, 3).layers[0].out_features
        8
    """
    model = MLP(
        n_inputs,
        n_outputs,
        depth=config.depth,
        width=config.width,
        activation=config.activation,
        dropout=config.dropout,
        batch_norm=getattr(config, "batch_norm", False),
    )
    initialize(model, config.init)
    return model
