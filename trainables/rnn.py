"""The ``rnn`` trainable: a recurrent network (plain RNN, LSTM or GRU) read out at the last step.

``h_t = f(x_t, h_{t-1})`` runs over a sequence; a linear head maps the final hidden state of the
top layer (both directions' when bidirectional) to class logits or a regression value. The
``cell`` knob picks ``f``: ``rnn`` (tanh), ``lstm`` (gates that keep a memory cell) or ``gru``.
Rows arrive flat and are folded into ``(T, F)`` sequences (see :mod:`.sequence_datasets`).
Every report also holds what a model without memory scores: ``val_baseline_mse`` (predicting
the training mean) or ``val_baseline_accuracy`` (predicting the majority class).
Order: config -> model -> train function.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("rnn").train({"epochs": 1}, load_dataset("adding"), seed=0)
    >>> result["epoch"], round(result["val_baseline_mse"], 2)
    (1, 0.16)
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from ._fields import check_choice, check_range, coerce_instance
from ._loop import (
    Objective,
    TensorSplits,
    check_seed,
    classification,
    regression,
    train_model,
)
from ._runtime import resolve_device
from .checkpoint import Checkpointer
from .components import (
    INITIALIZERS,
    check_optimizer_args,
    initialize,
    weight_initializer,
)
from .datasets import Dataset
from .preprocessing import Standardizer
from .registry import Report, register_trainable
from .sequence_datasets import SequenceShape, sequence_shape

CELLS: dict[str, type[nn.RNNBase]] = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}
"""The recurrent cells the ``cell`` knob names."""

_GATES = {"rnn": 1, "lstm": 4, "gru": 3}  # weight blocks stacked in each torch weight matrix
MAX_LAYERS = 4
DATASETS = ("adding", "temporal_order")


@dataclass(frozen=True)
class RNNConfig:
    """The searchable knobs of the recurrent network; each field is one search-space parameter.

    Values are coerced and checked on construction like :class:`MLPConfig`.

    Example:
        >>> RNNConfig(cell="gru", hidden_size="64").hidden_size
        64
        >>> RNNConfig(cell="transformer")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: cell='transformer' is not allowed; choose one of: ...
    """

    lr: float = 1e-2  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 64  # sequences per mini-batch, >= 1
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    init: str = "xavier_uniform"  # input/recurrent/head weight initializer, one of INITIALIZERS
    cell: str = "lstm"  # recurrent cell, one of CELLS
    hidden_size: int = 32  # units of the hidden state (per direction), >= 1
    num_layers: int = 1  # stacked recurrent layers, 1..4
    dropout: float = 0.0  # drop rate between stacked layers, 0 <= d < 1; unused with 1 layer
    bidirectional: bool = False  # also read each sequence backwards; the head sees both ends
    grad_clip: float = 1.0  # max L2 norm of all gradients together before a step; 0 = off
    epochs: int = 10  # passes over the training split, >= 1

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_range("lr", self.lr, low=0, low_open=True)
        check_range("batch_size", self.batch_size, low=1)
        check_range("momentum", self.momentum, low=0, high=1, high_open=True)
        check_range("weight_decay", self.weight_decay, low=0)
        check_choice("init", self.init, INITIALIZERS)
        check_choice("cell", self.cell, tuple(CELLS))
        check_range("hidden_size", self.hidden_size, low=1)
        check_range("num_layers", self.num_layers, low=1, high=MAX_LAYERS)
        check_range("dropout", self.dropout, low=0, high=1, high_open=True)
        check_range("grad_clip", self.grad_clip, low=0)
        check_range("epochs", self.epochs, low=1)
        check_optimizer_args(self.optimizer, self.lr, self.weight_decay, self.momentum)


class RecurrentNet(nn.Module):
    """A ``cell`` network over ``(T, F)`` sequences, then Linear from the final hidden state.

    Takes flat rows ``(n, T * F)``; returns ``(n, n_outputs)``.

    Example:
        >>> RecurrentNet((20, 2), 1, cell="gru", bidirectional=True)(torch.zeros(5, 40)).shape
        torch.Size([5, 1])
    """

    def __init__(
        self,
        shape: SequenceShape,
        n_outputs: int,
        *,
        cell: str = "lstm",
        hidden_size: int = 32,
        num_layers: int = 1,
        dropout: float = 0.0,
        bidirectional: bool = False,
    ) -> None:
        super().__init__()
        check_choice("cell", cell, tuple(CELLS))
        self.cell = cell
        self.directions = 2 if bidirectional else 1
        self.unflatten = nn.Unflatten(1, tuple(shape))
        self.recurrent = CELLS[cell](
            shape[1],
            hidden_size,
            num_layers,
            batch_first=True,
            dropout=dropout if num_layers > 1 else 0.0,  # torch warns about dropout on 1 layer
            bidirectional=bidirectional,
        )
        self.head = nn.Linear(hidden_size * self.directions, n_outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the head's outputs for a batch of flat sequence rows ``x``."""
        _, state = self.recurrent(self.unflatten(x))
        hidden = state[0] if self.cell == "lstm" else state  # an LSTM's state is (h, c)
        top = hidden[-self.directions :]  # (directions, n, hidden) of the top layer
        return self.head(torch.cat(tuple(top), dim=1))


