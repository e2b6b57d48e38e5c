"""Input scalers fitted on the training split only: standardization and min-max scaling.

Example:
    >>> import numpy as np
    >>> X = np.array([[0.0, 10.0], [2.0, 10.0]], dtype=np.float32)
    >>> Standardizer().fit(X).transform(X).tolist()
    [[-1.0, 0.0], [1.0, 0.0]]
"""

from __future__ import annotations

import numpy as np


class _Scaler:
    """Shared machinery: ``transform(X) = (X - offset) / scale``, columns with no spread kept."""

    offset_: np.ndarray | None = None
    scale_: np.ndarray | None = None

    def _set(self, offset: np.ndarray, spread: np.ndarray) -> None:
        # A constant column (e.g. an always-blank pixel) has no spread: divide it by 1 instead.
        spread = np.where(spread > 0, spread, 1.0)
        self.offset_ = offset.astype(np.float32)
        self.scale_ = spread.astype(np.float32)

    def fit(self, X: np.ndarray) -> _Scaler:  # pragma: no cover - overridden
        raise NotImplementedError

    def transform(self, X: np.ndarray) -> np.ndarray:
        """Scale ``X`` with the statistics learned by :meth:`fit`; returns ``float32``."""
        if self.offset_ is None or self.scale_ is None:
            raise RuntimeError(f"{type(self).__name__} must be fitted before transform()")
        X = np.asarray(X, dtype=np.float32)
        if X.ndim != 2 or X.shape[1] != self.offset_.shape[0]:
            raise ValueError(
                f"expected a 2-D array with {self.offset_.shape[0]} columns, got shape {X.shape}"
            )
        return (X - self.offset_) / self.scale_

    def fit_transform(self, X: np.ndarray) -> np.ndarray:
        """Fit on ``X`` and return it scaled."""
        return self.fit(X).transform(X)

    @staticmethod
    def _check(X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or len(X) == 0:
            raise ValueError(f"expected a non-empty 2-D array, got shape {X.shape}")
        return X


class Standardizer(_Scaler):
    """Scale every column to mean 0 and standard deviation 1 (training-split statistics).

    Example:
        >>> Standardizer().fit_transform(np.array([[1.0], [3.0]])).ravel().tolist()
        [-1.0, 1.0]
    """

    def fit(self, X: np.ndarray) -> Standardizer:
        """Learn each column's mean and standard deviation."""
        X = self._check(X)
        self._set(X.mean(axis=0), X.std(axis=0))
        return self


class MinMaxScaler(_Scaler):
    """Scale every column to ``[0, 1]`` using the training split's minimum and maximum.

    Example:
        >>> MinMaxScaler().fit_transform(np.array([[2.0], [4.0], [3.0]])).ravel().tolist()
        [0.0, 1.0, 0.5]
    """

    def fit(self, X: np.ndarray) -> MinMaxScaler:
        """Learn each column's minimum and range."""
        X = self._check(X)
        low = X.min(axis=0)
        self._set(low, X.max(axis=0) - low)
        return self
