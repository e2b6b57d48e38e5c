"""Tabular data with categorical columns: the user's own CSV/parquet files, and ``diamonds``.

:func:`load_table` reads a file into a :class:`~.datasets.Dataset` split the way
:func:`~.datasets.load_dataset` splits a registered one (same sizes, same seed, stratified for
classification). :func:`table_arrays` does the conversion for any ``pandas`` frame:

- each column named in ``categorical`` becomes integer codes ``0..n-1`` (levels in sorted
  order, or in the column's own order for a pandas ``category``); ``Dataset.categories`` maps its
  column index to ``n``, ``Dataset.levels`` to its level values in code order. Codes are
  assigned on the whole table before it is split, so a level that only occurs in the validation
  or test rows still has a code (its embedding is simply never trained);
- every other feature column must be numeric and becomes ``float32``;
- the target is label-encoded for classification, in the same order, and ``Dataset.classes``
  keeps its label values in code order (``("no", "yes")``); a numeric target is a regression
  target, unless it holds at most :data:`MAX_INFERRED_CLASSES` distinct whole numbers (then it
  is read as class labels). Pass ``task`` to decide yourself.

Bad input raises :class:`~._errors.ConfigError` naming what is wrong and what is allowed;
``err.field`` is the argument at fault (``path``, ``target``, ``categorical``, ``task``).

Example:
    >>> import pandas as pd, tempfile, os
    >>> frame = pd.DataFrame({"shop": list("abcab") * 4, "size": range(20),
    ...                       "sales": [float(i % 7) + 0.5 for i in range(20)]})
    >>> path = os.path.join(tempfile.mkdtemp(), "sales.csv")
    >>> frame.to_csv(path, index=False)
    >>> data = load_table(path, target="sales", categorical=["shop"])
    >>> data.task, data.feature_names, dict(data.categories), data.n_train
    ('regression', ('shop', 'size'), {0: 3}, 12)
    >>> data.levels, data.classes
    ({0: ('a', 'b', 'c')}, None)
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ._errors import ConfigError, did_you_mean
from .datasets import Dataset, register_dataset, split_dataset

FILE_TYPES = (".csv", ".parquet")
"""File name endings :func:`load_table` reads."""

TABLE_TASKS = ("classification", "regression")

MAX_INFERRED_CLASSES = 20
"""A numeric target of whole numbers with at most this many distinct values is read as class
labels when ``task`` is not given; anything else numeric is a regression target."""

_PYARROW_HINT = (
    "reading parquet needs pyarrow (it comes with mlflow); install it with: pip install pyarrow"
)


def load_table(
    path: str | Path,
    *,
    target: str,
    categorical: Iterable[str] = (),
    task: str | None = None,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
    name: str | None = None,
) -> Dataset:
    """Read a CSV or parquet file and split it into train / validation / test parts.

    Args:
        path: a ``.csv`` or ``.parquet`` file with a header row of column names.
        target: the column to predict; every other column is a feature.
        categorical: feature columns holding categories (strings or numbers); each becomes
            integer codes ``0..n-1``. Any other non-numeric feature column is an error.
        task: ``"classification"`` or ``"regression"``; inferred from the target when ``None``.
        seed, val_fraction, test_fraction: the split, exactly as in
            :func:`~.datasets.load_dataset`.
        name: the dataset's name; default the file name without its ending.

    Raises:
        ConfigError: a missing or unreadable file, an unknown column, NaNs, a one-class target,
            a non-numeric column not declared categorical; ``err.field`` names the argument.

    Example:
        >>> load_table("no/such.csv", target="y")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: table file 'no/such.csv' does not exist...
    """
    path = Path(path).expanduser()
    frame = read_table(path)
    X, y, extras, task = table_arrays(
        frame, target=target, categorical=categorical, task=task, source=f"'{path}'"
    )
    return split_table(
        name or path.stem, task, X, y, extras,
        seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
    )


def read_table(path: Path) -> pd.DataFrame:
    """Read ``path`` (``.csv`` or ``.parquet``) into a frame with string column names."""
    if not path.exists():
        raise ConfigError(
            f"table file '{path}' does not exist (relative paths in a campaign file are "
            "resolved against the file's folder)",
            field="path",
        )
    if not path.is_file():
        raise ConfigError(f"table path '{path}' is not a file", field="path")
    kind = path.suffix.lower()
    if kind not in FILE_TYPES:
        raise ConfigError(
            f"table file '{path}' has type {kind or '(no ending)'!r}; allowed: "
            f"{', '.join(FILE_TYPES)}",
            field="path",
        )
    try:
        if kind == ".csv":
            frame = pd.read_csv(path)
        else:
            try:
                import pyarrow  # noqa: F401
            except ModuleNotFoundError:
                raise ConfigError(_PYARROW_HINT, field="path") from None
            frame = pd.read_parquet(path)
    except ConfigError:
        raise
    except (ValueError, OSError, UnicodeDecodeError) as err:  # pandas' parse errors included
        raise ConfigError(f"cannot read table file '{path}': {err}", field="path") from None
    frame.columns = [str(column) for column in frame.columns]
    if frame.empty:
        raise ConfigError(f"table file '{path}' holds no rows", field="path")
    return frame


def table_arrays(
    frame: pd.DataFrame,
    *,
    target: str,
    categorical: Iterable[str] = (),
    task: str | None = None,
    source: str = "the table",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any], str]:
    """Turn a frame into ``(X, y, extras, task)`` for :class:`~.datasets.Dataset`.

    ``extras`` holds ``feature_names``, ``categories``, ``levels`` (the level values of each
    categorical column, in code order) and ``classes`` (the target's label values in code order;
    ``None`` for regression); a registered loader may return ``(X, y, extras)`` directly.
    ``source`` names the table in error messages.

    Example:
        >>> frame = pd.DataFrame({"colour": ["red", "blue", "red"], "ok": ["y", "n", "y"]})
        >>> X, y, extras, task = table_arrays(frame, target="ok", categorical=["colour"])
        >>> X.ravel().tolist(), y.tolist(), extras["categories"], task
        ([1.0, 0.0, 1.0], [1, 0, 1], {0: 2}, 'classification')
        >>> extras["levels"], extras["classes"]
        ({0: ('blue', 'red')}, ('n', 'y'))
    """
    columns = list(frame.columns)
    if target not in columns:
        raise ConfigError(
            f"target column {target!r} is not in {source}{did_you_mean(target, columns)}; "
            f"its columns: {', '.join(columns)}",
            field="target",
        )
    categorical = _checked_categorical(categorical, columns, target, source)
    features = [column for column in columns if column != target]
    if not features:
        raise ConfigError(f"{source} has no feature columns besides target {target!r}",
                          field="target")
    _check_finite_features(frame, features, source)
    loose = [c for c in features if c not in categorical and not _is_numeric(frame[c])]
    if loose:
        raise ConfigError(
            f"column{'s' if len(loose) > 1 else ''} {', '.join(map(repr, loose))} of {source} "
            f"{'are' if len(loose) > 1 else 'is'} not numeric; declare "
            f"{'them' if len(loose) > 1 else 'it'} in categorical (e.g. categorical: "
            f"[{', '.join(loose)}]) or drop {'them' if len(loose) > 1 else 'it'} from the file",
            field="categorical",
        )
    y, task, classes = _target(frame[target], target, task, source)
    X = np.empty((len(frame), len(features)), dtype=np.float32)
    categories: dict[int, int] = {}
    levels: dict[int, tuple[Any, ...]] = {}
    for index, column in enumerate(features):
        if column in categorical:
            codes, levels[index] = _codes(frame[column])
            X[:, index] = codes
            categories[index] = len(levels[index])
        else:
            X[:, index] = frame[column].to_numpy(dtype=np.float32)
    extras = {"feature_names": tuple(features), "categories": categories, "levels": levels,
              "classes": classes}
    return X, y, extras, task


def split_table(
    name: str,
    task: str,
    X: np.ndarray,
    y: np.ndarray,
    extras: dict[str, Any],
    *,
    seed: int = 0,
    val_fraction: float = 0.2,
    test_fraction: float = 0.2,
) -> Dataset:
    """Split ``X``, ``y`` as :func:`~.datasets.load_dataset` does (same sizes and calls)."""
    return split_dataset(
        name, task, X, y, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction,
        **extras,
    )


def _checked_categorical(
    categorical: Iterable[str], columns: list[str], target: str, source: str
) -> list[str]:
    if isinstance(categorical, str):
        raise ConfigError(
            f"categorical={categorical!r} must be a list of column names, e.g. [{categorical}]",
            field="categorical",
        )
    names = list(dict.fromkeys(str(c) for c in categorical))  # unique, in the order given
    for column in names:
        if column not in columns:
            raise ConfigError(
                f"categorical column {column!r} is not in {source}"
                f"{did_you_mean(column, columns)}; its columns: {', '.join(columns)}",
                field="categorical",
            )
    if target in names:
        raise ConfigError(
            f"target {target!r} is also listed in categorical; categorical lists feature "
            "columns only (a categorical target means task: classification)",
            field="categorical",
        )
    return names


def _check_finite_features(frame: pd.DataFrame, features: list[str], source: str) -> None:
    bad = {}
    for column in features:
        series = frame[column]
        missing = int(series.isna().sum())
        if _is_numeric(series):
            values = series.to_numpy(dtype=np.float64, na_value=np.nan)
            missing += int(np.isinf(values).sum())
        if missing:
            bad[column] = missing
    if bad:
        listed = ", ".join(f"{column!r} ({count} rows)" for column, count in bad.items())
        raise ConfigError(
            f"{source} has missing (NaN/empty) or infinite values in feature columns {listed}; "
            "fill or drop them before training",
            field="path",
        )


def _target(
    series: pd.Series, name: str, task: str | None, source: str
) -> tuple[np.ndarray, str, tuple[Any, ...] | None]:
    """``(y, task, classes)`` of a target column: ``classes`` are the label values in code
    order for classification, ``None`` for regression."""
    if task is not None and task not in TABLE_TASKS:
        raise ConfigError(
            f"task={task!r} is not allowed for a table; choose one of: {', '.join(TABLE_TASKS)}"
            f"{did_you_mean(str(task), TABLE_TASKS)}",
            field="task",
        )
    missing = int(series.isna().sum())
    if missing:
        raise ConfigError(
            f"target column {name!r} of {source} is missing (NaN/empty) in {missing} rows; "
            "drop those rows",
            field="target",
        )
    numeric = _is_numeric(series)
    if task is None:
        task = "regression" if numeric and not _looks_like_labels(series) else "classification"
    if task == "regression":
        if not numeric:
            raise ConfigError(
                f"target column {name!r} of {source} is not numeric (e.g. "
                f"{series.iloc[0]!r}), so it cannot be a regression target; use task: "
                "classification",
                field="task",
            )
        y = series.to_numpy(dtype=np.float64)
        if not np.isfinite(y).all():
            raise ConfigError(f"target column {name!r} of {source} holds infinite values",
                              field="target")
        return y.astype(np.float32), task, None
    codes, levels = _codes(series)
    if len(levels) < 2:
        raise ConfigError(
            f"target column {name!r} of {source} holds one class only ({series.iloc[0]!r}); "
            "classification needs at least 2 (or use task: regression for a numeric target)",
            field="target",
        )
    return codes, task, levels


def _codes(series: pd.Series) -> tuple[np.ndarray, tuple[Any, ...]]:
    """Integer codes ``0..n-1`` of a column and its ``n`` levels in code order (plain Python
    values); levels sorted where they can be compared, in the column's own order for a pandas
    ``category``. The caller rules out NaN."""
    if not isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype("category")
    series = series.cat.remove_unused_categories()
    codes = series.cat.codes.to_numpy()
    return codes.astype(np.int64), tuple(series.cat.categories.tolist())


def _is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series)  # bool columns count, as 0 / 1


def _looks_like_labels(series: pd.Series) -> bool:
    if pd.api.types.is_bool_dtype(series):
        return True
    values = series.to_numpy(dtype=np.float64)
    whole = np.isfinite(values).all() and bool((values == np.round(values)).all())
    return whole and series.nunique() <= MAX_INFERRED_CLASSES


# --- diamonds ---------------------------------------------------------------------------

DIAMONDS_CATEGORICAL = ("cut", "color", "clarity")

_PLOTNINE_HINT = 'the "diamonds" dataset needs plotnine; install it with: pip install plotnine'


@register_dataset("diamonds", task="regression")
def load_diamonds() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Return the 53,940 diamonds of ``plotnine.data.diamonds``: ``price`` from carat, cut,
    color, clarity, depth, table, x, y, z (``cut``, ``color``, ``clarity`` are categorical,
    coded in their quality order).

    Example:
        >>> X, y, extras = load_diamonds()
        >>> X.shape, extras["feature_names"][:4], extras["categories"]
        ((53940, 9), ('carat', 'cut', 'color', 'clarity'), {1: 5, 2: 7, 3: 8})
        >>> extras["levels"][1]
        ('Fair', 'Good', 'Very Good', 'Premium', 'Ideal')
    """
    try:
        from plotnine.data import diamonds
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError(_PLOTNINE_HINT) from err
    X, y, extras, _ = table_arrays(
        diamonds, target="price", categorical=DIAMONDS_CATEGORICAL, task="regression",
        source="plotnine.data.diamonds",
    )
    return X, y, extras


