"""The data for the own-model campaigns: `dataset: {loader: ./my_data.py:load}`."""

from __future__ import annotations

import numpy as np
from sklearn.datasets import load_digits


def load() -> tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's bundled 8x8 digits as ``(X, y)``.

    ``X`` is float32 of shape (1797, 64), pixel intensities scaled to [0, 1]; ``y`` is int64,
    the digit 0-9. Nothing is downloaded: the data ships with scikit-learn.
    """
    X, y = load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)