def initialize_recurrent(model: RecurrentNet, name: str) -> None:
    """Fill every weight of ``model`` with initializer ``name``; zero the biases.

    Torch stacks the gates of a cell in one matrix (4 for an LSTM, 3 for a GRU); each gate's
    block is initialised on its own, so its fan-in and fan-out are those of one gate. An LSTM's
    forget-gate bias starts at 1 (Jozefowicz et al., 2015), so memory is kept by default.

    Example:
        >>> model = RecurrentNet((5, 3), 2, cell="lstm", hidden_size=4)
        >>> initialize_recurrent(model, "zeros")
        >>> model.recurrent.bias_ih_l0.tolist()[:8]
        [0.0, 0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 1.0]
    """
    initialize(model.head, name)
    fill = weight_initializer(name)
    gates = _GATES[model.cell]
    hidden = model.recurrent.hidden_size
    for param_name, param in model.recurrent.named_parameters():
        if param_name.startswith("weight"):
            for block in param.chunk(gates, dim=0):
                fill(block)
            continue
        with torch.no_grad():
            param.zero_()
            if model.cell == "lstm" and param_name.startswith("bias_ih"):
                param[hidden : 2 * hidden] = 1.0  # torch's gate order: input, forget, cell, output


def check_rnn_data(config: RNNConfig, data: Dataset) -> None:
    """Raise :class:`ConfigError` unless ``data``'s rows hold sequences of a known shape."""
    sequence_shape(data)


RNN_METRICS = (
    classification().report_names()
    | regression().report_names()
    | {
        f"{split}_{name}"
        for split in ("val", "test")
        for name in ("baseline_mse", "baseline_accuracy")
    }
)


