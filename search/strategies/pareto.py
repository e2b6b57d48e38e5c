"""Pareto fronts and hypervolume of trials with several objectives, each maximised or minimised.

The numbers come from ``moocore`` (the maintained C library behind DEAP's own hypervolume, a
dependency of DEAP): :func:`pareto_mask` is ``moocore.is_nondominated`` and :func:`hypervolume`
``moocore.hypervolume``. This module only turns a campaign's objectives (``max``/``min`` each)
into moocore's minimisation and leaves out trials without a finite value for every objective
(failed, diverged, or not reporting one).

The reference point of a campaign is, by default, the worst value of each objective over all
its trials (:func:`reference_point`): a trial on that point adds no volume, so every strategy is
measured against the same box.

Example:
    >>> values = [[0.90, 50_000], [0.95, 200_000], [0.85, 100_000]]   # accuracy, parameters
    >>> pareto_mask(values, ["max", "min"]).tolist()
    [True, True, False]
    >>> reference = reference_point(values, ["max", "min"])
    >>> reference.tolist()
    [0.85, 200000.0]
    >>> round(hypervolume(values, ["max", "min"], reference), 6)  # 0.05*150k + 0.05*0
    7500.0
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import moocore
import numpy as np

DIRECTIONS = ("max", "min")


def pareto_mask(values: Any, directions: Sequence[str]) -> np.ndarray:
    """Which rows of ``values`` (trials × objectives) are on the Pareto front: no other row
    is at least as good in every objective and better in one. Rows with a non-finite value are
    never on it. Equal rows are all on it."""
    points = _as_points(values, directions)
    finite = np.isfinite(points).all(axis=1)
    mask = np.zeros(len(points), dtype=bool)
    if finite.any():
        mask[finite] = moocore.is_nondominated(_minimised(points[finite], directions),
                                               keep_weakly=True)
    return mask


def reference_point(values: Any, directions: Sequence[str]) -> np.ndarray:
    """The worst finite value of each objective over the rows of ``values``; ``ValueError``
    when some objective has no finite value."""
    points = _as_points(values, directions)
    finite = points[np.isfinite(points).all(axis=1)]
    if not len(finite):
        raise ValueError("no trial has a finite value for every objective: no reference point")
    worst = [finite[:, j].min() if d == "max" else finite[:, j].max()
             for j, d in enumerate(directions)]
    return np.asarray(worst, dtype=float)


def hypervolume(values: Any, directions: Sequence[str], reference: Any) -> float:
    """The volume of objective space that the rows of ``values`` dominate, bounded by
    ``reference`` (in the objectives' own units and directions). Rows with a non-finite value,
    or not better than the reference in every objective, add nothing."""
    points = _as_points(values, directions)
    ref = np.asarray(reference, dtype=float).reshape(-1)
    if ref.shape != (len(directions),):
        raise ValueError(f"reference must hold one value per objective ({len(directions)}), "
                         f"got {ref.tolist()}")
    points = points[np.isfinite(points).all(axis=1)]
    low, high = _minimised(points, directions), _minimised(ref[None, :], directions)[0]
    inside = low[(low < high).all(axis=1)]
    if not len(inside):
        return 0.0
    return float(moocore.hypervolume(inside, ref=high))


def hypervolume_history(values: Any, directions: Sequence[str], reference: Any) -> list[float]:
    """The hypervolume of the first 1, 2, ... rows of ``values``: a strategy's curve by trials
    (never decreasing)."""
    points = _as_points(values, directions)
    return [hypervolume(points[: i + 1], directions, reference) for i in range(len(points))]


def _as_points(values: Any, directions: Sequence[str]) -> np.ndarray:
    bad = [d for d in directions if d not in DIRECTIONS]
    if bad or not directions:
        raise ValueError(f"directions must each be 'max' or 'min', got {list(directions)}")
    points = np.asarray(values, dtype=float)
    if points.size == 0:
        return np.empty((0, len(directions)))
    if points.ndim != 2 or points.shape[1] != len(directions):
        raise ValueError(f"values must be trials × {len(directions)} objectives, got shape "
                         f"{points.shape}")
    return points


def _minimised(points: np.ndarray, directions: Sequence[str]) -> np.ndarray:
    signs = np.asarray([-1.0 if d == "max" else 1.0 for d in directions])
    return points * signs
