"""What is trained: bundled datasets, named components and registered model families.

Knows nothing of search, Ray, Optuna or MLflow: a trainable only calls a ``report`` callback,
so it can be reused from plain Python, a Ray Tune ``Tuner`` or an Optuna objective.

Example:
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> spec = get_trainable("mlp")
    >>> data = load_dataset("digits", seed=0)
    >>> result = spec.train({"lr": "3e-3", "epochs": 1}, data, report=print)  # doctest: +SKIP
    {'train_loss': ..., 'val_loss': ..., 'val_accuracy': ..., 'test_loss': ..., 'epoch': 1}
"""

from ._errors import ConfigError
from .components import ACTIVATIONS, INITIALIZERS, MOMENTUM_OPTIMIZERS, OPTIMIZERS
from .datasets import Dataset, list_datasets, load_dataset, register_dataset
from .linear_regression import LinearRegressionConfig, train_linear_regression
from .logistic_regression import LogisticRegressionConfig, train_logistic_regression
from .mlp import MLP, MLPConfig, train_mlp  # importing a family's module registers it
from .mlp_regressor import MLPRegressorConfig, train_mlp_regressor
from .preprocessing import MinMaxScaler, Standardizer
from .registry import Report, TrainableSpec, get_trainable, list_trainables, register_trainable

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "MLP",
    "MOMENTUM_OPTIMIZERS",
    "OPTIMIZERS",
    "ConfigError",
    "Dataset",
    "LinearRegressionConfig",
    "LogisticRegressionConfig",
    "MLPConfig",
    "MLPRegressorConfig",
    "MinMaxScaler",
    "Report",
    "Standardizer",
    "TrainableSpec",
    "get_trainable",
    "list_datasets",
    "list_trainables",
    "load_dataset",
    "register_dataset",
    "register_trainable",
    "train_linear_regression",
    "train_logistic_regression",
    "train_mlp",
    "train_mlp_regressor",
]
