"""A pandas column of raw values as the numbers a :class:`~.predictors.Predictor` reads, or an
error that quotes the bad values and their rows: level names of a categorical column become
their codes, other columns must be numeric.

pandas is imported only when a frame arrives: a predictor fed arrays never imports it.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

_SHOWN = 3
"""How many bad values an input error quotes."""

_SHOWN_LEVELS = 20
"""How many allowed levels an input error lists."""


def is_frame(raw: Any) -> bool:
    # pandas is imported only by who made a frame: a predictor fed arrays never imports it.
    pandas = sys.modules.get("pandas")
    return pandas is not None and isinstance(raw, pandas.DataFrame)


def _listed(values: Sequence[Any], limit: int) -> str:
    shown = ", ".join(repr(v) for v in values[:limit])
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _quoted(series: Any, bad: np.ndarray) -> str:
    """``'x' (row 3), 'y' (row 7)``: the first few different values where ``bad`` holds."""
    first: dict[str, int] = {}
    for row in np.flatnonzero(bad)[:10_000]:  # enough to find a few different values
        first.setdefault(repr(_plain(series.iloc[row])), int(row))
        if len(first) > _SHOWN:
            break
    shown = [f"{value} (row {row})" for value, row in list(first.items())[:_SHOWN]]
    return ", ".join(shown) + (", ..." if len(first) > _SHOWN else "")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def category_codes(series: Any, name: str, levels: tuple[Any, ...]) -> np.ndarray:
    """Codes of a categorical column's level values (the code of ``levels[c]`` is ``c``)."""
    import pandas as pd

    values = series.to_numpy(dtype=object)
    missing = series.isna().to_numpy()
    allowed = _listed(levels, _SHOWN_LEVELS)
    if missing.any():
        raise ValueError(
            f"categorical column {name!r} is missing (NaN/None) at {rows_of(missing)}; it "
            f"must hold one of its levels: {allowed}"
        )
    codes = pd.Index(levels, dtype=object).get_indexer(values)
    unseen = codes < 0
    if unseen.any():
        several = len({repr(v) for v in values[unseen][: _SHOWN + 1]}) > 1
        raise ValueError(
            f"categorical column {name!r} holds {'levels' if several else 'a level'} never "
            f"seen in training: {_quoted(series, unseen)}; its levels: {allowed}"
        )
    return codes


def rows_of(bad: np.ndarray) -> str:
    """``row 4`` or ``rows 1, 4, 9, ...``: the first few rows where ``bad`` holds."""
    rows = np.flatnonzero(bad)
    shown = ", ".join(str(int(r)) for r in rows[:_SHOWN])
    return f"row{'s' if len(rows) > 1 else ''} {shown}" + (", ..." if len(rows) > _SHOWN else "")


def numeric_column(series: Any, name: str, n_codes: int | None) -> np.ndarray:
    """A numeric column (or a categorical one holding codes) as float32."""
    import pandas as pd

    if pd.api.types.is_numeric_dtype(series):  # bool counts, as 0 / 1
        return series.to_numpy(dtype=np.float32, na_value=np.nan)
    values = pd.Series(series.to_numpy(dtype=object), dtype=object)  # no dates read as numbers
    numbers = pd.to_numeric(values, errors="coerce")
    bad = (numbers.isna() & ~series.isna().reset_index(drop=True)).to_numpy()
    if bad.any() or not pd.api.types.is_numeric_dtype(numbers):
        bad = bad if bad.any() else np.ones(len(series), dtype=bool)
        what = (
            f"categorical column {name!r} has no level names kept, so it must hold codes "
            f"0..{n_codes - 1}"
            if n_codes is not None
            else f"column {name!r} must be numeric"
        )
        raise ValueError(f"{what}, but it holds {_quoted(series, bad)}")
    return numbers.to_numpy(dtype=np.float32, na_value=np.nan)
