"""Sequence datasets generated in code: tasks where a model must remember across time steps.

Rows stay flat ``float32`` like every other dataset. A sequence of ``T`` steps with ``F``
features per step is one row of ``T * F`` values, step-major: ``row[t * F + f]`` is feature
``f`` at step ``t``, so ``X.reshape(n, T, F)`` gives ``(batch, time, features)``.
:func:`sequence_shape` returns ``(T, F)`` for a dataset (the sequence counterpart of
``Dataset.image_shape``): registered sequence datasets record it in :data:`SEQUENCE_SHAPES`;
any other dataset is read as a univariate series, one value per step.

========================= ============== ======== ================================================
name                      task           (T, F)   what must be remembered
========================= ============== ======== ================================================
``adding``                regression     (50, 2)  the two values marked in feature 1; target = sum
``temporal_order``        classification (60, 6)  the order of the two symbols X / Y among noise
========================= ============== ======== ================================================

Both are classic long-memory tests (Hochreiter & Schmidhuber, 1997). The data is fixed (seeded);
the ``seed`` of :func:`~.datasets.load_dataset` only changes the split.

Example:
    >>> from sweepforge.trainables import load_dataset
    >>> data = load_dataset("adding", seed=0)
    >>> sequence_shape(data), data.X_train.shape
    ((50, 2), (3000, 100))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ._errors import ConfigError
from .datasets import Dataset, Loader, register_dataset

SequenceShape = tuple[int, int]
"""``(steps, features)`` of the sequences whose values a dataset's rows hold."""

SEQUENCE_SHAPES: dict[str, SequenceShape] = {}
"""``(T, F)`` of every dataset registered with :func:`register_sequence_dataset`."""

ADDING_STEPS = 50
ORDER_STEPS = 60
ORDER_SYMBOLS = ("a", "b", "c", "d", "X", "Y")  # four distractors, then the two to remember
ORDER_CLASSES = ("XX", "XY", "YX", "YY")
"""The ``classes`` of ``temporal_order``: label ``i`` names the two symbols in their order."""
N_SEQUENCES = 5000


def register_sequence_dataset(
    name: str, *, task: str, shape: SequenceShape
) -> Callable[[Loader], Loader]:
    """Register a loader of flat sequence rows (see the module docstring) and its ``(T, F)``.

    Example:
        >>> @register_sequence_dataset("ramps", task="regression", shape=(5, 1))  # doctest: +SKIP
        ... def _ramps():
        ...     return np.tile(np.arange(5.0), (10, 1)), np.arange(10.0)
    """
    steps, features = shape
    if steps < 1 or features < 1:
        raise ValueError(f"sequence shape {shape!r} must be (steps, features), both >= 1")

    def decorator(load: Loader) -> Loader:
        registered = register_dataset(name, task=task)(load)
        SEQUENCE_SHAPES[name] = (int(steps), int(features))
        return registered

    return decorator


def sequence_shape(data: Dataset) -> SequenceShape:
    """``(T, F)`` of the sequences in ``data``'s rows.

    A dataset not registered with :func:`register_sequence_dataset` (e.g. your own windows of a
    time series) is a univariate series: ``(n_features, 1)``.

    Raises:
        ConfigError: the recorded shape does not match the width of the rows.

    Example:
        >>> from sweepforge.trainables import load_dataset
        >>> sequence_shape(load_dataset("temporal_order")), sequence_shape(load_dataset("iris"))
        ((60, 6), (4, 1))
    """
    steps, features = SEQUENCE_SHAPES.get(data.name, (data.n_features, 1))
    if steps * features != data.n_features:
        raise ConfigError(
            f"dataset {data.name!r} holds sequences of {steps} steps x {features} features = "
            f"{steps * features} values per row, but its rows have {data.n_features}",
            field="dataset",
        )
    return steps, features


