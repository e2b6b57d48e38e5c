"""What a user's data loader returns, made into the data a train function receives.

``dataset: {loader: ./my_data.py:load}`` names a function of no arguments, called once in the
master while the campaign is planned. It may return:

- ``(X, y)`` arrays or tensors: split with the campaign's seed into a :class:`~.datasets.Dataset`
  (``X_train``, ``y_train``, ``X_val``, ``y_val``, ``X_test``, ``y_test``), the same sizes,
  calls and stratification the bundled datasets get. Images keep their shape: ``X`` of shape
  ``(n, H, W)`` or ``(n, C, H, W)``, channels first, gives ``image_shape`` ``(1, H, W)`` or
  ``(C, H, W)`` (rows are stored flat, as for the bundled image datasets). Channels last
  ``(n, H, W, C)`` cannot be told from channels first: move them first (``X.transpose(0, 3, 1,
  2)``, ``x.permute(0, 3, 1, 2)``). Other shapes are flattened to one row per sample;
- a list ``[X, y]``: taken as ``(X, y)`` when ``X`` is a numpy array, tensor, pandas object,
  list or tuple of numbers and ``y`` is one of those kinds with as many rows; any other list of
  two (two paths, two arrays of different lengths) is handed through unchanged;
- a mapping with ``train``, ``val`` and ``test``, each an ``(X, y)`` pair: kept as given (images
  as above; the three must have the same image shape, or the same number of columns);
- a pandas DataFrame, with ``target:`` naming its target column (as for a table file);
- a map-style torch ``Dataset`` (one with ``__len__``; not an ``IterableDataset``): split by
  index with the campaign's seed, 60/20/20 like the bundled datasets (not stratified), into a
  :class:`TorchDatasetSplits` of ``train``, ``val`` and ``test`` ``Subset`` views;
- anything else (a path, an ``IterableDataset``, a dict of your own): handed to the train
  function unchanged.

The task (classification or regression) is ``task:`` when given, else read from ``y`` exactly
as a table's target column is (:mod:`.tables`): labels are coded ``0..k-1`` and
``Dataset.classes`` keeps their original values in code order (sorted: ``("cat", "dog")``).

Torch is never imported here: a torch ``Dataset`` or tensor can only come from a loader that
imported torch itself, so scikit-learn projects do not pay for it.

Example:
    >>> import numpy as np
    >>> X, y = np.random.default_rng(0).normal(size=(50, 3)), np.arange(50) % 2
    >>> data = dataset_from_loader((X, y), name="mine:load", seed=0)
    >>> data.task, data.n_train, len(data.y_val), len(data.y_test), data.classes
    ('classification', 30, 10, 10, (0, 1))
    >>> images = dataset_from_loader([np.zeros((50, 8, 8)), y], name="mine:load", seed=0)
    >>> images.image_shape, images.X_train.shape
    ((1, 8, 8), (30, 64))
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ._errors import ConfigError
from .datasets import (
    TASKS,
    TEST_FRACTION,
    VAL_FRACTION,
    Dataset,
    ImageShape,
    _split_sizes,
    split_dataset,
)

if TYPE_CHECKING:
    from torch.utils.data import Subset

_SPLITS = ("train", "val", "test")


@dataclass(frozen=True, eq=False)
class TorchDatasetSplits:
    """A map-style torch ``Dataset`` that the loader ``name`` returned, split by index.

    ``train``, ``val`` and ``test`` are :class:`torch.utils.data.Subset` views of that dataset
    (no item is read or copied) with 60/20/20 of its indices, the sizes the bundled datasets'
    splits have, drawn by a random permutation seeded with the campaign's seed: the same seed
    gives the same indices (``data.train.indices``). The split is not stratified. Wrap each in a
    ``DataLoader`` in the train function.

    Example:
        >>> import torch
        >>> from torch.utils.data import TensorDataset
        >>> data = dataset_from_loader(TensorDataset(torch.arange(10.0)), name="mine:load", seed=0)
        >>> len(data.train), len(data.val), len(data.test)
        (6, 2, 2)
    """

    name: str
    train: Subset
    val: Subset
    test: Subset

    def with_validation_in_training(self) -> TorchDatasetSplits:
        """The same splits with the validation indices appended to ``train`` (what a final
        refit with ``refit: train+val`` trains on). ``val`` stays as it is, so its metrics are
        no longer held out; ``test`` is untouched.

        Example:
            >>> import torch
            >>> from torch.utils.data import TensorDataset
            >>> data = dataset_from_loader(TensorDataset(torch.arange(10.0)), name="mine:load", seed=0)
            >>> joined = data.with_validation_in_training()
            >>> len(joined.train), len(joined.val), len(joined.test)
            (8, 2, 2)
        """
        from torch.utils.data import Subset  # imported already: the loader made a torch Dataset

        joined = Subset(self.train.dataset, [*self.train.indices, *self.val.indices])
        return dataclasses.replace(self, train=joined)


def dataset_from_loader(result: Any, *, name: str, seed: int, target: str | None = None,
                        task: str | None = None, categorical: tuple[str, ...] = ()) -> Any:
    """The train functions' data from ``result``, what the loader ``name`` returned.

    Raises:
        ConfigError: ``None``; an ``(X, y)`` tuple whose parts are not arrays; ``X`` and ``y``
            of different lengths; a split with no rows; train/val/test splits of different
            image shapes or widths; a DataFrame without ``target``; a torch ``Dataset`` too
            small for three splits; a ``task`` that is not a known task.
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
    pair = result if isinstance(result, tuple) and len(result) == 2 else _listed_pair(result)
    if pair is not None:
        X, y = _pair(pair, name, "")
        y, found, classes = _labels(y, task, name)
        return split_dataset(name, found, _flat(X), y, seed=seed, image_shape=_image_shape(X),
                             classes=classes)
    if isinstance(result, Mapping) and set(result) == set(_SPLITS):
        return _given_splits(result, name, task)
    if _is_map_style_torch_dataset(result):
        return _torch_splits(result, name, seed)
    return result  # the user's own kind of data: the train function knows it


