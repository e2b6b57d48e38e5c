"""What a user's data loader returns, made into the data a train function receives.

``dataset: {loader: ./my_data.py:load}`` names a function of no arguments, called once in the
master while the campaign is planned. It may return:

- ``(X, y)`` arrays or tensors: split with the campaign's seed into a :class:`~.datasets.Dataset`
  (``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``), the same sizes,
  calls and stratification the bundled datasets get;
- a mapping with ``train``, ``val`` and ``test``, each an ``(X, y)`` pair: kept as given;
- a pandas DataFrame, with ``target:`` naming its target column (as for a table file);
- anything else (a path, a map-style torch ``Dataset``, a dict of your own): handed to the
  train function unchanged.

The task (classification or regression) is ``task:`` when given, else read from ``y`` exactly
as a table's target column is (:mod:`.tables`): labels are coded ``0..k-1``.

Example:
    >>> import numpy as np
    >>> X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    >>> data = dataset_from_loader((X, y), name="mine:load", seed=0)
    >>> data.task, data.n_train, len(data.y_val), len(data.y_test)
    ('classification', 30, 10, 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ConfigError
from .datasets import TASKS, Dataset, split_dataset

_SPLITS = ("train", "val", "test")


def dataset_from_loader(result: Any, *, name: str, seed: int, target: str | None = None,
                        task: str | None = None, categorical: tuple[str, ...] = ()) -> Any:
    """The train functions' data from ``result``, what the loader ``name`` returned.

    Raises:
        ConfigError: ``None``; ``X`` and ``y`` of different lengths; a split with no rows; a
            DataFrame without ``target``; a ``task`` that is not a known task.
    """
    from .tables import table_arrays  # here: pandas-heavy, and only tables need it

    if task is not None and task not in TASKS:
        raise ConfigError(f"dataset.task: {task!r} is not a task; choose one of: "
                          f"{', '.join(TASKS)}", field="task")
    if result is None:
        raise ConfigError(f"dataset.loader: {name} returned None; return (X, y), a dict with "
                          "train/val/test, a pandas DataFrame, or what your train function "
                          "reads", field="loader")
    if isinstance(result, pd.DataFrame):
        if target is None:
            raise ConfigError(f"dataset.target: {name} returned a DataFrame; name its target "
                              f"column (target: ...); its columns: {', '.join(map(str, result.columns))}",
                              field="target")
        X, y, extras, found = table_arrays(result, target=target, categorical=categorical,
                                           task=task, source=f"the DataFrame of {name}")
        return split_dataset(name, found, X, y, seed=seed, **extras)
    if isinstance(result, tuple) and len(result) == 2:
        X, y = _pair(result, name, "")
        y, found = _labels(y, task, name)
        return split_dataset(name, found, X, y, seed=seed)
    if isinstance(result, Mapping) and set(result) == set(_SPLITS):
        pairs = [_pair(result[split], name, f"[{split!r}]") for split in _SPLITS]
        # the labels of all three coded together, so a class has one code in each split
        y, found = _labels(np.concatenate([y for _, y in pairs]), task, name)
        ends = np.cumsum([len(part) for _, part in pairs])[:-1]
        parts = [(X, coded) for (X, _), coded in zip(pairs, np.split(y, ends))]
        return Dataset(name, found, *(array for pair in parts for array in pair))
    return result  # the user's own kind of data: the train function knows it


def _pair(value: Any, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ConfigError(f"dataset.loader: {name}{where} must be an (X, y) pair, got "
                          f"{type(value).__name__}", field="loader")
    X, y = (_array(part) for part in value)
    if len(X) != len(y):
        raise ConfigError(f"dataset.loader: {name}{where} returned X with {len(X)} rows and y "
                          f"with {len(y)}; they must have the same length", field="loader")
    if len(X) == 0:
        raise ConfigError(f"dataset.loader: {name}{where} returned no rows", field="loader")
    try:
        return X.reshape(len(X), -1).astype(np.float32), y
    except (TypeError, ValueError) as err:
        raise ConfigError(f"dataset.loader: {name}{where} returned X that is not numeric ({err}); "
                          "return numbers (encode text and categories first), or a DataFrame "
                          "with target:", field="loader") from None


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _labels(y: np.ndarray, task: str | None, name: str) -> tuple[np.ndarray, str]:
    """``y`` coded for its task, given or read from the values exactly as a table's target
    column is (:mod:`.tables`)."""
    from .tables import _target

    return _target(pd.Series(y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y), "y", task,
                   f"the data of {name}")
