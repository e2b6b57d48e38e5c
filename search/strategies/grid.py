"""Grid search: a regular grid over the space, walked in a seeded random order."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sweepforge.spaces import Space

from .base import Mode, Strategy, StrategyError

#: Largest levels count the automatic rule tries; finer grids must be asked for with ``levels``.
MAX_AUTO_LEVELS = 10

# numpy's Generator.choice works on int64 populations; above this, indices are drawn as Python ints.
_NUMPY_LIMIT = 2**62


class GridStrategy(Strategy):
    """Walks the points of :meth:`Space.grid_size` / :meth:`Space.grid_point` in random order.

    Budget rule: with ``levels`` unset, the grid cuts every continuous parameter into the
    smallest number of levels ``L`` in ``2..10`` for which ``space.grid_size(L) >= budget``
    (``L = 10`` when even that grid is smaller); an explicit ``levels`` is used as given.
    Categoricals always contribute all their choices, ints at most ``L`` spread values.
    ``min(budget, grid size)`` distinct points are drawn with a seeded
    ``Generator.choice(size, k, replace=False)`` and handed out in that order, so a grid larger
    than the budget is sampled evenly rather than truncated in lexicographic order.

    When the grid is smaller than the budget, the strategy ends early: :meth:`ask` returns
    ``None`` once every point was handed out, and :attr:`finished` turns true once those are told.
    Results are ignored, with one objective or several (the comparison table keeps the
    non-dominated trials of what it ran); the same seed gives the same order.

    Args:
        levels: values per continuous parameter (``>= 1``), or ``None`` for the rule above.

    Example:
        >>> from sweepforge.spaces import Space
        >>> space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0},
        ...                          "act": ["relu", "tanh"]})
        >>> strategy = GridStrategy(space, budget=5, seed=0)
        >>> strategy.levels, strategy.grid_size   # 2 levels give 4 points, 3 give 6 >= 5
        (3, 6)
    """

    name = "grid"
    handles_objectives = True

    def __init__(
        self,
        space: Space,
        *,
        budget: int,
        seed: int = 0,
        mode: Mode = "max",
        directions: Sequence[Mode] | None = None,
        levels: int | None = None,
    ):
        super().__init__(space, budget=budget, seed=seed, mode=mode, directions=directions)
        if levels is not None and (
            not isinstance(levels, int) or isinstance(levels, bool) or levels < 1
        ):
            raise StrategyError(
                f"grid: option `levels` must be an int >= 1 or None (automatic), "
                f"but got levels={levels!r}."
            )
        self.levels: int = levels if levels is not None else _auto_levels(space, budget)
        self.grid_size: int = space.grid_size(self.levels)
        rng = np.random.default_rng(seed)
        self._order = _distinct_indices(rng, self.grid_size, min(budget, self.grid_size))

    @property
    def exhausted(self) -> bool:
        """True when every grid point drawn for this budget has been handed out."""
        return self.n_asked >= len(self._order)

    @property
    def finished(self) -> bool:
        """True when the budget or the grid is spent and every trial has been told."""
        return self.exhausted and self.n_pending == 0

    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        if trial_id >= len(self._order):
            return None
        return self.space.grid_point(self._order[trial_id], self.levels)


def _auto_levels(space: Space, budget: int) -> int:
    for levels in range(2, MAX_AUTO_LEVELS + 1):
        if space.grid_size(levels) >= budget:
            return levels
    return MAX_AUTO_LEVELS


def _distinct_indices(rng: np.random.Generator, size: int, k: int) -> list[int]:
    """``k`` distinct indices of ``range(size)`` in random order, for any ``size``."""
    if size <= _NUMPY_LIMIT:
        return [int(i) for i in rng.choice(size, k, replace=False)]
    # Huge grids: rejection-sample Python ints (each draw is accepted with probability > 1/2).
    n_bytes = (size.bit_length() + 7) // 8
    extra_bits = 8 * n_bytes - size.bit_length()
    chosen: dict[int, None] = {}
    while len(chosen) < k:
        index = int.from_bytes(rng.bytes(n_bytes), "little") >> extra_bits
        if index < size:
            chosen.setdefault(index, None)
    return list(chosen)
