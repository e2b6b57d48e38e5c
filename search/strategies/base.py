"""The strategy interface every search algorithm speaks: ``ask()`` and ``tell()``.

A strategy never touches Ray or MLflow, so it can be driven by a plain Python loop::

    strategy = RandomStrategy(space, budget=20, seed=0, mode="max")
    while (spec := strategy.ask()) is not None:
        strategy.tell(spec.trial_id, TrialResult(value=objective(spec.config)))

With several objectives, a strategy is built with ``directions`` (one ``"max"``/``"min"`` per
objective; ``mode`` is the first's) and told every objective's value in ``values``, the first
also in ``value``; ``constraints`` holds one number per hard limit, ``<= 0`` when it is kept::

    strategy = make_strategy("evolutionary", space, budget=50, directions=("max", "min"))
    strategy.tell(trial_id, TrialResult(value=0.93, values=(0.93, 52_000), constraints=(-48_000,)))
"""

from __future__ import annotations

import enum
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sweepforge.spaces import Space

from ..schema import TrialStateName, is_finite_number

Mode = Literal["max", "min"]


class StrategyError(ValueError):
    """A strategy was configured or driven wrongly (bad option, unknown trial id, ...)."""


def check_int(strategy: str, option: str, value: Any, low: int, *,
              none_means: str | None = None) -> None:
    """A :class:`StrategyError` naming ``option`` unless ``value`` is an int ``>= low`` (or
    ``None``, when ``none_means`` says what ``None`` does)."""
    if value is None and none_means is not None:
        return
    if not isinstance(value, int) or isinstance(value, bool) or value < low:
        allowed = f"an int >= {low}" + (f" or null ({none_means})" if none_means else "")
        raise StrategyError(f"{strategy}: option `{option}` must be {allowed}, but got "
                            f"{option}={value!r}.")


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

    With several objectives, ``values`` holds each objective's value in the campaign's order
    (``value`` is the first), and ``constraints`` one number per hard limit: how far the trial
    is past it, ``<= 0`` when the limit is kept (Optuna's convention). A trial that breaks a
    limit is *infeasible*: it still has values, but no feasible trial ranks below it.

    ``curve`` holds the campaign metric after each epoch the trial reported, as ``(epoch,
    value)`` pairs in order (non-finite values left out): the data multi-fidelity strategies
    fit their models on (the value a trial had at each rung of a scheduler). It may miss
    epochs, e.g. those trained before a resume, and is empty when nothing was reported.

    A COMPLETE result whose value (or any of ``values``) is missing, NaN or infinite counts as
    FAILED: see :attr:`effective_state`. NaN therefore never becomes a best value.
    """

    value: float | None
    state: TrialState = TrialState.COMPLETE
    step: int | None = None  # the epoch the trial reached (a PRUNED trial's value is from it)
    values: tuple[float | None, ...] | None = None  # every objective's, when there are several
    constraints: tuple[float, ...] = ()  # per hard limit: > 0 breaks it by that much
    curve: tuple[tuple[int, float], ...] = ()  # (epoch, campaign metric), in order

    @property
    def effective_state(self) -> TrialState:
        """The state, with non-finite values of COMPLETE trials turned into FAILED."""
        if self.state is TrialState.COMPLETE and (
                not is_finite_number(self.value)
                or any(not is_finite_number(v) for v in self.values or ())):
            return TrialState.FAILED
        return self.state

    @property
    def usable_values(self) -> tuple[float, ...] | None:
        """Every objective's value when all are finite (``(value,)`` for one objective), else
        ``None``."""
        values = self.values if self.values is not None else (self.value,)
        if not values or any(not is_finite_number(v) for v in values):
            return None
        return tuple(float(v) for v in values)  # type: ignore[arg-type]

    @property
    def violation(self) -> float:
        """How far past its hard limits the trial is, in total (``0.0``: feasible)."""
        return float(sum(max(0.0, float(c)) for c in self.constraints))

    @property
    def feasible(self) -> bool:
        """True when every hard limit is kept."""
        return self.violation <= 0.0

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
      strategy's name, and a bad value raises :class:`StrategyError` naming it. A strategy
      that handles several objectives sets :attr:`handles_objectives`, takes ``directions``
      (a sequence of ``"max"`` / ``"min"``, the first equal to ``mode``) and learns from
      ``result.values`` and ``result.constraints``; any other is refused for a
      multi-objective campaign.
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
    #: True for a strategy that optimises several objectives (see the contract above).
    handles_objectives: bool = False

    def __init__(self, space: Space, *, budget: int, seed: int = 0, mode: Mode = "max",
                 directions: Sequence[Mode] | None = None):
        if not isinstance(budget, int) or isinstance(budget, bool) or budget < 1:
            raise StrategyError(f"`budget >= 1` must hold, but got budget={budget!r}.")
        if mode not in ("max", "min"):
            raise StrategyError(f"`mode` must be 'max' or 'min', got {mode!r}.")
        directions = tuple(directions) if directions is not None else (mode,)
        if not directions or any(d not in ("max", "min") for d in directions):
            raise StrategyError(f"`directions` must each be 'max' or 'min', got {list(directions)}.")
        if directions[0] != mode:
            raise StrategyError(f"`mode` is the first objective's direction: {directions[0]!r}, "
                                f"got mode={mode!r}.")
        self.space = space
        self.budget = budget
        self.seed = seed
        self.mode: Mode = mode
        #: One direction per objective; more than one makes a multi-objective strategy.
        self.directions: tuple[Mode, ...] = directions
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
        if self.multi_objective and result.state is TrialState.COMPLETE and (
                result.values is None or len(result.values) != len(self.directions)):
            self._pending[trial_id] = config
            raise StrategyError(
                f"trial {trial_id}: a strategy with {len(self.directions)} objectives is told "
                f"`values` with one value each, got values={result.values!r}.")
        self._told[trial_id] = result
        value = result.usable_value
        if result.effective_state is TrialState.COMPLETE and value is not None and result.feasible \
                and self.is_better(value, self.best_value):
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
    def multi_objective(self) -> bool:
        """True when the strategy optimises several objectives (:attr:`directions`)."""
        return len(self.directions) > 1

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

