"""Pareto fronts of a campaign's trial records: which trials stand on one, the reference point,
each strategy's hypervolume curve and every trial's place on the fronts.

The numbers come from :mod:`..strategies.pareto` (moocore); this module only says which
records count: COMPLETE trials that keep every hard limit and have every objective
(:func:`on_front`). The final refit searched nothing, so it is on no front.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ..schema import TrialStateName
from ..strategies.objectives import Objectives
from ..strategies.pareto import hypervolume_history, pareto_mask, reference_point
from ..tune.refit import REFIT
from .trial_logger import TrialRecord

__all__ = ["campaign_reference", "hypervolume_curve", "objective_points", "on_front",
           "pareto_flags"]


def on_front(record: TrialRecord, objectives: Objectives) -> bool:
    """Whether a trial may stand on a Pareto front: COMPLETE (a pruned trial's values are
    partial, and its costs unmeasured), every hard limit kept, every objective finite."""
    return (record.state == TrialStateName.COMPLETE.value and record.feasible
            and all(record.metrics.get(name) is not None for name in objectives.names))


def objective_points(records: Sequence[TrialRecord], objectives: Objectives) -> np.ndarray:
    """Trials × objectives, in the order of ``records``; NaN rows for trials that cannot stand
    on a front (:func:`on_front`), which the Pareto functions leave out."""
    rows = [[record.metrics[name] for name in objectives.names] if on_front(record, objectives)
            else [math.nan] * len(objectives.names) for record in records]
    return np.asarray(rows, dtype=float).reshape(len(rows), len(objectives.names))


def campaign_reference(records: Sequence[TrialRecord], objectives: Objectives,
                       given: dict[str, float] | None = None) -> list[float] | None:
    """The hypervolume's reference point: ``given`` (the file's ``reference:``), else the worst
    value of each objective over every COMPLETE trial of the campaign with all of them finite,
    infeasible ones included; ``None`` when no trial has them."""
    if given is not None:
        return [float(given[name]) for name in objectives.names]
    rows = [[r.metrics.get(name) for name in objectives.names] for r in records
            if r.strategy != REFIT and r.state == TrialStateName.COMPLETE.value]
    points = np.asarray([[math.nan if v is None else v for v in row] for row in rows], dtype=float)
    try:
        return reference_point(points.reshape(len(rows), len(objectives.names)),
                               objectives.directions).tolist()
    except ValueError:
        return None


def hypervolume_curve(records: Sequence[TrialRecord], objectives: Objectives,
                      reference: Sequence[float]) -> list[float]:
    """A strategy's hypervolume after each of its trials, in the order they ended."""
    ordered = sorted(records, key=lambda r: r.ended_at)
    return hypervolume_history(objective_points(ordered, objectives), objectives.directions,
                               reference)


def pareto_flags(records: Sequence[TrialRecord], objectives: Objectives) -> dict[str, tuple[bool, bool]]:
    """Run id -> (on the campaign's front, on its strategy's front), for every searched trial."""
    searched = [r for r in records if r.strategy != REFIT]
    campaign = pareto_mask(objective_points(searched, objectives), objectives.directions)
    flags = {r.run_id: (bool(on), False) for r, on in zip(searched, campaign, strict=True)}
    for strategy in dict.fromkeys(r.strategy for r in searched):
        own = [r for r in searched if r.strategy == strategy]
        for record, on in zip(own, pareto_mask(objective_points(own, objectives),
                                               objectives.directions), strict=True):
            flags[record.run_id] = (flags[record.run_id][0], bool(on))
    return flags
