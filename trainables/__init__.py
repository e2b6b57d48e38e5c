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

# Datasets first: a family checks at registration that the datasets it names exist.
# Importing a family's module registers it (and the datasets it generates).
from . import image_datasets  # noqa: F401  registers the "mnist" dataset
from ._errors import ConfigError
from .autoencoder import AutoencoderConfig, train_autoencoder
from .checkpoint import Checkpointer, DirectoryCheckpointer, MemoryCheckpointer
from .cnn import CNN, CNNConfig, train_cnn
from .components import ACTIVATIONS, INITIALIZERS, MOMENTUM_OPTIMIZERS, OPTIMIZERS
from .datasets import Dataset, list_datasets, load_dataset, register_dataset
from .entity_embedding import EntityEmbeddingConfig, train_entity_embedding
from .linear_regression import LinearRegressionConfig, train_linear_regression
from .logistic_regression import LogisticRegressionConfig, train_logistic_regression
from .mlp import MLP, MLPConfig, train_mlp
from .mlp_regressor import MLPRegressorConfig, train_mlp_regressor
from .preprocessing import MinMaxScaler, Standardizer
from .registry import Report, TrainableSpec, get_trainable, list_trainables, register_trainable
from .resnet import ResNet, ResNetConfig, train_resnet
from .rnn import RNNConfig, train_rnn
from .tables import load_table
from .unet import UNet, UNetConfig, train_unet
from .word2vec import Word2VecConfig, WordVectors, fit_word2vec, train_word2vec

__all__ = [
    "ACTIVATIONS",
    "CNN",
    "INITIALIZERS",
    "MLP",
    "MOMENTUM_OPTIMIZERS",
    "OPTIMIZERS",
    "AutoencoderConfig",
    "CNNConfig",
    "Checkpointer",
    "ConfigError",
    "Dataset",
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
    "fit_word2vec",
    "get_trainable",
    "list_datasets",
    "list_trainables",
    "load_dataset",
    "load_table",
    "register_dataset",
    "register_trainable",
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
