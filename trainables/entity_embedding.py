"""The ``entity_embedding`` trainable: an MLP over tabular data whose categorical columns are
mapped to learned dense vectors (Guo & Berkhahn, "Entity Embeddings of Categorical Variables").

Each categorical column with ``n`` levels gets an ``nn.Embedding(n, d)``; the vectors of a row
are concatenated with its standardized numeric columns and fed to the ``mlp`` family's
:class:`~.mlp.MLP` body. ``encoding="onehot"`` feeds the same body one-hot vectors instead:
the comparison the course notes make (an embedding is an extra linear layer over one-hot).

It learns whatever target its data has: class labels (cross-entropy; ``accuracy``) or a number
(squared error; ``r2``, ``mae`` and ``mape`` in the target's own units). With ``log_target`` a
positive regression target such as a price is learned as ``log(y)``, so the loss weighs
relative errors, which is what MAPE measures.

Order: config -> data preparation and objective -> model -> train function.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> data = load_dataset("diamonds", seed=0)
    >>> result = get_trainable("entity_embedding").train({"epochs": 1}, data, seed=0)
    >>> result["val_mape"] < 0.25  # prices within about 16% after one epoch
    True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._errors import ConfigError
from ._fields import check_choice, check_range, coerce_instance
from ._loop import (
    CLASSIFIER_METRICS,
    Objective,
    TensorSplits,
    check_seed,
    classification,
    resolve_device,
    train_model,
)
from .checkpoint import Checkpointer
from .components import initialize
from .datasets import Dataset
from .mlp import MLP, check_mlp_knobs
from .preprocessing import Standardizer
from .registry import Report, register_trainable
from .tables import load_diamonds, load_store_sales  # noqa: F401  registers the datasets below

ENCODINGS = ("embedding", "onehot")
MAX_RULE_DIM = 50
EMBEDDING_INIT_STD = 0.01
"""Standard deviation of the normal distribution embeddings start from."""
"""Largest embedding the default rule (``embedding_dim=0``) gives a column."""

REGRESSION_NAMES = ("loss", "r2", "mae", "mape")
METRICS = CLASSIFIER_METRICS | {
    f"{split}_{name}" for split in ("val", "test") for name in REGRESSION_NAMES
}
"""Every metric the family may report: ``val_accuracy`` on class labels, ``val_r2`` /
``val_mae`` / ``val_mape`` on a numeric target (``val_loss`` on both)."""

DATASETS = ("store_sales", "diamonds")


@dataclass(frozen=True)
class EntityEmbeddingConfig:
    """The searchable knobs: the ``mlp`` body's, plus how categorical columns are encoded.

    Example:
        >>> EntityEmbeddingConfig(encoding="onehot", embedding_dim="4").embedding_dim
        4
        >>> EntityEmbeddingConfig(encoding="one-hot")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: encoding='one-hot' is not allowed; choose one of: ...
    """

    lr: float = 3e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 256  # rows per mini-batch, >= 1
    optimizer: str = "adamw"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    dropout: float = 0.0  # inverted-dropout drop rate after each hidden layer, 0 <= d < 1
    init: str = "he_uniform"  # Linear weights, one of INITIALIZERS (embeddings: N(0, 0.01²))
    depth: int = 2  # number of hidden layers, 1..16
    width: int = 128  # units per hidden layer, >= 1
    activation: str = "relu"  # hidden-layer activation, one of ACTIVATIONS
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0; embeddings included
    epochs: int = 20  # passes over the training split, >= 1
    amp: bool = False  # mixed precision (float16 on CUDA, bfloat16 on the CPU)
    encoding: str = "embedding"  # categorical columns as "embedding" vectors or "onehot"
    embedding_dim: int = 0  # size of every embedding; 0: min(50, ceil(levels / 2)) per column
    log_target: bool = True  # regression: learn log(y) (needs y > 0); ignored for classes

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_mlp_knobs(self)
        check_choice("encoding", self.encoding, ENCODINGS)
        check_range("embedding_dim", self.embedding_dim, low=0)


def embedding_size(levels: int, embedding_dim: int = 0) -> int:
    """The embedding size of a column with ``levels`` levels: ``embedding_dim`` when it is set,
    else ``min(50, ceil(levels / 2))``.

    Example:
        >>> embedding_size(5), embedding_size(1000), embedding_size(1000, 4)
        (3, 50, 4)
    """
    return embedding_dim if embedding_dim > 0 else min(MAX_RULE_DIM, math.ceil(levels / 2))


# --- data ---------------------------------------------------------------------------------


def check_table(config: EntityEmbeddingConfig, data: Dataset) -> None:
    """Raise :class:`ConfigError` if ``data`` cannot be trained on with ``config``.

    Categorical columns must hold codes ``0..levels-1``; ``log_target`` needs a regression
    target above 0 in every split.
    """
    for index, levels in (data.categories or {}).items():
        for part in ("train", "val", "test"):
            codes = getattr(data, f"X_{part}")[:, index]
            if not (np.all(codes == np.round(codes)) and codes.min() >= 0 and codes.max() < levels):
                raise ConfigError(
                    f"dataset {data.name!r}: categorical column {index} must hold integer codes "
                    f"0..{levels - 1} (its categories entry), but its {part} split holds "
                    f"{codes.min():g}..{codes.max():g}",
                    field="dataset",
                )
    if data.task == "regression" and config.log_target:
        low = min(float(data.y_train.min()), float(data.y_val.min()), float(data.y_test.min()))
        if low <= 0:
            raise ConfigError(
                f"log_target=True needs a target > 0, but dataset {data.name!r} has targets down "
                f"to {low:g}; set log_target: false",
                field="log_target",
            )


def table_splits(
    data: Dataset, device: torch.device, *, log_target: bool
) -> tuple[TensorSplits, Objective]:
    """The splits as tensors (numeric columns standardized, category codes kept) and the
    objective for ``data``'s task.

    A regression target is stored as ``(z - offset) / scale`` with ``z = log(y)`` when
    ``log_target`` (else ``z = y``) and training-split statistics.
    """
    numeric, scaler, offset, scale = table_scaling(data, log_target=log_target)
    regression = data.task == "regression"
    log = regression and log_target
    parts = []
    for part in ("train", "val", "test"):
        X = getattr(data, f"X_{part}").copy()
        if scaler is not None:
            X[:, numeric] = scaler.transform(X[:, numeric])
        y = getattr(data, f"y_{part}")
        if regression:
            y = (((np.log(y) if log else y) - offset) / scale).astype(np.float32)
        parts += [torch.from_numpy(X).to(device), torch.from_numpy(y).to(device)]
    splits = TensorSplits(*parts, y_offset=offset, y_scale=scale)
    objective = target_regression(offset, scale, log=log) if regression else classification()
    return splits, objective


def table_scaling(
    data: Dataset, *, log_target: bool
) -> tuple[list[int], Standardizer | None, float, float]:
    """What :func:`table_splits` fits on the training split: the indices of the numeric
    columns, their :class:`Standardizer` (``None`` when every column is categorical), and the
    ``offset`` and ``scale`` of a regression target stored as ``(z - offset) / scale`` (0 and 1
    for class labels)."""
    numeric = [i for i in range(data.n_features) if i not in (data.categories or {})]
    scaler = Standardizer().fit(data.X_train[:, numeric]) if numeric else None
    regression = data.task == "regression"
    z_train = np.log(data.y_train) if regression and log_target else data.y_train
    offset = float(z_train.mean()) if regression else 0.0
    scale = float(z_train.std()) if regression else 1.0
    return numeric, scaler, offset, (scale if scale > 0 else 1.0)


def target_regression(offset: float, scale: float, *, log: bool) -> Objective:
    """Squared error on targets stored as ``(z - offset) / scale``, ``z = log(y)`` or ``y``.

    ``loss`` is the MSE of ``z`` (log units with ``log``, the target's units without);
    ``r2``, ``mae`` and ``mape`` (mean of ``|error| / |y|`` as a fraction, over the rows whose
    target is not 0) are in the target's own units.

    Example:
        >>> import torch
        >>> objective = target_regression(0.0, 1.0, log=True)
        >>> y = torch.log(torch.tensor([100.0, 200.0]))
        >>> round(objective.metrics(y + math.log(1.1), y)["mape"], 6)
        0.1
    """

    def loss(outputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(outputs.reshape(targets.shape), targets)

    def metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        z = targets.double() * scale + offset
        z_hat = outputs.reshape(targets.shape).double() * scale + offset
        mse = float((z_hat - z).square().mean())
        if log:  # a wild prediction must stay finite: exp(700) is, exp(710) is not
            y, y_hat = z.exp(), z_hat.clamp(max=700.0).exp()
        else:
            y, y_hat = z, z_hat
        error = y_hat - y
        sse = float(error.square().sum())
        sst = float((y - y.mean()).square().sum())
        r2 = 1.0 - sse / sst if sst > 0 else (1.0 if sse == 0 else 0.0)
        nonzero = y != 0
        mape = float((error[nonzero].abs() / y[nonzero].abs()).mean()) if nonzero.any() else 0.0
        return {"loss": mse, "r2": r2, "mae": float(error.abs().mean()), "mape": mape}

    return Objective(REGRESSION_NAMES, loss, metrics, loss_scale=scale**2)


# --- model --------------------------------------------------------------------------------


class EntityEmbeddingNet(nn.Module):
    """Embeddings (or one-hot vectors) of the categorical columns, concatenated with the
    numeric columns, then an :class:`~.mlp.MLP` to ``n_outputs``.

    Rows arrive as one ``float`` matrix; the columns listed in ``categories`` (index -> number
    of levels) hold codes ``0..levels-1``.

    Example:
        >>> net = EntityEmbeddingNet(3, {0: 10}, 1, embedding_dim=4, depth=1, width=8)
        >>> net(torch.tensor([[9.0, 0.5, -1.0]])).shape, net.input_width
        (torch.Size([1, 1]), 6)
    """

    def __init__(
        self,
        n_features: int,
        categories: Mapping[int, int] | None,
        n_outputs: int,
        *,
        encoding: str = "embedding",
        embedding_dim: int = 0,
        depth: int = 2,
        width: int = 128,
        activation: str = "relu",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        categories = dict(categories or {})
        columns = sorted(categories)
        self.levels = [categories[i] for i in columns]
        self.register_buffer("categorical", torch.tensor(columns, dtype=torch.long), False)
        numeric = [i for i in range(n_features) if i not in categories]
        self.register_buffer("numeric", torch.tensor(numeric, dtype=torch.long), False)
        self.embeddings: nn.ModuleList | None = None
        if encoding == "embedding":
            self.embeddings = nn.ModuleList(
                nn.Embedding(n, embedding_size(n, embedding_dim)) for n in self.levels
            )
            encoded = sum(e.embedding_dim for e in self.embeddings)
        else:
            encoded = sum(self.levels)
        self.input_width = len(numeric) + encoded
        self.body = MLP(
            self.input_width, n_outputs, depth=depth, width=width, activation=activation,
            dropout=dropout,
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return logits (classification) or the scaled target (regression) for rows ``x``."""
        codes = x[:, self.categorical].long()
        parts = [x[:, self.numeric]]
        if self.embeddings is not None:
            parts += [embed(codes[:, j]) for j, embed in enumerate(self.embeddings)]
        else:
            parts += [F.one_hot(codes[:, j], n).to(x.dtype) for j, n in enumerate(self.levels)]
        return self.body(torch.cat(parts, dim=1))


def build_entity_embedding(
    config: EntityEmbeddingConfig, data: Dataset, n_outputs: int
) -> EntityEmbeddingNet:
    """Build and initialize the network for ``data`` (draws from torch's global RNG)."""
    model = EntityEmbeddingNet(
        data.n_features, data.categories, n_outputs, encoding=config.encoding,
        embedding_dim=config.embedding_dim, depth=config.depth, width=config.width,
        activation=config.activation, dropout=config.dropout,
    )
    initialize(model, config.init)  # the Linear layers
    for embedding in model.embeddings or ():
        # Start every level near the origin, as a one-hot row times a freshly initialized Linear
        # layer does: with torch's N(0, 1) start, the vectors of rarely seen levels stay large
        # noise, and on store_sales the network generalized worse than on one-hot inputs.
        nn.init.normal_(embedding.weight, std=EMBEDDING_INIT_STD)
    return model


# --- training -----------------------------------------------------------------------------


@register_trainable(
    "entity_embedding",
    config_cls=EntityEmbeddingConfig,
    metrics=METRICS,
    datasets=DATASETS,
    task="supervised",
    data_tasks=("regression", "classification"),
    data_check=check_table,
)
def train_entity_embedding(
    config: EntityEmbeddingConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train an :class:`EntityEmbeddingNet` on ``data`` and return the final metrics.

    After each epoch ``report`` (if given) receives ``epoch``, ``train_loss``, ``val_loss`` and
    ``val_accuracy`` (class labels) or ``val_r2``, ``val_mae``, ``val_mape`` (a numeric
    target); the last report adds the same for ``test``, and the cost metrics ``n_params``,
    ``latency_ms`` and ``train_s`` (see :mod:`.costs`). A dataset without categorical columns
    trains as a plain MLP. Same config, data and seed give the same metrics on CPU.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> config = EntityEmbeddingConfig(epochs=1)
        >>> train_entity_embedding(config, load_dataset("store_sales"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    splits, objective = table_splits(data, torch_device, log_target=config.log_target)
    n_outputs = data.n_classes if data.task == "classification" else 1
    return train_model(
        lambda: build_entity_embedding(config, data, n_outputs),
        config,
        splits,
        objective,
        device=torch_device,
        seed=seed,
        report=report,
        checkpoint=checkpoint,
    )