# --- store_sales --------------------------------------------------------------------------

STORE_SALES_ROWS = 20_000
STORE_SALES_STORES = 1_000


@register_dataset("store_sales", task="regression")
def load_store_sales() -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """A generated Rossmann-like table where embeddings should pay: daily ``sales`` of 1,000
    stores (a categorical column with 1,000 levels, about 20 rows each).

    Each store has a hidden 3-number profile; how much it sells, how it reacts to the day of
    the week and to a promotion all follow from that profile, so stores that behave alike can
    learn from each other. Columns: ``store`` (1000 levels), ``day_of_week`` (7), ``month``
    (12), ``promo`` (0/1), ``competition_km``; sales = exp(log-sales + 5% noise). Generated
    with a fixed seed: the same table every time.

    Example:
        >>> X, y, extras = load_store_sales()
        >>> X.shape, extras["categories"]
        ((20000, 5), {0: 1000, 1: 7, 2: 12})
    """
    rng = np.random.default_rng(20151)
    n, stores = STORE_SALES_ROWS, STORE_SALES_STORES
    profile = rng.normal(size=(stores, 3))
    store = rng.integers(0, stores, size=n)
    day = rng.integers(0, 7, size=n)
    month = rng.integers(0, 12, size=n)
    promo = (rng.random(n) < 0.4).astype(np.float64)
    distance = rng.lognormal(mean=1.0, sigma=1.0, size=n)
    week_shape = rng.normal(size=(7, 3))
    season = 0.1 * np.sin(2 * np.pi * np.arange(12) / 12)
    p = profile[store]
    log_sales = (
        8.5
        + 0.5 * p[:, 0]
        + 0.15 * np.einsum("ij,ij->i", p, week_shape[day])
        + promo * (0.2 + 0.15 * p[:, 1])
        + season[month]
        - 0.05 * np.log1p(distance) * (1.0 + 0.5 * np.tanh(p[:, 2]))
        + rng.normal(scale=0.05, size=n)
    )
    X = np.column_stack([store, day, month, promo, distance]).astype(np.float32)
    extras = {
        "feature_names": ("store", "day_of_week", "month", "promo", "competition_km"),
        "categories": {0: stores, 1: 7, 2: 12},
    }
    return X, np.exp(log_sales).astype(np.float32), extras
