"""Adapts sweepforge strategies (ask/tell) to one Ray Tune ``Searcher`` (suggest/complete).

All strategies of a campaign share one Ray Tune run, so the workers (actors) started for the
first trials are reused by every strategy: starting a Tune run costs seconds on a small
machine, and a worker process pays the torch import once. Whenever a worker frees up, the
strategy that has asked the fewest trials so far proposes the next one, so strategies advance
at the same pace and see the same resources.

Ray Tune names trials with strings; each strategy numbers its own. The searcher keeps the
mapping, which the MLflow callback reads to tag each run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ray.tune.search import Searcher

from ._strategy import Strategy, TrialResult, TrialState


class CampaignSearcher(Searcher):
    """One Ray Tune searcher driving several named strategies in turn.

    Example:
        >>> searcher = CampaignSearcher({"random": strategy}, metric="val_accuracy", mode="max")  # doctest: +SKIP
        >>> tune.TuneConfig(search_alg=searcher, num_samples=searcher.total_budget)  # doctest: +SKIP
    """

    def __init__(self, strategies: Mapping[str, Strategy], *, metric: str, mode: str):
        super().__init__(metric=metric, mode=mode)
        self.strategies = dict(strategies)
        self.trials: dict[str, tuple[str, int]] = {}  # Ray trial id -> (strategy, its trial id)
        self._exhausted: set[str] = set()
        self._last_values: dict[str, Any] = {}

    @property
    def total_budget(self) -> int:
        """Trials over all strategies (Ray Tune's ``num_samples``)."""
        return sum(s.budget for s in self.strategies.values())

    def __getstate__(self) -> dict[str, Any]:
        # Ray Tune pickles the Tuner (for its own Tuner.restore, which sweepforge does not use);
        # the live strategies stay in the master process.
        return {**self.__dict__, "strategies": {}}

    def save(self, checkpoint_path: str) -> None:
        """Nothing to write: the campaign keeps strategy state itself."""

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        while True:
            waiting = [n for n in self.strategies if n not in self._exhausted]
            if not waiting:
                return Searcher.FINISHED
            name = min(waiting, key=lambda n: self.strategies[n].n_asked)
            spec = self.strategies[name].ask()
            if spec is None:
                self._exhausted.add(name)
                continue
            self.trials[trial_id] = (name, spec.trial_id)
            return spec.config

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if self.metric in result:
            self._last_values[trial_id] = result[self.metric]

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id not in self.trials:
            return
        name, own_id = self.trials[trial_id]
        value = (result or {}).get(self.metric, self._last_values.pop(trial_id, None))
        state = TrialState.FAILED if error else TrialState.COMPLETE
        self.strategies[name].tell(own_id, TrialResult(value=value, state=state))
