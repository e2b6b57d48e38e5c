"""What is trained: bundled datasets, named components and registered model families.

Knows nothing of search, Ray, Optuna or MLflow: a trainable only calls a ``report`` callback,
so it can be reused from plain Python, a Ray Tune ``Tuner`` or an Optuna objective.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> spec = get_trainable("mlp")
    >>> data = load_dataset("digits", seed=0)
    >>> result = spec.train({"lr": "3e-3", "epochs": 1}, data, report=print)  # doctest: +SKIP
    {'train_loss': ..., 'val_loss': ..., 'val_accuracy': ..., 'test_loss': ..., 'epoch': 1}

Importing this package is cheap: a family's module (and torch) is imported when the family is
first asked for, by :func:`get_trainable` or by importing one of its names from here.
"""

from typing import TYPE_CHECKING, Any

from ._environment import check_environment, runtime_tags
from ._errors import ConfigError
from ._fields import field_descriptions
from .costs import COST_METRICS
from .datasets import Dataset, list_datasets, load_dataset, register_dataset
from .registry import Report, TrainableSpec, get_trainable, list_trainables, register_trainable

# Everything else is imported when first used (PEP 562): a family's module pulls in torch and
# its own packages, which a Ray worker training another family, or the CLI listing campaigns,
# need not pay for. ``get_trainable(name)`` and ``load_dataset(name)`` import what they need.
_LAZY = {
    "checkpoint": ("Checkpointer", "DirectoryCheckpointer", "MemoryCheckpointer"),
    "components": ("ACTIVATIONS", "INITIALIZERS", "MOMENTUM_OPTIMIZERS", "OPTIMIZERS"),
    "preprocessing": ("MinMaxScaler", "Standardizer"),
    "tables": ("load_table",),
    "user_data": ("TorchDatasetSplits",),
    "autoencoder": ("AutoencoderConfig", "train_autoencoder"),
    "cnn": ("CNN", "CNNConfig", "train_cnn"),
    "entity_embedding": ("EntityEmbeddingConfig", "train_entity_embedding"),
    "linear_regression": ("LinearRegressionConfig", "train_linear_regression"),
    "logistic_regression": ("LogisticRegressionConfig", "train_logistic_regression"),
    "mlp": ("MLP", "MLPConfig", "train_mlp"),
    "mlp_regressor": ("MLPRegressorConfig", "train_mlp_regressor"),
    "resnet": ("ResNet", "ResNetConfig", "train_resnet"),
    "rnn": ("RNNConfig", "train_rnn"),
    "unet": ("UNet", "UNetConfig", "train_unet"),
    "word2vec": ("Word2VecConfig", "WordVectors", "fit_word2vec", "train_word2vec"),
}
_MODULE_OF = {name: module for module, names in _LAZY.items() for name in names}


def __getattr__(name: str) -> Any:
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value  # once found, a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


if TYPE_CHECKING:  # for type checkers and IDEs: the names the lazy loader provides
    from .autoencoder import AutoencoderConfig, train_autoencoder
    from .checkpoint import Checkpointer, DirectoryCheckpointer, MemoryCheckpointer
    from .cnn import CNN, CNNConfig, train_cnn
    from .components import ACTIVATIONS, INITIALIZERS, MOMENTUM_OPTIMIZERS, OPTIMIZERS
    from .entity_embedding import EntityEmbeddingConfig, train_entity_embedding
    from .linear_regression import LinearRegressionConfig, train_linear_regression
    from .logistic_regression import LogisticRegressionConfig, train_logistic_regression
    from .mlp import MLP, MLPConfig, train_mlp
    from .mlp_regressor import MLPRegressorConfig, train_mlp_regressor
    from .preprocessing import MinMaxScaler, Standardizer
    from .resnet import ResNet, ResNetConfig, train_resnet
    from .rnn import RNNConfig, train_rnn
    from .tables import load_table
    from .unet import UNet, UNetConfig, train_unet
    from .user_data import TorchDatasetSplits
    from .word2vec import Word2VecConfig, WordVectors, fit_word2vec, train_word2vec

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "COST_METRICS",
    "INITIALIZERS",
    "MLP",
    "MOMENTUM_OPTIMIZERS",
    "OPTIMIZERS",
    "AutoencoderConfig",
    "CNNConfig",
    "Checkpointer",
    "ConfigError",
    "Dataset",
    "TorchDatasetSplits",
    "DirectoryCheckpointer",
    "EntityEmbeddingConfig",
    "LinearRegressionConfig",
    "LogisticRegressionConfig",
    "MLPConfig",
    "MLPRegressorConfig",
    "MemoryCheckpointer",
    "MinMaxScaler",
    "RNNConfig",
    "Report",
    "ResNet",
    "ResNetConfig",
    "Standardizer",
    "TrainableSpec",
    "UNet",
    "UNetConfig",
    "Word2VecConfig",
    "WordVectors",
    "check_environment",
    "field_descriptions",
    "fit_word2vec",
    "get_trainable",
    "list_datasets",
    "list_trainables",
    "load_dataset",
    "load_table",
    "register_dataset",
    "register_trainable",
    "runtime_tags",
    "train_autoencoder",
    "train_cnn",
    "train_entity_embedding",
    "train_linear_regression",
    "train_logistic_regression",
    "train_mlp",
    "train_mlp_regressor",
    "train_resnet",
    "train_rnn",
    "train_unet",
    "train_word2vec",
]
