"""Named building blocks a search space can pick by name: initializers, optimizers, activations,
and gradient clipping; ``Dense``, the linear layer every fully connected family uses, and
``RowBatchNorm``, batch normalization of its rows.

Example:
    >>> from sweepforge.trainables.components import ACTIVATIONS, make_activation
    >>> type(make_activation(ACTIVATIONS[2])).__name__
    'ReLU'
"""

from .activations import ACTIVATIONS, make_activation
from .batch_norm import RowBatchNorm
from .clipping import clip_gradients_before_step
from .dense import LINEAR_BACKENDS, Dense, linear_backend, set_linear_backend
from .initializers import INITIALIZERS, initialize, weight_initializer
from .optimizers import MOMENTUM_OPTIMIZERS, OPTIMIZERS, build_optimizer, check_optimizer_args

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "LINEAR_BACKENDS",
    "MOMENTUM_OPTIMIZERS",
    "OPTIMIZERS",
    "Dense",
    "RowBatchNorm",
    "build_optimizer",
    "check_optimizer_args",
    "clip_gradients_before_step",
    "initialize",
    "linear_backend",
    "make_activation",
    "set_linear_backend",
    "weight_initializer",
]
