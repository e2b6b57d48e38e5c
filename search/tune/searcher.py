"""Adapts sweepforge strategies (ask/tell) to one Ray Tune ``Searcher`` (suggest/complete).

All strategies of a campaign share one Ray Tune run, so the workers (actors) started for the
first trials are reused by every strategy: starting a Tune run costs seconds on a small
machine, and a worker process pays the torch import once. Whenever a worker frees up, the
strategy that has asked the fewest trials so far proposes the next one, so strategies advance
at the same pace and see the same resources.

Ray Tune names trials with strings; each strategy numbers its own. The searcher keeps the
mapping, which the MLflow callback reads to tag each run.

With a :class:`~..state.journal.Journal`, every ask is journaled before Ray Tune sees the config, and
every tell once the trial's MLflow run is closed (:meth:`CampaignSearcher.commit_tell`, called by
the MLflow callback), at the latest before the next ask: the journal holds every tell in the
order the strategies saw it, so a resume replays them exactly. On resume, the trials in flight
at the kill are handed out again first (:meth:`CampaignSearcher.resubmit`), same config, same id.

Early stopping: with ``stops_early`` (the campaign has an ASHA, Hyperband or median scheduler),
a trial that ends without error before the epochs it was planned for was stopped by the
scheduler; it is told to its strategy as PRUNED, with its last value and the epoch it reached
(``TrialResult.step``). Every trial is told with the metric after each epoch it trained
(``TrialResult.curve``), which the multi-fidelity strategies fit on. A strategy's
``epoch_budget`` counts every epoch its trials trained (each result Tune receives is one
epoch); a new trial starts only while the budget still holds a whole trial beyond what the
running ones may train (see ``Budget`` in :mod:`.config`).

Several objectives (``objectives``): a strategy is told every objective's value and every
hard limit's excess, read from the trial's last result (the cost metrics come with the last
epoch); the searcher's own ``metric`` is the first objective.
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ray.tune.search import Searcher

from ..schema import is_finite_number
from ..strategies.base import Strategy, TrialResult, TrialState
from ..strategies.objectives import Objectives
from .ask_cost import AskCost

if TYPE_CHECKING:
    from ..state.journal import Journal

RESUME_FROM = "__sweepforge_resume_from__"
"""Key the searcher adds to a resubmitted trial's config: the checkpoint directory of its
previous attempt. The worker takes it out before training; the MLflow callback never logs it."""

POPULATION_KEY = "__sweepforge_trial__"
"""Key of a trial's config under PBT: the id the searcher knows the trial by (see
:mod:`.population`)."""

UNSET = "__sweepforge_unset__"
"""Value of a parameter a PBT trial's config does not have (inactive in its branch)."""


def searched_config(config: Mapping[str, Any]) -> dict[str, Any]:
    """A trial's config as the strategy proposed it: without the keys sweepforge adds."""
    return {k: v for k, v in config.items()
            if k not in (RESUME_FROM, POPULATION_KEY) and not (isinstance(v, str) and v == UNSET)}


@dataclasses.dataclass
class _Resubmit:
    """A trial in flight at a kill, to hand out again (see :meth:`CampaignSearcher.resubmit`)."""

    strategy: str
    trial_id: int
    config: dict[str, Any]
    checkpoint: str | None
    trained: int
    curve: list[tuple[int, float]]


