"""Notices a strategy that has become the campaign's bottleneck.

The master asks the strategies one config at a time, in Ray Tune's loop. A strategy whose
``ask()`` grows with the trials it has seen (Optuna's TPE: about 45 ms after 100 trials, 0.2 s
after 1,000, 0.5 s after 10,000 on a 2-core VM; BENCHMARKS.md, "Strategy cost") leaves workers
idle once an ask takes longer than a trial divided by the trials running at once. The campaign
does not change strategy on its own; it warns once per strategy, naming what to do.

Example:
    >>> cost = AskCost(workers=16)
    >>> for _ in range(20):
    ...     cost.trained(2.0)
    ...     cost.asked("optuna", 0.3)
    >>> cost.warned
    {'optuna'}
"""

from __future__ import annotations

import statistics
import warnings
from collections import defaultdict, deque


class StrategyBottleneckWarning(RuntimeWarning):
    """A strategy takes so long to ask that workers wait for it."""


class AskCost:
    """Recent ask times per strategy against recent trial times; warns once per strategy when
    ``workers`` asks take longer than ``share`` of a trial (median of the last ``window``)."""

    def __init__(self, workers: int, share: float = 0.5, window: int = 20):
        self.workers, self.share = max(1, workers), share
        self._asks: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=window))
        self._trials: deque[float] = deque(maxlen=window)
        self.warned: set[str] = set()

    def trained(self, seconds: float) -> None:
        """A trial took ``seconds`` on its worker."""
        self._trials.append(float(seconds))

    def asked(self, strategy: str, seconds: float, n_trials: int = 0) -> None:
        """``strategy`` took ``seconds`` to propose a config, after ``n_trials`` trials."""
        asks = self._asks[strategy]
        asks.append(float(seconds))
        if strategy in self.warned or len(asks) < asks.maxlen or len(self._trials) < 5:
            return
        ask, trial = statistics.median(asks), statistics.median(self._trials)
        if ask * self.workers > self.share * trial:
            self.warned.add(strategy)
            warnings.warn(
                f"strategy {strategy!r} takes {ask:.2f} s per ask after {n_trials} trials, and "
                f"trials take {trial:.2f} s: with {self.workers} trials at once, workers wait "
                "for it. For many short trials use `evolutionary`, `random` or optuna with "
                "`sampler: cmaes` (BENCHMARKS.md, 'Strategy cost').",
                StrategyBottleneckWarning, stacklevel=2,
            )
