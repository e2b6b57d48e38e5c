"""What the multi-fidelity strategies (``bohb``, ``dehb``) learn from: each trial's value at
each epoch it reached, and the highest epoch ("rung") that has enough of them.

ASHA and Hyperband stop most trials at their first rungs, so a model fitted on every trial's
last value mixes one-epoch values with full-length ones; on LCBench the first epoch says little
about the last (BENCHMARKS.md, "Early stopping"). A strategy here fits on one epoch at a time:
the highest one at which at least ``min_points`` trials have a value, as BOHB does with its
budgets. The scheduler decides which trials climb; the table only reads what they reached, from
:attr:`TrialResult.curve` (the metric after each epoch), so it needs no knowledge of the
scheduler's rungs: between two rungs the counts cannot grow, and the highest epoch with enough
values is a rung's (or a whole trial's).
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from dataclasses import dataclass, field

from .base import TrialResult, TrialState

FULL = sys.maxsize
"""The epoch a final value counts at when its trial reported no curve and no step (a strategy
driven by a plain loop: one value per trial, full fidelity)."""


def fidelity_points(result: TrialResult) -> tuple[tuple[int, float], ...]:
    """``(epoch, value)`` pairs a model may learn from: the curve of a COMPLETE or PRUNED trial
    that keeps its hard limits (else nothing), or its final value at ``step`` (:data:`FULL`
    when unknown) when it reported no curve."""
    state = result.effective_state
    if state is TrialState.FAILED or not result.feasible:
        return ()
    if result.curve:
        return result.curve
    value = result.usable_value
    if value is None:
        return ()
    return ((result.step if result.step is not None else FULL, value),)


@dataclass
class RungTable:
    """Per epoch: the trials with a value at that epoch, in the order they were told."""

    values: dict[int, list[tuple[int, float]]] = field(default_factory=dict)

    def add(self, trial_id: int, points: tuple[tuple[int, float], ...]) -> None:
        """Records trial ``trial_id``'s ``(epoch, value)`` points."""
        for epoch, value in points:
            self.values.setdefault(epoch, []).append((trial_id, float(value)))

    def highest(self, min_points: int) -> int | None:
        """The highest epoch with at least ``min_points`` values (``None``: none has)."""
        full = [epoch for epoch, told in self.values.items() if len(told) >= min_points]
        return max(full) if full else None

    def count(self, epoch: int) -> int:
        """How many trials have a value at ``epoch``."""
        return len(self.values.get(epoch, ()))

    def missing(self, epoch: int, trial_ids: Iterable[int]) -> list[int]:
        """The trials of ``trial_ids`` with no value at ``epoch``: stopped below it, failed, or
        told without a curve at another epoch. A model fitted on ``epoch`` never sees them."""
        there = {trial for trial, _ in self.values.get(epoch, ())}
        return [trial for trial in trial_ids if trial not in there]

    def at(self, epoch: int) -> list[tuple[int, float]]:
        """``(trial id, value)`` of every trial with a value at ``epoch``."""
        return list(self.values.get(epoch, ()))


def rung_label(epoch: int | None) -> str:
    """How decisions name a rung: ``epoch 9``, ``final values``, or ``initial design``."""
    if epoch is None:
        return "initial design"
    return "final values" if epoch == FULL else f"epoch {epoch}"
