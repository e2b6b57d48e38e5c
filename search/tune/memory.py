"""Keeps the master's memory flat over long campaigns: Ray Tune holds every trial it ever ran,
and with each one, per metric, running statistics (min, max, mean, means of the last 5 and 10
results, with their windows) and cached JSON copies of its state. That is about 30 KB per
finished trial that nothing reads again (sweepforge takes results from its own callback), so it
grew linearly with the number of trials (benchmarks/scale.py: see BENCHMARKS.md, "Scale").

:class:`ForgetFinishedTrialStats` empties those statistics when a trial ends. It touches only
Tune's bookkeeping of finished trials; ``last_result`` stays.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from ._compat import forget_trial_stats

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


class ForgetFinishedTrialStats(Callback):
    """Drops Ray Tune's per-metric running statistics of each trial once it has ended."""

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        forget_stats(trial)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        forget_stats(trial)


def forget_stats(trial: Trial) -> None:
    """Empties ``trial``'s metric statistics and cached JSON state (no-op when a Ray version
    keeps them elsewhere; see :func:`._compat.forget_trial_stats`)."""
    forget_trial_stats(trial)