class CampaignSearcher(Searcher):
    """One Ray Tune searcher driving several named strategies in turn.

    Example:
        >>> searcher = CampaignSearcher({"random": strategy}, metric="val_accuracy", mode="max")  # doctest: +SKIP
        >>> tune.TuneConfig(search_alg=searcher, num_samples=searcher.total_budget)  # doctest: +SKIP
    """

    def __init__(
        self, strategies: Mapping[str, Strategy], *, metric: str, mode: str,
        journal: Journal | None = None, session: int = 1,
        planned_epochs: Callable[[dict[str, Any]], int | None] | None = None,
        stops_early: bool = False, epoch_budget: int | None = None, max_epochs: int = 1,
        ask_cost: AskCost | None = None, objectives: Objectives | None = None,
    ):
        # Not declared to Ray Tune: it would demand the metric in every epoch's result, and
        # a cost (n_params, latency_ms) comes with the last epoch only. The scheduler has its own.
        super().__init__(metric=None, mode=None)
        self.value_metric = metric  # what a strategy is told as a trial's value
        # several objectives or hard limits: what a strategy is told is read from the last
        # result's metrics (one value per objective, one excess per limit)
        self.objectives = objectives
        self.planned_epochs = planned_epochs or (lambda config: None)
        self.stops_early = stops_early
        self.epoch_budget = epoch_budget
        self.max_epochs = max_epochs  # a whole trial, as the epoch budget counts it
        self.ask_cost = ask_cost  # warns when a strategy's asks hold workers idle
        self._epochs_spent: Counter[str] = Counter()  # strategy -> epochs its trials trained
        self._planned: dict[str, int] = {}  # running Ray trial id -> epochs it may train
        self._trained: Counter[str] = Counter()  # running Ray trial id -> epochs trained so far
        self._last_epoch: dict[str, int] = {}
        self._last_iteration: dict[str, Any] = {}
        self.strategies = dict(strategies)
        self._trials: dict[str, tuple[str, int]] = {}  # Ray trial id -> (strategy, its trial id)
        self.journal = journal
        self.session = session
        self._exhausted: set[str] = set()
        self._focus: str | None = None  # ask only this strategy (PBT: one population each)
        self._last_values: dict[str, Any] = {}
        self._curves: dict[str, list[tuple[int, float]]] = {}  # Ray trial id -> (epoch, value)
        self._resubmit: deque[_Resubmit] = deque()
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

    @property
    def n_asked(self) -> int:
        """Trials handed out so far: asked from the strategies, plus resubmitted."""
        return len(self._trials)

    @property
    def finished(self) -> bool:
        """Nothing left to hand out: every strategy done (budget or epochs) and no resubmits."""
        return not self._resubmit and all(
            name in self._exhausted or s.n_asked >= s.budget for name, s in self.strategies.items()
        )

    def trial_key(self, trial_id: str) -> tuple[str, int] | None:
        """(strategy, the strategy's trial id) of Ray trial ``trial_id``, if the searcher
        handed it out."""
        return self._trials.get(trial_id)

    def told(self, trial_id: str) -> TrialResult | None:
        """What Ray trial ``trial_id``'s strategy was told when it ended (its state says
        whether it was PRUNED), until :meth:`commit_tell` journals it."""
        told = self._told.get(trial_id)
        return told[2] if told is not None else None

    def count_finished(self, strategy: str, epochs: int) -> None:
        """A trial of ``strategy`` that ended before this session trained ``epochs``: they
        count against its epoch budget."""
        self._epochs_spent[strategy] += epochs

    @contextmanager
    def focused(self, strategy: str) -> Iterator[None]:
        """While inside, only ``strategy`` is asked (PBT runs one population at a time)."""
        self._focus = strategy
        try:
            yield
        finally:
            self._focus = None

    def resubmit(self, strategy: str, trial_id: int, config: dict[str, Any],
                 checkpoint: str | None = None, *, trained: int = 0,
                 curve: Sequence[tuple[int, float]] = ()) -> None:
        """Hands trial ``trial_id`` of ``strategy`` (asked before a kill, never told) out again
        before any new ask, resuming from ``checkpoint`` (a directory) when given. It had
        ``trained`` epochs before the kill (they count against an epoch budget) and ``curve``
        is its metric up to its checkpoint (its tell holds them, then what it trains now)."""
        self._resubmit.append(_Resubmit(strategy, trial_id, dict(config), checkpoint, trained,
                                        list(curve)))

    def rename_trial(self, old: str, new: str) -> None:
        """Trial ``old`` is known to Ray Tune as ``new`` (PBT: the searcher asked before Tune
        named the trials, see :mod:`.population`)."""
        self._trials[new] = self._trials.pop(old)
        if old in self._planned:
            self._planned[new] = self._planned.pop(old)

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
        resubmit = [r for r in self._resubmit if self._focus in (None, r.strategy)]
        if resubmit:
            again = resubmit[0]
            self._resubmit.remove(again)
            self._trials[trial_id] = (again.strategy, again.trial_id)
            self._reserve(trial_id, again.config)
            self._trained[trial_id] = again.trained
            if again.curve:
                self._curves[trial_id] = list(again.curve)
            if self.journal is not None:
                self.journal.resubmit(again.strategy, again.trial_id, trial_id, self.session)
            config = again.config
            return {**config, RESUME_FROM: again.checkpoint} if again.checkpoint else config
        while True:
            waiting = [n for n in self.strategies
                       if n not in self._exhausted and self._focus in (None, n)]
            if not waiting:
                return Searcher.FINISHED
            room = [n for n in waiting if self._has_room(n)]
            if not room:
                return None  # epoch budgets wait for running trials; Tune asks again later
            name = min(room, key=lambda n: self.strategies[n].n_asked)
            started = time.perf_counter()
            spec = self.strategies[name].ask()
            if self.ask_cost is not None:
                self.ask_cost.asked(name, time.perf_counter() - started,
                                    self.strategies[name].n_asked)
            if spec is None:
                self._exhausted.add(name)
                continue
            self._trials[trial_id] = (name, spec.trial_id)
            self._reserve(trial_id, spec.config)
            if self.journal is not None:
                self.journal.ask(name, spec.trial_id, spec.config, trial_id, self.session)
            return spec.config

    def _reserve(self, trial_id: str, config: dict[str, Any]) -> None:
        self._planned[trial_id] = self.planned_epochs(config) or 1

    def _has_room(self, name: str) -> bool:
        """Whether strategy ``name`` may start a trial under its epoch budget; a strategy out of
        room with nothing running is done."""
        if self.epoch_budget is None:
            return True
        running = [t for t, (n, _) in self._trials.items() if n == name and t in self._planned]
        may_still_train = sum(max(0, self._planned[t] - self._trained[t]) for t in running)
        left = self.epoch_budget - self._epochs_spent[name] - sum(self._trained[t] for t in running)
        if left - may_still_train >= self.max_epochs:
            return True
        if not running:
            self._exhausted.add(name)
        return False

    def on_trial_result(self, trial_id: str, result: dict[str, Any]) -> None:
        if self.value_metric in result:
            self._last_values[trial_id] = result[self.value_metric]
        self._count_epoch(trial_id, result)

    def _count_epoch(self, trial_id: str, result: dict[str, Any]) -> None:
        """One more epoch trained (Tune hands a trial's last result to ``on_trial_complete``
        only, and the others to ``on_trial_result``)."""
        iteration = result.get("training_iteration")
        if iteration is not None and iteration == self._last_iteration.get(trial_id):
            return
        self._last_iteration[trial_id] = iteration
        self._trained[trial_id] += 1
        epoch = result.get("epoch")
        if isinstance(epoch, (int, float)) and not isinstance(epoch, bool):
            self._last_epoch[trial_id] = int(epoch)
            value = result.get(self.value_metric)
            if is_finite_number(value):
                self._curves.setdefault(trial_id, []).append((int(epoch), float(value)))

    def on_trial_complete(
        self, trial_id: str, result: dict[str, Any] | None = None, error: bool = False
    ) -> None:
        if trial_id not in self._trials:
            return
        name, own_id = self._trials[trial_id]
        value = (result or {}).get(self.value_metric, self._last_values.pop(trial_id, None))
        if result:
            self._count_epoch(trial_id, result)
            if self.ask_cost is not None and isinstance(result.get("time_total_s"), (int, float)):
                self.ask_cost.trained(result["time_total_s"])
        self._last_iteration.pop(trial_id, None)
        reached = self._last_epoch.pop(trial_id, None)
        curve = tuple(self._curves.pop(trial_id, ()))
        planned = self._planned.pop(trial_id, None)
        self._epochs_spent[name] += self._trained.pop(trial_id, 0)
        state = TrialState.FAILED if error else TrialState.COMPLETE
        if (state is TrialState.COMPLETE and self.stops_early and reached is not None
                and planned is not None and reached < planned):
            state = TrialState.PRUNED  # the scheduler stopped it before its last epoch
        if self.objectives is not None:
            told = self.objectives.result(result or {}, state, reached, value=value)
        else:
            told = TrialResult(value=value, state=state, step=reached)
        told = dataclasses.replace(told, curve=curve)
        self.strategies[name].tell(own_id, told)
        self._told[trial_id] = (name, own_id, told)
