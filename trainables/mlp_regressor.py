"""The ``mlp_regressor`` trainable: the :class:`~.mlp.MLP` body with one linear output and MSE.

Order: config -> train function (registered as ``"mlp_regressor"``). The model is the ``mlp``
trainable's :class:`~.mlp.MLP` with ``n_outputs=1``; knobs, rules and messages are those of
:class:`~.mlp.MLPConfig`, with defaults for a small regression set. Inputs and the target are
standardized with training-split statistics; every metric is in the target's original units.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("mlp_regressor").train({"epochs": 2}, load_dataset("diabetes"))
    >>> sorted(name for name in result if name.startswith("test_"))
    ['test_loss', 'test_mae', 'test_r2']
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._fields import coerce_instance
from ._loop import (
    REGRESSOR_METRICS,
    TensorSplits,
    check_seed,
    regression,
    resolve_device,
    train_model,
)
from .checkpoint import Checkpointer
from .datasets import Dataset
from .mlp import build_mlp, check_mlp_knobs
from .registry import Report, register_trainable


@dataclass(frozen=True)
class MLPRegressorConfig:
    """The searchable knobs of the MLP regressor; the fields and rules of ``MLPConfig``.

    Example:
        >>> MLPRegressorConfig(width="32").width
        32
        >>> MLPRegressorConfig(depth=17)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: depth=17 is out of range; it must satisfy 1 <= depth ...
    """

    lr: float = 3e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 32  # rows per mini-batch, >= 1 (1 = SGD; >= training rows = batch GD)
    optimizer: str = "adamw"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    dropout: float = 0.0  # inverted-dropout drop rate after each hidden layer, 0 <= d < 1
    init: str = "he_uniform"  # weight initializer, one of INITIALIZERS (biases start at zero)
    depth: int = 2  # number of hidden layers, 1..16
    width: int = 32  # units per hidden layer, >= 1
    activation: str = "relu"  # hidden-layer activation, one of ACTIVATIONS
    # With 264 training rows an unregularized MLP overfits diabetes within a few epochs; AdamW's
    # decoupled decay shrinks every weight by lr * weight_decay (0.3%) per step. For the coupled
    # L2 of the other optimizers 1.0 is far too strong: search weight_decay with the optimizer.
    weight_decay: float = 1.0  # L2 penalty (decoupled for adamw), >= 0
    epochs: int = 20  # passes over the training split, >= 1
    amp: bool = False  # mixed precision (float16 on CUDA, bfloat16 on the CPU)
    grad_clip: float = 0.0  # max L2 norm of all gradients before each step, >= 0; 0 = off
    batch_norm: bool = False  # batch norm between each hidden linear layer and its activation

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_mlp_knobs(self)


@register_trainable(
    "mlp_regressor",
    config_cls=MLPRegressorConfig,
    metrics=REGRESSOR_METRICS,
    datasets=("diabetes",),
    task="regression",
)
def train_mlp_regressor(
    config: MLPRegressorConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train an MLP with a single linear output on ``data`` and return the final metrics.

    Reports what ``linear_regression`` does: after each epoch ``epoch``, ``train_loss``,
    ``val_loss`` (MSE), ``val_r2`` and ``val_mae``; the last report and the returned dict add
    ``test_loss``, ``test_r2`` and ``test_mae``, and the cost metrics ``n_params``,
    ``latency_ms`` and ``train_s`` (see :mod:`.costs`). A diverged run stops and returns NaN metrics
    instead of raising. Same config, data and seed give the same metrics on CPU.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_mlp_regressor(MLPRegressorConfig(epochs=1), load_dataset("diabetes"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    splits = TensorSplits.from_dataset(
        data, torch_device, scaling="standard", target_scaling="standard"
    )
    return train_model(
        lambda: build_mlp(config, data.n_features, 1),
        config,
        splits,
        regression(splits.y_offset, splits.y_scale),
        device=torch_device,
        seed=seed,
        report=report,
        checkpoint=checkpoint,
    )
