"""Random search: independent uniform (log-uniform where ``log``) draws from the space."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from sweepforge.spaces import Space

from .base import Mode, Strategy


class RandomStrategy(Strategy):
    """Draws every config independently with :meth:`Space.sample` from one seeded generator.

    Results are ignored (with several objectives too: the comparison table keeps the
    non-dominated trials of what it ran), so trials may be told in any order; the same seed gives the same
    sequence of configs. It has no options.

    Example:
        >>> from sweepforge.spaces import Float, Space
        >>> space = Space([Float("lr", 1e-4, 1e-1, log=True)])
        >>> strategy = RandomStrategy(space, budget=3, seed=0)
        >>> [strategy.ask().trial_id for _ in range(3)], strategy.ask()
        ([0, 1, 2], None)
    """

    name = "random"
    handles_objectives = True

    def __init__(self, space: Space, *, budget: int, seed: int = 0, mode: Mode = "max",
                 directions: Sequence[Mode] | None = None):
        super().__init__(space, budget=budget, seed=seed, mode=mode, directions=directions)
        self._rng = np.random.default_rng(seed)

    def _propose(self, trial_id: int) -> dict[str, Any]:
        return self.space.sample(self._rng)
