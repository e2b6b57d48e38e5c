"""Pareto fronts and hypervolume (search/strategies/pareto.py) on hand-computed cases and properties."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sweepforge.search.strategies.pareto import (
    hypervolume,
    hypervolume_history,
    pareto_mask,
    reference_point,
)

STAIRS = [[1.0, 3.0], [2.0, 2.0], [3.0, 1.0], [3.0, 3.0]]  # minimise both; the last is dominated


def test_the_front_of_a_staircase_and_its_area():
    assert pareto_mask(STAIRS, ["min", "min"]).tolist() == [True, True, True, False]
    # boxes up to (4, 4): 3x1 + 2x1 + 1x1
    assert hypervolume(STAIRS, ["min", "min"], [4.0, 4.0]) == pytest.approx(6.0)


def test_maximised_objectives_mirror_minimised_ones():
    mirrored = [[-a, b] for a, b in STAIRS]  # the first objective maximised instead
    assert pareto_mask(mirrored, ["max", "min"]).tolist() == [True, True, True, False]
    assert hypervolume(mirrored, ["max", "min"], [-4.0, 4.0]) == pytest.approx(6.0)
    assert reference_point(mirrored, ["max", "min"]).tolist() == [-3.0, 3.0]


def test_trials_without_a_finite_value_are_never_on_the_front_and_add_nothing():
    values = [[1.0, 1.0], [math.nan, 0.0], [0.0, math.inf], [2.0, 2.0]]
    assert pareto_mask(values, ["min", "min"]).tolist() == [True, False, False, False]
    assert hypervolume(values, ["min", "min"], [3.0, 3.0]) == pytest.approx(4.0)
    assert reference_point(values, ["min", "min"]).tolist() == [2.0, 2.0]


def test_points_on_or_beyond_the_reference_add_nothing():
    assert hypervolume([[4.0, 1.0], [5.0, 5.0]], ["min", "min"], [4.0, 4.0]) == 0.0
    assert hypervolume([], ["min", "min"], [4.0, 4.0]) == 0.0


def test_equal_trials_are_all_on_the_front():
    assert pareto_mask([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0]], ["min", "min"]).tolist() == [
        True, True, False]


def test_bad_directions_and_shapes_are_refused():
    with pytest.raises(ValueError, match="'max' or 'min'"):
        pareto_mask([[1.0]], ["maximise"])
    with pytest.raises(ValueError, match="trials × 2 objectives"):
        pareto_mask([[1.0, 2.0, 3.0]], ["min", "min"])
    with pytest.raises(ValueError, match="one value per objective"):
        hypervolume([[1.0, 2.0]], ["min", "min"], [1.0])
    with pytest.raises(ValueError, match="no reference point"):
        reference_point([[math.nan, 1.0]], ["min", "min"])


finite = st.floats(min_value=-100, max_value=100, allow_nan=False)
points = st.lists(st.tuples(finite, finite, finite), min_size=1, max_size=30)


@settings(max_examples=60, deadline=None)
@given(points)
def test_the_history_never_falls_and_ends_at_the_whole_volume(rows):
    directions = ["max", "min", "min"]
    reference = reference_point(rows, directions)
    history = hypervolume_history(rows, directions, reference)
    assert all(b >= a - 1e-9 for a, b in zip(history, history[1:]))
    assert history[-1] == pytest.approx(hypervolume(rows, directions, reference))


@settings(max_examples=60, deadline=None)
@given(points)
def test_the_front_alone_has_the_whole_volume_and_no_front_point_is_dominated(rows):
    directions = ["max", "min", "min"]
    reference = reference_point(rows, directions)
    mask = pareto_mask(rows, directions)
    values = np.asarray(rows)
    front = values[mask]
    assert hypervolume(front, directions, reference) == pytest.approx(
        hypervolume(values, directions, reference))
    signs = np.asarray([-1.0, 1.0, 1.0])
    for point in front * signs:
        others = values * signs
        dominated_by = (others <= point).all(axis=1) & (others < point).any(axis=1)
        assert not dominated_by.any()
