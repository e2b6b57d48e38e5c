"""The ``linear_regression`` trainable: h(X) = Xw + b fitted by mini-batch gradient descent.

Order: config -> shared linear-model fit -> train function (registered as
``"linear_regression"``). The loss is the mean squared error (the notes' J = 1/2m Σ(h−y)² up to
the factor 1/2, which only rescales the learning rate), plus an optional L1 (lasso) and L2
(weight decay) penalty. Inputs and the target are standardized with training-split statistics;
every metric is reported in the target's original units.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("linear_regression").train({}, load_dataset("diabetes"), seed=0)
    >>> result["test_r2"] > 0.3
    True
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ._fields import check_choice, check_range, coerce_instance
from ._loop import (
    REGRESSOR_METRICS,
    Objective,
    TensorSplits,
    check_seed,
    l1_penalty,
    regression,
    resolve_device,
    train_model,
)
from .checkpoint import Checkpointer
from .components import INITIALIZERS, check_optimizer_args, initialize
from .datasets import Dataset
from .registry import Report, register_trainable


@dataclass(frozen=True)
class LinearRegressionConfig:
    """The searchable knobs of linear regression; each field is one search-space parameter.

    Loose types are coerced (``"1e-3"`` -> 0.001) and every value is checked on construction; a
    bad one raises :class:`ConfigError` naming the field and what is allowed.

    Example:
        >>> LinearRegressionConfig(l1="1e-3").l1
        0.001
        >>> LinearRegressionConfig(l1=-1)
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: l1=-1.0 is out of range; it must satisfy l1 >= 0
    """

    lr: float = 0.02  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 32  # rows per mini-batch, >= 1 (1 = SGD; >= training rows = batch GD)
    optimizer: str = "sgd"  # one of OPTIMIZERS; plain gradient descent by default
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    l1: float = 0.0  # L1 (lasso) penalty l1 * Σ|w| on the weights, not the bias, >= 0
    epochs: int = 30  # passes over the training split, >= 1
    # The loss is convex and there are no hidden units to keep apart, so starting at w = 0 (the
    # textbook start) is safe here; "zeros" is the failure case only for hidden layers.
    init: str = "zeros"  # weight initializer, one of INITIALIZERS (the bias starts at zero)

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_linear_knobs(self)


def check_linear_knobs(config: Any) -> None:
    """Check the knobs shared by the linear families (linear and logistic regression).

    Raises :class:`ConfigError` naming the first bad field, the value and what is allowed.

    Example:
        >>> from types import SimpleNamespace
        >>> from dataclasses import asdict
        >>> check_linear_knobs(SimpleNamespace(**{**asdict(LinearRegressionConfig()), "epochs": 0}))
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: epochs=0 is out of range; it must satisfy epochs >= 1
    """
    check_range("lr", config.lr, low=0, low_open=True)
    check_range("batch_size", config.batch_size, low=1)
    check_range("momentum", config.momentum, low=0, high=1, high_open=True)
    check_range("weight_decay", config.weight_decay, low=0)
    check_range("l1", config.l1, low=0)
    check_range("epochs", config.epochs, low=1)
    check_choice("init", config.init, INITIALIZERS)
    check_optimizer_args(config.optimizer, config.lr, config.weight_decay, config.momentum)


def build_linear_model(config: Any, n_inputs: int, n_outputs: int) -> nn.Linear:
    """Build ``nn.Linear(n_inputs, n_outputs)``, initialized with ``config.init``; the model of
    both linear families (draws from torch's global RNG).

    Example:
        >>> build_linear_model(LinearRegressionConfig(), 10, 1).weight.abs().sum().item()
        0.0
    """
    model = nn.Linear(n_inputs, n_outputs)
    initialize(model, config.init)
    return model


def fit_linear_model(
    config: Any,
    splits: TensorSplits,
    objective: Objective,
    n_outputs: int,
    report: Report | None,
    *,
    device: torch.device,
    seed: int,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Build ``nn.Linear(features, n_outputs)`` from ``config``'s knobs and :func:`fit` it.

    Shared by the linear families; ``config`` has the fields of :class:`LinearRegressionConfig`.
    The model, its initialization and the batch order are all drawn from ``seed``.
    """
    return train_model(
        lambda: build_linear_model(config, splits.x_train.shape[1], n_outputs),
        config,
        splits,
        objective,
        device=device,
        seed=seed,
        report=report,
        penalty=lambda model: l1_penalty(model, config.l1),
        checkpoint=checkpoint,
    )


@register_trainable(
    "linear_regression",
    config_cls=LinearRegressionConfig,
    metrics=REGRESSOR_METRICS,
    datasets=("diabetes",),
    task="regression",
)
def train_linear_regression(
    config: LinearRegressionConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Fit h(X) = Xw + b to ``data`` and return the final metrics.

    After each epoch ``report`` (if given) receives ``epoch``, ``train_loss``, ``val_loss``
    (MSE), ``val_r2`` and ``val_mae``; the last report and the returned dict add ``test_loss``,
    ``test_r2`` and ``test_mae``, and the cost metrics ``n_params``, ``latency_ms`` and
    ``train_s`` (see :mod:`.costs`). Losses and MAE are in the target's original units. A diverged
    run (non-finite loss) stops and returns NaN metrics instead of raising. Same config, data and
    seed give the same metrics on CPU; the caller's torch RNG state is left untouched.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> config = LinearRegressionConfig(epochs=1)
        >>> train_linear_regression(config, load_dataset("diabetes"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    splits = TensorSplits.from_dataset(
        data, torch_device, scaling="standard", target_scaling="standard"
    )
    objective = regression(splits.y_offset, splits.y_scale)
    return fit_linear_model(
        config, splits, objective, 1, report, device=torch_device, seed=seed, checkpoint=checkpoint
    )
