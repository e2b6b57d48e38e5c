"""Config <-> unit-cube translation, one coordinate per parameter (used by the evolutionary
strategy and by random sampling).

Mapping of a coordinate ``u`` in [0, 1]:

* float: linear ``low + u * (high - low)``, or the same on ``log`` values;
* int: ``n`` equal bins, one per value (linear); log-scaled ints map ``u`` onto
  ``[log(low - 0.5), log(high + 0.5)]`` and round, so every value gets a log-proportional share;
* categorical: ``k`` equal bins, one per choice;
* an inactive parameter encodes to 0.5 and is left out when decoding.

A uniform ``u`` therefore decodes to a uniform (log-uniform) draw, and
``decode(encode(c)) == c`` for every valid config ``c`` (floats up to rounding).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._params import Categorical, Float, Int, Param, SpaceError

if TYPE_CHECKING:
    from ._space import Space


def encode(space: Space, config: Mapping[str, Any]) -> np.ndarray:
    space.validate(config)
    return np.array(
        [_encode_one(p, config[p.name]) if p.name in config else 0.5 for p in space.params]
    )


def decode(space: Space, vector: Iterable[float]) -> dict[str, Any]:
    u = np.asarray(list(vector), dtype=float)
    if u.shape != (len(space),):
        raise SpaceError(f"expected a vector of {len(space)} coordinates, got shape {u.shape}.")
    if not np.all(np.isfinite(u)):
        raise SpaceError(f"cannot decode a vector with non-finite coordinates: {u.tolist()}.")
    u = np.clip(u, 0.0, 1.0)
    config: dict[str, Any] = {}
    for param, coordinate in zip(space.params, u):
        if space.is_active(param.name, config):
            config[param.name] = _decode_one(param, float(coordinate))
    return config


def _encode_one(param: Param, value: Any) -> float:
    if isinstance(param, Categorical):
        return (param.index(value) + 0.5) / len(param.choices)
    if isinstance(param, Int) and not param.log:
        return ((value - param.low) // param.step + 0.5) / param.n_values
    low, high = _bounds(param)
    value = float(value)
    if param.log:
        value, low, high = math.log(value), math.log(low), math.log(high)
    if high == low:  # also when distinct bounds share a logarithm
        return 0.5
    return (value - low) / (high - low)


def _decode_one(param: Param, u: float) -> Any:
    if isinstance(param, Categorical):
        return param.choices[_bin(u, len(param.choices))]
    if isinstance(param, Int) and not param.log:
        return param.low + _bin(u, param.n_values) * param.step
    low, high = _bounds(param)
    if param.log:
        value = math.exp(math.log(low) + u * (math.log(high) - math.log(low)))
    else:
        value = low + u * (high - low)
    if isinstance(param, Int):
        return int(min(max(round(value), param.low), param.high))
    return float(min(max(value, param.low), param.high))


def _bounds(param: Float | Int) -> tuple[float, float]:
    """The continuous interval a coordinate spans (log ints get half a unit either side)."""
    if isinstance(param, Int):
        return param.low - 0.5, param.high + 0.5
    return param.low, param.high


def _bin(u: float, n: int) -> int:
    return min(int(u * n), n - 1)