def _listed_pair(value: Any) -> tuple[np.ndarray, np.ndarray] | None:
    """``[X, y]`` as arrays when ``value`` is a list of two array-likes, ``X`` of numbers and
    ``y`` with as many rows; ``None`` for any other value (handed through unchanged)."""
    if not (isinstance(value, list) and len(value) == 2
            and all(_is_array_like(part) for part in value)):
        return None
    try:
        X, y = (_array(part) for part in value)
    except (TypeError, ValueError):  # ragged lists: not arrays
        return None
    if X.ndim == 0 or y.ndim == 0 or len(X) != len(y) or X.dtype.kind not in "biuf":
        return None
    return X, y


def _is_array_like(value: Any) -> bool:
    torch = sys.modules.get("torch")
    return (isinstance(value, (np.ndarray, pd.Series, pd.DataFrame, list, tuple))
            or (torch is not None and isinstance(value, torch.Tensor)))


def _pair(value: Any, name: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    """``value``, an ``(X, y)`` pair, as arrays of the same non-zero length; ``X`` float32 in
    its own shape (flattened by :func:`_flat`)."""
    if not (isinstance(value, (tuple, list)) and len(value) == 2):
        raise ConfigError(f"dataset.loader: {name}{where} must be an (X, y) pair, got "
                          f"{type(value).__name__}", field="loader")
    X, y = (_array(part) for part in value)
    if X.ndim == 0 or y.ndim == 0:
        raise ConfigError(f"dataset.loader: {name}{where} must be an (X, y) pair of arrays or "
                          f"tensors, got {type(value[0]).__name__} and {type(value[1]).__name__}",
                          field="loader")
    if len(X) != len(y):
        raise ConfigError(f"dataset.loader: {name}{where} returned X with {len(X)} rows and y "
                          f"with {len(y)}; they must have the same length", field="loader")
    if len(X) == 0:
        raise ConfigError(f"dataset.loader: {name}{where} returned no rows", field="loader")
    if X.size == 0:
        raise ConfigError(f"dataset.loader: {name}{where} returned X of shape {X.shape}, with no "
                          "values in a row", field="loader")
    try:
        return X.astype(np.float32), y
    except (TypeError, ValueError) as err:
        raise ConfigError(f"dataset.loader: {name}{where} returned X that is not numeric ({err}); "
                          "return numbers (encode text and categories first), or a DataFrame "
                          "with target:", field="loader") from None


def _flat(X: np.ndarray) -> np.ndarray:
    """One row per sample, as a :class:`Dataset` holds them (images ``C, H, W`` in order)."""
    return X.reshape(len(X), -1)


def _image_shape(X: np.ndarray) -> ImageShape | None:
    """``(C, H, W)`` of images ``X`` of shape ``(n, H, W)`` (one channel) or ``(n, C, H, W)``
    (channels first); ``None`` for any other shape (a table).

    Example:
        >>> _image_shape(np.zeros((5, 28, 28))), _image_shape(np.zeros((5, 3, 32, 32)))
        ((1, 28, 28), (3, 32, 32))
    """
    if X.ndim == 3:
        return (1, int(X.shape[1]), int(X.shape[2]))
    if X.ndim == 4:
        return (int(X.shape[1]), int(X.shape[2]), int(X.shape[3]))
    return None


def _given_splits(result: Mapping, name: str, task: str | None) -> Dataset:
    """The loader's own train/val/test pairs, kept as given; their labels coded together."""
    pairs = [_pair(result[split], name, f"[{split!r}]") for split in _SPLITS]
    image_shape = _same_rows(pairs, name)
    # the labels of all three coded together, so a class has one code in each split
    y, found, classes = _labels(np.concatenate([y for _, y in pairs]), task, name)
    ends = np.cumsum([len(part) for _, part in pairs])[:-1]
    parts = [(_flat(X), coded) for (X, _), coded in zip(pairs, np.split(y, ends))]
    return Dataset(name, found, *(array for pair in parts for array in pair),
                   image_shape=image_shape, classes=classes)


def _same_rows(pairs: list[tuple[np.ndarray, np.ndarray]], name: str) -> ImageShape | None:
    """The image shape the three splits share (``None``: tables of one width); a split whose
    rows differ from the training split's is a :class:`ConfigError` naming it."""
    rows = [(_image_shape(X), _flat(X).shape[1]) for X, _ in pairs]
    for split, row in zip(_SPLITS[1:], rows[1:]):
        if row != rows[0]:
            raise ConfigError(
                f"dataset.loader: {name}[{split!r}] returned {_rows_text(*row)}, but "
                f"{name}['train'] returned {_rows_text(*rows[0])}; train, val and test must "
                "have the same image shape (C, H, W), channels first, or the same number of "
                "columns", field="loader")
    return rows[0][0]


def _rows_text(image_shape: ImageShape | None, width: int) -> str:
    return f"images of shape {image_shape}" if image_shape else f"rows of {width} values"


def _is_map_style_torch_dataset(value: Any) -> bool:
    """Whether ``value`` is a torch ``Dataset`` read by index, with a length. Only asked of
    torch when the loader imported it: this never imports torch."""
    data = sys.modules.get("torch.utils.data")
    return (data is not None and isinstance(value, data.Dataset)
            and not isinstance(value, data.IterableDataset) and hasattr(value, "__len__"))


def _torch_splits(dataset: Any, name: str, seed: int) -> TorchDatasetSplits:
    """``dataset`` split 60/20/20 by a permutation of its indices seeded with ``seed``."""
    from torch.utils.data import Subset  # imported already: the loader made a torch Dataset

    n = len(dataset)
    try:
        n_val, n_test = _split_sizes(name, n, VAL_FRACTION, TEST_FRACTION)
    except ConfigError:
        raise ConfigError(f"dataset.loader: {name} returned a torch Dataset of {n} items; it is "
                          "split 60/20/20 into train, val and test, so it needs at least 3",
                          field="loader") from None
    order = np.random.default_rng(seed).permutation(n).tolist()
    n_train = n - n_val - n_test
    return TorchDatasetSplits(name, Subset(dataset, order[:n_train]),
                              Subset(dataset, order[n_train:n_train + n_val]),
                              Subset(dataset, order[n_train + n_val:]))


def _array(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):  # a torch tensor
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _labels(y: np.ndarray, task: str | None,
            name: str) -> tuple[np.ndarray, str, tuple[Any, ...] | None]:
    """``(y, task, classes)``: ``y`` coded for its task, given or read from the values exactly
    as a table's target column is (:mod:`.tables`); ``classes`` are the original labels in code
    order (``None`` for regression)."""
    from .tables import _target

    return _target(pd.Series(y.reshape(len(y), -1)[:, 0] if y.ndim > 1 else y), "y", task,
                   f"the data of {name}")
