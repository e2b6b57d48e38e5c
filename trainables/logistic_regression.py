"""The ``logistic_regression`` trainable: softmax regression, softmax(Xw + b), on k classes.

Order: config -> train function (registered as ``"logistic_regression"``). One model serves
every k, binary included: softmax with cross-entropy over k logit columns. For k = 2 it is the
notes' sigmoid/logistic model, since softmax([z0, z1])[1] = sigmoid(z1 - z0); the second
weight column is redundant, which changes nothing but the parameter count. Inputs are
standardized with training-split statistics; optional L1 (lasso) and L2 (weight decay) penalties.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("logistic_regression").train({}, load_dataset("iris"), seed=0)
    >>> result["test_accuracy"] >= 0.9
    True
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from ._fields import coerce_instance
from ._loop import CLASSIFIER_METRICS, TensorSplits, check_seed, classification, resolve_device
from .checkpoint import Checkpointer
from .datasets import Dataset
from .linear_regression import check_linear_knobs, fit_linear_model
from .registry import Report, register_trainable


@dataclass(frozen=True)
class LogisticRegressionConfig:
    """The searchable knobs of softmax (logistic) regression; each field is one parameter.

    The same knobs, rules and messages as :class:`LinearRegressionConfig`, with defaults tuned
    for classification.

    Example:
        >>> LogisticRegressionConfig(optimizer="momentum", lr="0.05").lr
        0.05
        >>> LogisticRegressionConfig(batch_size=0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: batch_size=0 is out of range; it must satisfy ...
    """

    lr: float = 0.05  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 32  # rows per mini-batch, >= 1 (1 = SGD; >= training rows = batch GD)
    optimizer: str = "momentum"  # one of OPTIMIZERS; SGD with heavy-ball momentum by default
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    l1: float = 0.0  # L1 (lasso) penalty l1 * Σ|w| on the weights, not the biases, >= 0
    epochs: int = 30  # passes over the training split, >= 1
    # Convex loss, no hidden units: starting at w = 0 is safe (see LinearRegressionConfig).
    init: str = "zeros"  # weight initializer, one of INITIALIZERS (biases start at zero)

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_linear_knobs(self)


@register_trainable(
    "logistic_regression",
    config_cls=LogisticRegressionConfig,
    metrics=CLASSIFIER_METRICS,
    datasets=("iris", "wine", "breast_cancer"),
    task="classification",
)
def train_logistic_regression(
    config: LogisticRegressionConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Fit softmax regression to ``data`` and return the final metrics.

    Reports exactly what the ``mlp`` trainable does: after each epoch ``epoch``,
    ``train_loss``, ``val_loss`` (cross-entropy) and ``val_accuracy``; the last report and the
    returned dict add ``test_loss`` and ``test_accuracy``, and the cost metrics ``n_params``,
    ``latency_ms`` and ``train_s`` (see :mod:`.costs`). A diverged run stops and returns NaN
    metrics instead of raising. Same config, data and seed give the same metrics on CPU.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> config = LogisticRegressionConfig(epochs=1)
        >>> train_logistic_regression(config, load_dataset("wine"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    splits = TensorSplits.from_dataset(data, torch_device, scaling="standard")
    return fit_linear_model(
        config, splits, classification(), data.n_classes, report, device=torch_device, seed=seed,
        checkpoint=checkpoint,
    )
