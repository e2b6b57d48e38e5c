"""Grid enumeration: continuous parameters cut into ``levels`` values, categoricals taken whole.

Points are addressed by index, so a strategy can walk a huge grid in any order without
building it. With conditions, a conditional parameter multiplies only the branches where it is
active. Counting is memoised on the values of condition parents, so it stays cheap.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from ._params import Categorical, Float, Int, Param, SpaceError

if TYPE_CHECKING:
    from ._space import Space


def levels_of(param: Param, levels: int) -> list[Any]:
    """The values a parameter takes on the grid."""
    if isinstance(param, Categorical):
        return list(param.choices)
    if isinstance(param, Int):
        return int_levels(param, levels)
    return float_levels(param, levels)


def float_levels(param: Float, levels: int) -> list[float]:
    """``levels`` evenly spaced values of a float (geometrically spaced when ``log``), fewer
    only when the range holds fewer distinct floats."""
    if param.low == param.high:
        return [param.low]
    if levels == 1:
        mid = math.sqrt(param.low * param.high) if param.log else (param.low + param.high) / 2
        return [min(max(float(mid), param.low), param.high)]  # rounding may step outside
    spaced = np.geomspace if param.log else np.linspace
    spread = spaced(param.low, param.high, levels)
    values = [min(max(float(v), param.low), param.high) for v in spread]
    values[0], values[-1] = param.low, param.high  # exact ends despite rounding
    return sorted(set(values))  # a range a few ulps wide has fewer distinct values than levels


def int_levels(param: Int, levels: int) -> list[int]:
    """At most ``levels`` distinct values of an int spread over its range (log-spread when ``log``)."""
    values = param.values()
    if len(values) <= levels:
        return values
    if param.log:
        targets = np.geomspace(param.low, param.high, levels)
        return sorted({min(values, key=lambda v, t=t: abs(math.log(v / t))) for t in targets})
    return sorted({values[round(i)] for i in np.linspace(0, len(values) - 1, levels)})


def size(space: Space, levels: int) -> int:
    return _Counter(space, levels).count(0, {})


def point(space: Space, index: int, levels: int) -> dict[str, Any]:
    counter = _Counter(space, levels)
    total = counter.count(0, {})
    if not 0 <= index < total:
        raise SpaceError(f"grid index must satisfy 0 <= index < {total}, got {index}.")
    config: dict[str, Any] = {}
    for i, param in enumerate(space.params):
        if not space.is_active(param.name, config):
            continue
        for value in counter.table[param.name]:
            below = counter.count(i + 1, {**config, param.name: value})
            if index < below:
                config[param.name] = value
                break
            index -= below
    return config


class _Counter:
    """Counts grid completions from parameter ``i`` on, given the values chosen so far."""

    def __init__(self, space: Space, levels: int):
        if levels < 1:
            raise SpaceError(f"grid `levels >= 1` must hold, but got levels={levels}.")
        self.space = space
        self.table = {p.name: levels_of(p, levels) for p in space.params}
        self.parents = sorted({p.when.parent for p in space.params if p.when is not None})
        self._memo: dict[tuple, int] = {}

    def count(self, i: int, config: dict[str, Any]) -> int:
        # Only the values of condition parents decide what follows, so they are the memo key.
        relevant = {n: config[n] for n in self.parents if n in config}
        key = (i, tuple((n, type(v).__name__, v) for n, v in relevant.items()))
        if key not in self._memo:
            self._memo[key] = self._count_uncached(i, relevant)
        return self._memo[key]

    def _count_uncached(self, i: int, config: dict[str, Any]) -> int:
        params = self.space.params
        if i == len(params):
            return 1
        param = params[i]
        if not self.space.is_active(param.name, config):
            return self.count(i + 1, config)
        values = self.table[param.name]
        if param.name not in self.parents:
            return len(values) * self.count(i + 1, config)
        return sum(self.count(i + 1, {**config, param.name: v}) for v in values)
