"""A per-trial deadline the master enforces: a trial running past ``trial_timeout_s`` has its
Ray actor killed, so Ray Tune ends it as an errored trial and the campaign goes on.

A Tune stopper could not do this: stoppers act on reports, and a hung trainable never reports
again. Killing the actor stops the trial wherever it hangs (Python loop, C call, deadlock);
Ray Tune then sees the actor die, marks the trial ERROR, tells the searcher, and starts a fresh
actor for the next trial. A trial stopped this way is not retried under ``max_failures``.

Example:
    >>> deadline = TrialDeadline(timeout_s=600)                       # doctest: +SKIP
    >>> tune.RunConfig(callbacks=[deadline, trial_logger])            # doctest: +SKIP
    >>> deadline.expired                                              # doctest: +SKIP
    {'a1b2c3': 'trial_timeout_s: the trial ran past 600 s and was stopped'}
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from ._compat import trial_actor

if TYPE_CHECKING:
    from ray.tune.experiment import Trial


class TrialDeadline(Callback):
    """Kills the actor of any trial that has run ``timeout_s`` seconds (checked every Tune
    step, a fraction of a second apart). ``expired`` maps Ray trial ids to the reason, which
    the MLflow callback records as the trial's error."""

    def __init__(self, timeout_s: float):
        self.timeout_s = float(timeout_s)
        self.expired: dict[str, str] = {}
        self._started: dict[str, float] = {}

    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._started[trial.trial_id] = time.monotonic()

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._started.pop(trial.trial_id, None)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._started.pop(trial.trial_id, None)

    def on_step_begin(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        now = time.monotonic()
        overdue = {tid for tid, t0 in self._started.items() if now - t0 > self.timeout_s}
        if not overdue:
            return
        import ray

        for trial in trials:
            if trial.trial_id not in overdue or trial.trial_id in self.expired:
                continue
            actor = trial_actor(trial)
            if actor is None:
                continue
            self.expired[trial.trial_id] = (
                f"trial_timeout_s: the trial ran past {self.timeout_s:g} s and was stopped"
            )
            trial.max_failures = 0  # not retried (max_failures): it would most likely hang again
            ray.kill(actor, no_restart=True)
