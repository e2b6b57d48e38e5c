"""What a campaign optimises: its objectives (each maximised or minimised) and hard limits.

A campaign with one ``metric`` has one objective. With ``objectives:`` it has several, and a
trial's result is a vector, one value per objective in the file's order; ``constraints:``
adds hard limits on any reported metric. :meth:`Objectives.result` turns a trial's last
metrics into what its strategy is told.

Example:
    >>> objectives = Objectives(("val_accuracy", "n_params"), ("max", "min"),
    ...                         (Limit("n_params", high=100_000),))
    >>> told = objectives.result({"val_accuracy": 0.93, "n_params": 120_000})
    >>> told.values, told.constraints, told.feasible
    ((0.93, 120000.0), (20000.0,), False)
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..schema import is_finite_number
from .base import Mode, TrialResult, TrialState


@dataclass(frozen=True)
class Limit:
    """A hard limit on a metric: ``low <= value <= high`` (either may be ``None``)."""

    metric: str
    low: float | None = None
    high: float | None = None

    def excess(self, value: Any) -> float:
        """How far ``value`` is past the limit, ``<= 0`` within it (Optuna's convention);
        ``inf`` when the value is missing or not a finite number (nothing shows it is kept)."""
        if not is_finite_number(value):
            return math.inf
        value = float(value)
        over = [value - self.high] if self.high is not None else []
        under = [self.low - value] if self.low is not None else []
        return max([*over, *under, -math.inf])

    def __str__(self) -> str:
        parts = ([f"{self.metric} >= {self.low:g}"] if self.low is not None else []) + (
            [f"{self.metric} <= {self.high:g}"] if self.high is not None else [])
        return " and ".join(parts)


@dataclass(frozen=True)
class Objectives:
    """A campaign's objectives (``names`` with their ``directions``) and hard ``limits``."""

    names: tuple[str, ...]
    directions: tuple[Mode, ...]
    limits: tuple[Limit, ...] = ()

    def __post_init__(self) -> None:
        if not self.names or len(self.names) != len(self.directions):
            raise ValueError(f"one direction per objective: {self.names} vs {self.directions}")

    @property
    def multi(self) -> bool:
        """True with more than one objective."""
        return len(self.names) > 1

    @property
    def primary(self) -> str:
        """The first objective: the campaign's ``metric`` (best trial, schedulers, models)."""
        return self.names[0]

    @property
    def metrics(self) -> tuple[str, ...]:
        """Every metric the objectives and limits read, each once, in order."""
        return tuple(dict.fromkeys([*self.names, *(limit.metric for limit in self.limits)]))

    def values_of(self, metrics: Mapping[str, Any]) -> tuple[float | None, ...]:
        """Each objective's value in ``metrics``: a float, or ``None`` when missing or not a
        finite number."""
        return tuple(float(metrics[name]) if is_finite_number(metrics.get(name)) else None
                     for name in self.names)

    def excesses(self, metrics: Mapping[str, Any]) -> tuple[float, ...]:
        """Each limit's :meth:`Limit.excess` for ``metrics``."""
        return tuple(limit.excess(metrics.get(limit.metric)) for limit in self.limits)

    def result(self, metrics: Mapping[str, Any], state: TrialState = TrialState.COMPLETE,
               step: int | None = None, value: Any = None) -> TrialResult:
        """What a strategy is told about a trial whose last metrics are ``metrics`` (``value``:
        the first objective's, when it comes from elsewhere, e.g. an earlier epoch's report)."""
        first = value if value is not None else metrics.get(self.primary)
        return TrialResult(
            value=first, state=state, step=step,
            values=self.values_of({**metrics, self.primary: first}) if self.multi else None,
            constraints=self.excesses(metrics),
        )
