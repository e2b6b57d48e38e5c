"""The strategy interface every search algorithm speaks: ``ask()`` and ``tell()``.

A strategy never touches Ray or MLflow, so it can be driven by a plain Python loop::

    strategy = RandomStrategy(space, budget=20, seed=0, mode="max")
    while (spec := strategy.ask()) is not None:
        strategy.tell(spec.trial_id, TrialResult(value=objective(spec.config)))
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal

from sweepforge.spaces import Space

from ..schema import TrialStateName, is_finite_number

Mode = Literal["max", "min"]


class StrategyError(ValueError):
    """A strategy was configured or driven wrongly (bad option, unknown trial id, ...)."""


class TrialState(enum.Enum):
    """How a trial ended, as told to its strategy."""

    COMPLETE = TrialStateName.COMPLETE.value
    FAILED = TrialStateName.FAILED.value
    PRUNED = TrialStateName.PRUNED.value


@dataclass(frozen=True)
class TrialSpec:
    """A config to train, with the id the strategy will be told about."""

    trial_id: int
    config: dict[str, Any]


@dataclass(frozen=True)
class TrialResult:
    """The outcome of a trial: its metric value (``None`` when it has none), its state and the
    epoch it reached (``step``, when known).

    A COMPLETE result whose value is missing, NaN or infinite counts as FAILED: see
    :attr:`effective_state`. NaN therefore never becomes a best value.
    """

    value: float | None
    state: TrialState = TrialState.COMPLETE
    step: int | None = None  # the epoch the trial reached (a PRUNED trial's value is from it)

    @property
    def effective_state(self) -> TrialState:
        """The state, with non-finite values of COMPLETE trials turned into FAILED."""
        if self.state is TrialState.COMPLETE and not is_finite_number(self.value):
            return TrialState.FAILED
        return self.state

    @property
    def usable_value(self) -> float | None:
        """The value when it is finite, else ``None``."""
        return float(self.value) if is_finite_number(self.value) else None  # type: ignore[arg-type]


class Strategy(ABC):
    """Base of all strategies: a fixed trial budget, a seed and an optimisation direction.

    Subclasses implement :meth:`_propose` (the next config, or ``None`` when they have nothing
    more) and may override :meth:`_observe`. The base class numbers trials, enforces the budget,
    rejects unknown or repeated trial ids, and keeps the best COMPLETE result. Register a
    subclass with :func:`~.registry.register_strategy` to name it in campaign files.

    The contract a strategy keeps (``tests/search/test_strategies_contract.py`` checks every
    registered strategy against it):

    * **Constructor**: ``__init__(space, *, budget, seed=0, mode="max", **options)``. Options
      are keyword-only with defaults; they are what a campaign file may set under the
      strategy's name, and a bad value raises :class:`StrategyError` naming it.
    * **_propose(trial_id)** returns a config for ``space`` (every active parameter, values in
      range) or ``None`` when the strategy has nothing more to try (grid exhausted). It may be
      called while earlier trials are still running: trials run in parallel.
    * **_observe(trial_id, config, result)** learns from a finished trial. ``result.state`` is
      COMPLETE (``result.value`` is the metric; :attr:`TrialResult.effective_state` turns a
      missing or non-finite value into FAILED), PRUNED (a scheduler stopped it early:
      ``result.value`` is from epoch ``result.step``, a partial observation, not a final one)
      or FAILED (no usable value: never a best, and a model must not learn from it as one).
    * **Deterministic**: for the same seed and the same sequence of asks and tells, a strategy
      proposes exactly the same configs. A resume rebuilds every strategy from its seed and
      replays the journal (:mod:`..state.journal`); a replayed ask that differs refuses the
      resume. So: draw only from generators seeded from ``seed``; no wall-clock time, no
      global random state, no iteration over unordered sets.
    * **No Ray, no MLflow**: a strategy is driven by a plain loop (see the module docstring).
    """

    #: Registry name used in campaign files (``grid``, ``random``, ``optuna``, ``evolutionary``).
    name: str = ""

    def __init__(self, space: Space, *, budget: int, seed: int = 0, mode: Mode = "max"):
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise StrategyError(f"`budget >= 1` must hold, but got budget={budget!r}.")
        if mode not in ("max", "min"):
            raise StrategyError(f"`mode` must be 'max' or 'min', got {mode!r}.")
        self.space = space
        self.budget = budget
        self.seed = seed
        self.mode: Mode = mode
        self._asked = 0
        self._pending: dict[int, dict[str, Any]] = {}
        self._told: dict[int, TrialResult] = {}
        self.best_config: dict[str, Any] | None = None
        self.best_value: float | None = None

    # --- the interface --------------------------------------------------------------
    def ask(self) -> TrialSpec | None:
        """The next trial to run, or ``None`` once the budget is spent (or nothing is left)."""
        if self._asked >= self.budget:
            return None
        trial_id = self._asked
        config = self._propose(trial_id)
        if config is None:
            return None
        self._asked += 1
        self._pending[trial_id] = config
        return TrialSpec(trial_id, dict(config))

    def tell(self, trial_id: int, result: TrialResult) -> None:
        """Reports how trial ``trial_id`` ended."""
        if trial_id not in self._pending:
            state = "was already told" if trial_id in self._told else "was never asked"
            raise StrategyError(f"trial {trial_id} {state}.")
        config = self._pending.pop(trial_id)
        self._told[trial_id] = result
        value = result.usable_value
        if result.effective_state is TrialState.COMPLETE and value is not None and self.is_better(
            value, self.best_value
        ):
            self.best_value, self.best_config = value, dict(config)
        self._observe(trial_id, config, result)

    # --- helpers for subclasses and callers -------------------------------------------
    @property
    def n_asked(self) -> int:
        """Trials handed out so far."""
        return self._asked

    @property
    def n_pending(self) -> int:
        """Trials handed out but not yet told."""
        return len(self._pending)

    @property
    def finished(self) -> bool:
        """True when the budget is spent and every trial has been told."""
        return self._asked >= self.budget and not self._pending

    def is_better(self, value: float, than: float | None) -> bool:
        """True when ``value`` beats ``than`` in this strategy's direction (anything beats None)."""
        if than is None:
            return True
        return value > than if self.mode == "max" else value < than

    @abstractmethod
    def _propose(self, trial_id: int) -> dict[str, Any] | None:
        """The config for trial ``trial_id``, or ``None`` when the strategy has no more."""

    def _observe(self, trial_id: int, config: dict[str, Any], result: TrialResult) -> None:
        """Hook: learn from a finished trial. Does nothing by default."""