def adding_problem(
    n: int, steps: int = ADDING_STEPS, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The adding problem: add the two values marked among ``steps`` random ones.

    Each step has two features: a value drawn from U(0, 1) and a marker, 1 at exactly two steps
    (one in each half of the sequence) and 0 elsewhere. The target is the sum of the two marked
    values. Predicting the mean (1.0) scores an MSE of Var(U1 + U2) = 1/6 ≈ 0.167; beating it
    needs memory of the first marked value until the second arrives.

    Example:
        >>> X, y = adding_problem(3, 4, seed=1)
        >>> steps = X.reshape(3, 4, 2)
        >>> bool(np.allclose((steps[..., 0] * steps[..., 1]).sum(1), y)), steps[..., 1].sum(1)
        (True, array([2., 2., 2.], dtype=float32))
    """
    if steps < 2:
        raise ValueError(f"the adding problem needs steps >= 2, got {steps}")
    rng = np.random.default_rng(seed)
    values = rng.random((n, steps))
    half = steps // 2
    markers = np.zeros((n, steps))
    rows = np.arange(n)
    markers[rows, rng.integers(0, half, n)] = 1.0
    markers[rows, rng.integers(half, steps, n)] = 1.0
    X = np.stack([values, markers], axis=2).reshape(n, steps * 2)
    return X.astype(np.float32), (values * markers).sum(axis=1).astype(np.float32)


def temporal_order(
    n: int, steps: int = ORDER_STEPS, *, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """The temporal-order problem: which of X / Y came first and which second.

    Each step is a one-hot symbol of :data:`ORDER_SYMBOLS` (``F = 6``). Every step holds a
    random distractor ``a..d`` except two: one in the first 10-30% of the sequence and one in
    the middle 50-70%, each X or Y. The label is the pair: XX = 0, XY = 1, YX = 2, YY = 3 (about
    a quarter each, so guessing the majority class scores ≈ 0.25).

    Example:
        >>> X, y = temporal_order(2, 10, seed=0)
        >>> symbols = X.reshape(2, 10, 6).argmax(2)
        >>> [[ORDER_SYMBOLS[s] for s in row if s >= 4] for row in symbols], y.tolist()
        ([['X', 'Y'], ['Y', 'X']], [1, 2])
    """
    if steps < 10:
        raise ValueError(f"the temporal-order problem needs steps >= 10, got {steps}")
    rng = np.random.default_rng(seed)
    symbols = rng.integers(0, 4, (n, steps))
    first, second = rng.integers(0, 2, n), rng.integers(0, 2, n)  # 0 = X, 1 = Y
    rows = np.arange(n)
    symbols[rows, rng.integers(steps // 10, 3 * steps // 10, n)] = 4 + first
    symbols[rows, rng.integers(steps // 2, 7 * steps // 10, n)] = 4 + second
    X = np.eye(len(ORDER_SYMBOLS), dtype=np.float32)[symbols].reshape(n, -1)
    return X, (2 * first + second).astype(np.int64)


def _step_names(steps: int, features: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(f"t{t}_{feature}" for t in range(steps) for feature in features)


@register_sequence_dataset("adding", task="regression", shape=(ADDING_STEPS, 2))
def load_adding() -> tuple[np.ndarray, np.ndarray, dict]:
    """5,000 adding-problem sequences of 50 steps (see :func:`adding_problem`)."""
    X, y = adding_problem(N_SEQUENCES, ADDING_STEPS, seed=0)
    return X, y, {"feature_names": _step_names(ADDING_STEPS, ("value", "marker"))}


@register_sequence_dataset(
    "temporal_order", task="classification", shape=(ORDER_STEPS, len(ORDER_SYMBOLS))
)
def load_temporal_order() -> tuple[np.ndarray, np.ndarray, dict]:
    """5,000 temporal-order sequences of 60 steps (see :func:`temporal_order`), labels named
    by their pair of symbols (:data:`ORDER_CLASSES`)."""
    X, y = temporal_order(N_SEQUENCES, ORDER_STEPS, seed=0)
    return X, y, {"feature_names": _step_names(ORDER_STEPS, ORDER_SYMBOLS),
                  "classes": ORDER_CLASSES}
