"""The ``autoencoder`` trainable: plain, denoising and sparse MLP autoencoders, judged against PCA.

An encoder ``f`` maps a row to a ``code_size`` code and a decoder ``g`` maps it back,
``x̂ = g(f(x))``; training minimises the reconstruction MSE. Two knobs turn the plain model into
the documented variants, and they combine:

- denoising (``noise``): in training mode the model corrupts its input first, ``x + N(0, σ²)``
  (``"gaussian"``, σ = ``noise_level``) or each pixel set to 0 with probability
  q = ``noise_level`` (``"masking"``), and is still scored against the clean ``x``. Like dropout,
  corruption is off in eval mode, so validation and test see clean inputs.
- sparse (``sparsity_weight`` β > 0): adds ``β · Σ_j KL(ρ ‖ ρ̂_j)`` to each batch loss, where
  ``ρ̂_j`` is the mean activation of sigmoid code unit ``j`` over the batch and ρ is
  ``sparsity_target``.

Pixels are min-max scaled to ``[0, 1]`` with one minimum and maximum over the training split
(digits' 0..16 become 0..1; MNIST is already in ``[0, 1]``), so the sigmoid output layer can
reach every pixel value and the MSE of both datasets is on one scale. Each run also reports
the MSE of a PCA with ``code_size`` components fitted on the training split (``val_pca_mse``,
``test_pca_mse``): the linear baseline an autoencoder has to beat.

Order: config -> objective and penalty -> model -> train function (registered as
``"autoencoder"``).

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> result = get_trainable("autoencoder").train({"epochs": 2}, load_dataset("digits"), seed=0)
    >>> result["epoch"], result["val_mse"] < 0.1, result["val_pca_mse"] > 0
    (2, True, True)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ._fields import check_choice, check_range, coerce_instance
from ._loop import Objective, Penalty, TensorSplits, check_seed, resolve_device, train_model
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
from .costs import COST_METRIC_NAMES
from .datasets import Dataset
from .image_datasets import require_image_shape
from .registry import Report, register_trainable

DATASETS = ("digits", "mnist")
NOISE_KINDS = ("none", "gaussian", "masking")
MAX_DEPTH = 8
METRIC_NAMES = (
    "epoch",
    "train_loss",
    "val_loss",
    "val_mse",
    "val_pca_mse",
    "test_loss",
    "test_mse",
    "test_pca_mse",
    *COST_METRIC_NAMES,
)


@dataclass(frozen=True)
class AutoencoderConfig:
    """The searchable knobs of the autoencoder; each field is one search-space parameter.

    Plain autoencoder: ``noise="none"`` and ``sparsity_weight=0`` (the defaults). Values are
    coerced and checked on construction like :class:`~.mlp.MLPConfig`.

    Example:
        >>> AutoencoderConfig(noise="masking", noise_level="0.3").noise_level
        0.3
        >>> AutoencoderConfig(sparsity_target=0.0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: sparsity_target=0.0 is out of range; it must satisfy 0 < ...
    """

    lr: float = 3e-3  # learning rate, > 0 (searched on a log scale)
    batch_size: int = 32  # rows per mini-batch, >= 1
    optimizer: str = "adam"  # one of OPTIMIZERS
    momentum: float = 0.9  # beta of "momentum"/"nesterov", 0 <= m < 1; ignored by the others
    weight_decay: float = 0.0  # L2 penalty (decoupled for adamw), >= 0
    init: str = "he_uniform"  # weight initializer, one of INITIALIZERS (biases start at zero)
    activation: str = "relu"  # activation of the hidden layers, one of ACTIVATIONS
    depth: int = 1  # hidden layers on each side of the code, 0..8 (0 = one layer each way)
    width: int = 256  # units per hidden layer, >= 1
    code_size: int = 16  # units of the sigmoid code layer (the bottleneck), >= 1
    noise: str = "none"  # input corruption while training, one of NOISE_KINDS
    noise_level: float = 0.0  # σ of "gaussian" (>= 0) or drop probability q of "masking" (< 1)
    sparsity_weight: float = 0.0  # β of the KL sparsity penalty, >= 0 (0 = off)
    sparsity_target: float = 0.05  # ρ, the wanted mean activation of a code unit, 0 < ρ < 1
    epochs: int = 20  # passes over the training split, >= 1
    amp: bool = False  # mixed precision (float16 on CUDA, bfloat16 on the CPU)
    batch_norm: bool = False  # batch norm between each hidden linear layer and its activation

    def __post_init__(self) -> None:
        coerce_instance(self)
        check_range("lr", self.lr, low=0, low_open=True)
        check_range("batch_size", self.batch_size, low=1)
        check_range("momentum", self.momentum, low=0, high=1, high_open=True)
        check_range("weight_decay", self.weight_decay, low=0)
        check_choice("init", self.init, INITIALIZERS)
        check_choice("activation", self.activation, ACTIVATIONS)
        check_range("depth", self.depth, low=0, high=MAX_DEPTH)
        check_range("width", self.width, low=1)
        check_range("code_size", self.code_size, low=1)
        check_choice("noise", self.noise, NOISE_KINDS)
        if self.noise == "masking":
            check_range("noise_level", self.noise_level, low=0, high=1, high_open=True)
        else:
            check_range("noise_level", self.noise_level, low=0)
        check_range("sparsity_weight", self.sparsity_weight, low=0)
        check_range(
            "sparsity_target", self.sparsity_target, low=0, high=1, low_open=True, high_open=True
        )
        check_range("epochs", self.epochs, low=1)
        check_optimizer_args(self.optimizer, self.lr, self.weight_decay, self.momentum)


def reconstruction() -> Objective:
    """Mean squared error of a reconstruction against its target (the clean input).

    Reports ``loss`` and ``mse``, the same number: ``loss`` is what every objective reports,
    ``mse`` names it for people reading MLflow.

    Example:
        >>> reconstruction().metrics(torch.tensor([[1.0, 0.0]]), torch.tensor([[0.0, 0.0]]))
        {'loss': 0.5, 'mse': 0.5}
    """

    def metrics(outputs: torch.Tensor, targets: torch.Tensor) -> dict[str, float]:
        mse = float(F.mse_loss(outputs.float(), targets.float()))
        return {"loss": mse, "mse": mse}

    return Objective(("loss", "mse"), F.mse_loss, metrics)


def kl_sparsity(code: torch.Tensor, target: float) -> torch.Tensor:
    """``Σ_j KL(ρ ‖ ρ̂_j)`` for sigmoid activations ``code`` ``(n, k)``; ``ρ̂_j`` is column j's mean.

    ``KL(ρ ‖ ρ̂) = ρ log(ρ/ρ̂) + (1-ρ) log((1-ρ)/(1-ρ̂))``: 0 when a unit's mean activation is
    ρ, growing without bound as it nears 0 or 1 (clamped to stay finite).

    Example:
        >>> round(float(kl_sparsity(torch.full((4, 2), 0.5), 0.05)), 4)
        0.9893
        >>> float(kl_sparsity(torch.full((4, 2), 0.05), 0.05))
        0.0
    """
    eps = 1e-6
    mean = code.float().mean(dim=0).clamp(eps, 1 - eps)
    rho = torch.as_tensor(target, dtype=mean.dtype, device=mean.device)
    kl = rho * torch.log(rho / mean) + (1 - rho) * torch.log((1 - rho) / (1 - mean))
    return kl.sum()


def sparsity_penalty(weight: float, target: float) -> Callable[[Autoencoder], Penalty | None]:
    """Return ``penalty(model)`` for :func:`~._loop.train_model`: β · KL of the last batch's code.

    The loop calls the penalty right after the forward pass of each batch, so it reads the code
    that :class:`Autoencoder` kept from that pass. ``weight == 0`` gives ``None`` (no penalty).
    """

    def make(model: Autoencoder) -> Penalty | None:
        if weight == 0:
            return None

        def penalty() -> torch.Tensor:
            if model.last_code is None:
                raise RuntimeError("the sparsity penalty needs a forward pass first")
            return weight * kl_sparsity(model.last_code, target)

        return penalty

    return make


class Corruption(nn.Module):
    """Corrupt the input in training mode, like dropout; the identity in eval mode.

    ``"gaussian"`` adds ``N(0, level²)`` noise; ``"masking"`` sets each value to 0 with
    probability ``level`` (no rescaling: the decoder must fill in what is missing). Draws come
    from torch's global RNG, which the shared loop seeds and checkpoints.

    Example:
        >>> masking = Corruption("masking", 0.5).train()
        >>> x = torch.ones(1000)
        >>> 0.4 < float(masking(x).mean()) < 0.6, bool(masking.eval()(x).eq(1).all())
        (True, True)
    """

    def __init__(self, kind: str, level: float) -> None:
        super().__init__()
        check_choice("noise", kind, NOISE_KINDS)
        self.kind, self.level = kind, float(level)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``x`` corrupted (training mode, level > 0) or unchanged."""
        if not self.training or self.kind == "none" or self.level == 0:
            return x
        if self.kind == "gaussian":
            return x + self.level * torch.randn_like(x)
        return x * (torch.rand_like(x) >= self.level).to(x.dtype)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, level={self.level}"


class Autoencoder(nn.Module):
    """Corruption -> encoder -> sigmoid code -> decoder -> sigmoid reconstruction.

    The encoder has ``depth`` hidden layers of ``width`` units (Linear -> activation, with a
    :class:`~.components.RowBatchNorm` between them when ``batch_norm``) and a Linear layer to
    ``code_size`` sigmoid units; the decoder mirrors it and ends in a sigmoid,
    since inputs are scaled to ``[0, 1]``. In training mode the code of the last batch stays in
    :attr:`last_code` (with its graph) for the sparsity penalty.

    Example:
        >>> model = Autoencoder(64, code_size=8, depth=1, width=32)
        >>> model(torch.rand(5, 64)).shape, model.encode(torch.rand(5, 64)).shape
        (torch.Size([5, 64]), torch.Size([5, 8]))
    """

    def __init__(
        self,
        n_inputs: int,
        *,
        code_size: int = 16,
        depth: int = 1,
        width: int = 256,
        activation: str = "relu",
        noise: str = "none",
        noise_level: float = 0.0,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        self.corrupt = Corruption(noise, noise_level)
        self.encoder = _stack(n_inputs, code_size, depth, width, activation, batch_norm)
        self.decoder = _stack(code_size, n_inputs, depth, width, activation, batch_norm)
        self.last_code: torch.Tensor | None = None

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """The code ``f(x)`` of clean rows ``x``, each unit in ``(0, 1)``."""
        return torch.sigmoid(self.encoder(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return the reconstruction ``g(f(x̃))`` of a batch of rows (x̃ = x in eval mode)."""
        code = self.encode(self.corrupt(x))
        self.last_code = code if self.training else None
        return torch.sigmoid(self.decoder(code))


def _stack(
    n_in: int, n_out: int, depth: int, width: int, activation: str, batch_norm: bool
) -> nn.Sequential:
    layers: list[nn.Module] = []
    size = n_in
    for _ in range(depth):
        # with batch norm the hidden Linear needs no bias: the norm's shift replaces it
        layers.append(Dense(size, width, bias=not batch_norm))
        if batch_norm:
            layers.append(RowBatchNorm(width))
        layers.append(make_activation(activation))
        size = width
    layers.append(Dense(size, n_out))
    return nn.Sequential(*layers)


def build_autoencoder(
    config: AutoencoderConfig, n_inputs: int, mean_input: torch.Tensor | None = None
) -> Autoencoder:
    """Build an :class:`Autoencoder` from ``config`` and initialize it with ``config.init``.

    With ``mean_input`` (the training split's mean row), the output layer's bias starts at its
    logit, so the untrained model already outputs the mean image instead of grey 0.5 pixels.
    Draws from torch's global RNG: call it inside ``seeded(...)`` for a reproducible model.

    Example:
        >>> model = build_autoencoder(AutoencoderConfig(), 2, torch.tensor([0.5, 0.9]))
        >>> [round(p, 4) for p in torch.sigmoid(model.decoder[-1].bias).tolist()]
        [0.5, 0.9]
    """
    model = Autoencoder(
        n_inputs,
        code_size=config.code_size,
        depth=config.depth,
        width=config.width,
        activation=config.activation,
        noise=config.noise,
        noise_level=config.noise_level,
        batch_norm=config.batch_norm,
    )
    initialize(model, config.init)
    if mean_input is not None:
        output = model.decoder[-1]
        with torch.no_grad():
            output.bias.copy_(torch.logit(mean_input.float().clamp(0.01, 0.99)))
    return model


def reconstruction_splits(data: Dataset, device: torch.device) -> TensorSplits:
    """Min-max scale every split with the training split's global pixel range; targets = inputs.

    One minimum and maximum over all training pixels (not per pixel: a rarely inked border
    pixel would otherwise be stretched to the same range as the centre).

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> splits = reconstruction_splits(load_dataset("digits"), torch.device("cpu"))
        >>> float(splits.x_train.max()), splits.y_train is splits.x_train
        (1.0, True)
    """
    low = float(data.X_train.min())
    spread = float(data.X_train.max()) - low
    spread = spread if spread > 0 else 1.0
    parts = []
    for part in ("train", "val", "test"):
        X = np.ascontiguousarray((getattr(data, f"X_{part}") - low) / spread, dtype=np.float32)
        x = torch.from_numpy(X).to(device)
        parts += [x, x]
    return TensorSplits(*parts)


def pca_mse(splits: TensorSplits, n_components: int) -> dict[str, float]:
    """MSE of a PCA reconstruction with ``n_components`` fitted on the training split.

    Returns ``{"val_pca_mse": ..., "test_pca_mse": ...}`` in the scaled space the model sees.
    The principal axes are the top eigenvectors of the training split's covariance matrix
    (computed in float64 on the CPU); ``n_components`` is capped at the number of features.

    Example:
        >>> x = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])  # points on one line
        >>> errors = pca_mse(TensorSplits(x, x, x, x, x + 1, x + 2), 1)
        >>> errors["val_pca_mse"] < 1e-12, errors["test_pca_mse"] < 1e-12
        (True, True)
    """
    train = splits.x_train.detach().cpu().double()
    mean = train.mean(dim=0)
    centred = train - mean
    _, vectors = torch.linalg.eigh(centred.T @ centred)  # eigenvalues in ascending order
    axes = vectors[:, -min(n_components, train.shape[1]) :]
    errors = {}
    for part in ("val", "test"):
        x = getattr(splits, f"x_{part}").detach().cpu().double()
        rebuilt = (x - mean) @ axes @ axes.T + mean
        errors[f"{part}_pca_mse"] = float((rebuilt - x).square().mean())
    return errors


def check_autoencoder_data(config: AutoencoderConfig, data: Dataset) -> None:
    """Raise :class:`ConfigError` unless ``data`` holds images (field ``dataset``)."""
    require_image_shape(data, "autoencoder", DATASETS)


@register_trainable(
    "autoencoder",
    config_cls=AutoencoderConfig,
    metrics=METRIC_NAMES,
    datasets=DATASETS,
    task="reconstruction",
    data_tasks=("classification",),
    data_check=check_autoencoder_data,
)
def train_autoencoder(
    config: AutoencoderConfig,
    data: Dataset,
    report: Report | None = None,
    *,
    device: str | torch.device = "cpu",
    seed: int = 0,
    checkpoint: Checkpointer | None = None,
) -> dict[str, float]:
    """Train an :class:`Autoencoder` on the rows of ``data`` (labels unused); return final metrics.

    After each epoch ``report`` (if given) receives ``epoch``, ``train_loss`` (the training
    batches' MSE, on corrupted inputs for a denoising run, penalty not included), ``val_loss``
    and ``val_mse`` (the same number: reconstruction MSE on clean validation rows) and
    ``val_pca_mse``; the last report and the returned dict add ``test_loss``, ``test_mse`` and
    ``test_pca_mse``, and the cost metrics ``n_params``, ``latency_ms`` and ``train_s`` (see
    :mod:`.costs`). Divergence and reproducibility behave as for :func:`~.mlp.train_mlp`.

    Raises:
        ConfigError: ``data`` has no ``image_shape`` (field ``dataset``).

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> train_autoencoder(AutoencoderConfig(epochs=1), load_dataset("digits"))["epoch"]
        1
    """
    torch_device = resolve_device(device)
    check_seed(seed)
    check_autoencoder_data(config, data)
    splits = reconstruction_splits(data, torch_device)
    baseline = pca_mse(splits, config.code_size)

    def with_baseline(metrics: dict[str, float]) -> dict[str, float]:
        metrics = {**metrics, "val_pca_mse": baseline["val_pca_mse"]}
        if "test_mse" in metrics:
            metrics["test_pca_mse"] = baseline["test_pca_mse"]
        return metrics

    def report_with_baseline(metrics: dict[str, float]) -> None:
        if report is not None:
            report(with_baseline(metrics))

    result = train_model(
        lambda: build_autoencoder(config, data.n_features, splits.x_train.mean(dim=0)),
        config,
        splits,
        reconstruction(),
        device=torch_device,
        seed=seed,
        report=report_with_baseline,
        penalty=sparsity_penalty(config.sparsity_weight, config.sparsity_target),
        checkpoint=checkpoint,
    )
    return with_baseline(result)