@register_trainable(
    "rnn",
    config_cls=RNNConfig,
    metrics=RNN_METRICS,
    datasets=DATASETS,
    task="sequence",
    data_tasks=("classification", "regression"),
    data_check=check_rnn_data,
)
def train_rnn(
    config: RNNConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train a :class:`RecurrentNet` on a sequence dataset and return the final metrics.

    Each input feature is standardized over every step of the training split; a regression
    target is standardized too and reported in its own units. Reports carry the metrics of
    :func:`train_mlp` (classification) or :func:`train_mlp_regressor` (regression) plus the
    memoryless baseline (``*_baseline_accuracy`` or ``*_baseline_mse``); the last report and
    the returned dict also hold the cost metrics ``n_params``, ``latency_ms`` and ``train_s``
    (see :mod:`.costs`). With ``grad_clip > 0`` the gradients of all weights, taken as one
    vector, are scaled down to that L2 norm before each optimizer step. Divergence and
    reproducibility behave as for :func:`train_mlp`.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_rnn(RNNConfig(epochs=1, cell="gru"), load_dataset("temporal_order"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    shape = sequence_shape(data)
    splits = sequence_splits(data, shape, torch_device)
    if data.task == "regression":
        n_outputs, objective = 1, regression_with_baseline(splits)
    else:
        n_outputs, objective = data.n_classes, classification_with_baseline(data)
    return train_model(
        lambda: build_rnn(config, shape, n_outputs), config, splits, objective,
        device=torch_device, seed=seed, report=report, checkpoint=checkpoint,
    )


def build_rnn(config: RNNConfig, shape: SequenceShape, n_outputs: int) -> RecurrentNet:
    """The :class:`RecurrentNet` that ``config`` describes for ``(T, F)`` sequences, initialized
    with ``config.init`` (draws from torch's global RNG).

    Example:
        >>> build_rnn(RNNConfig(hidden_size=4), (5, 2), 1)(torch.zeros(3, 10)).shape
        torch.Size([3, 1])
    """
    model = RecurrentNet(
        shape,
        n_outputs,
        cell=config.cell,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        dropout=config.dropout,
        bidirectional=config.bidirectional,
    )
    initialize_recurrent(model, config.init)
    return model


def sequence_splits(data: Dataset, shape: SequenceShape, device: torch.device) -> TensorSplits:
    """Standardize each of the ``F`` features over all steps and training rows (one mean and
    one std per feature, like an image channel); a regression target with its training mean and
    std. Rows stay flat ``(n, T * F)``.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> splits = sequence_splits(load_dataset("adding"), (50, 2), torch.device("cpu"))
        >>> round(float(splits.x_train.mean()), 4), round(float(splits.y_train.std()), 2)
        (0.0, 1.0)
    """
    features, target = sequence_scalers(data, shape)
    parts = []
    for part in ("train", "val", "test"):
        X, y = getattr(data, f"X_{part}"), getattr(data, f"y_{part}")
        X = features.transform(X.reshape(-1, shape[1])).reshape(len(X), -1)
        if target is not None:
            y = target.transform(y.reshape(-1, 1)).reshape(-1)
        parts += [
            torch.from_numpy(np.ascontiguousarray(X)).to(device),
            torch.from_numpy(y).to(device),
        ]
    if target is None:
        return TensorSplits(*parts)
    return TensorSplits(*parts, y_offset=float(target.offset_[0]), y_scale=float(target.scale_[0]))


def sequence_scalers(
    data: Dataset, shape: SequenceShape
) -> tuple[Standardizer, Standardizer | None]:
    """The scalers :func:`sequence_splits` fits on the training split: one over the ``F``
    features of every step, and one of a regression target (``None`` for class labels)."""
    features = Standardizer().fit(data.X_train.reshape(-1, shape[1]))
    target = Standardizer().fit(data.y_train.reshape(-1, 1)) if data.task == "regression" else None
    return features, target


def regression_with_baseline(splits: TensorSplits) -> Objective:
    """:func:`regression` in original units, plus ``baseline_mse``: the MSE of always
    predicting the training mean (stored targets are standardized, so that mean is 0)."""
    base = regression(splits.y_offset, splits.y_scale)

    def metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        baseline = float((targets * splits.y_scale).square().mean())
        return {**base.metrics(outputs, targets), "baseline_mse": baseline}

    return Objective((*base.names, "baseline_mse"), base.loss, metrics, base.loss_scale)


def classification_with_baseline(data: Dataset) -> Objective:
    """:func:`classification` plus ``baseline_accuracy``: the accuracy of always predicting
    the training split's most common class."""
    base = classification()
    majority = int(np.bincount(data.y_train).argmax())

    def metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        baseline = float((targets == majority).float().mean())
        return {**base.metrics(outputs, targets), "baseline_accuracy": baseline}

    return Objective((*base.names, "baseline_accuracy"), base.loss, metrics, base.loss_scale)
