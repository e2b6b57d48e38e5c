"""Adapts sweepforge strategies (ask/tell) to one Ray Tune ``Searcher`` (suggest/complete).

All strategies of a campaign share one Ray Tune run, so the workers (actors) started for the
first trials are reused by every strategy: starting a Tune run costs seconds on a small
machine, and a worker process pays the torch import once. Whenever a worker frees up, the
strategy that has asked the fewest trials so far proposes the next one, so strategies advance
at the same pace and see the same resources.

Ray Tune names trials with strings; each strategy numbers its own. The searcher keeps the
mapping, which the MLflow callback reads to tag each run.

With a :class:`~._journal.Journal`, every ask is journaled before Ray Tune sees the config, and
every tell once the trial's MLflow run is closed (:meth:`CampaignSearcher.commit_tell`, called by
the MLflow callback), at the latest before the next ask: the journal holds every tell in the
order the strategies saw it, so a resume replays them exactly. On resume, the trials in flight
at the kill are handed out again first (:meth:`CampaignSearcher.resubmit`), same config, same id.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ray.tune.search import Searcher

from ._strategy import Strategy, TrialResult, TrialState

if TYPE_CHECKING:
    from ._journal import Journal

RESUME_FROM = "__sweepforge_resume_from__"
"""Key the searcher adds to a resubmitted trial's config: the checkpoint directory of its
previous attempt. The worker takes it out before training; the MLflow callback never logs it."""


class CampaignSearcher(Searcher):
    """One Ray Tune searcher driving several named strategies in turn.

    Example:
        >>> searcher = CampaignSearcher({"random": strategy}, metric="val_accuracy", mode="max")  # doctest: +SKIP
        >>> tune.TuneConfig(search_alg=searcher, num_samples=searcher.total_budget)  # doctest: +SKIP
    """

    def __init__(
        self, strategies: Mapping[str, Strategy], *, metric: str, mode: str,
        journal: Journal | None = None, session: int = 1,
    ):
        super().__init__(metric=metric, mode=mode)
        self.strategies = dict(strategies)
        self.trials: dict[str, tuple[str, int]] = {}  # Ray trial id -> (strategy, its trial id)
        self.journal = journal
        self.session = session
        self._exhausted: set[str] = set()
        self._last_values: dict[str, Any] = {}
        self._resubmit: deque[tuple[str, int, dict[str, Any], str | None]] = deque()
        self._told: dict[str, tuple[str, int, TrialResult]] = {}  # told, not yet journaled

    @property
    def total_budget(self) -> int:
        """Trials over all strategies (Ray Tune's ``num_samples``)."""
        return sum(s.budget for s in self.strategies.values())

    @property
    def remaining(self) -> int:
        """Trials still to run in this session: those to resubmit plus those not asked yet."""
        return len(self._resubmit) + sum(
            max(0, s.budget - s.n_asked) for s in self.strategies.values()
        )

    def resubmit(self, strategy: str, trial_id: int, config: dict[str, Any],
                 checkpoint: str | None = None) -> None:
        """Hands trial ``trial_id`` of ``strategy`` (asked before a kill, never told) out again
        before any new ask, resuming from ``checkpoint`` (a directory) when given."""
        self._resubmit.append((strategy, trial_id, dict(config), checkpoint))

    def commit_tell(self, trial_id: str) -> None:
        """Journals the tell of Ray trial ``trial_id`` (called once its MLflow run is closed)."""
        told = self._told.pop(trial_id, None)
        if told is not None and self.journal is not None:
            self.journal.tell(*told)

    def __getstate__(self) -> dict[str, Any]:
        # Ray Tune pickles the Tuner (for its own Tuner.restore, which sweepforge does not use);
        # the live strategies and the journal stay in the master process.
        return {**self.__dict__, "strategies": {}, "journal": None, "_told": {},
                "_resubmit": deque()}

    def save(self, checkpoint_path: str) -> None:
        """Nothing to write: the campaign keeps strategy state itself."""

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        for told in list(self._told):  # the strategy has seen them: journal before asking
            self.commit_tell(told)
        if self._resubmit:
            name, own_id, config, checkpoint = self._resubmit.popleft()
            self.trials[trial_id] = (name, own_id)
            if self.journal is not None:
                self.journal.resubmit(name, own_id, trial_id, self.session)
            return {**config, RESUME_FROM: checkpoint} if checkpoint else config
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
            if self.journal is not None:
                self.journal.ask(name, spec.trial_id, spec.config, trial_id, self.session)
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
        told = TrialResult(value=value, state=state)
        self.strategies[name].tell(own_id, told)
        self._told[trial_id] = (name, own_id, told)
