"""GridStrategy: the levels rule, a seeded random walk over distinct points, early end."""

from __future__ import annotations

import pytest

from sweepforge.search.strategies.base import StrategyError, TrialResult
from sweepforge.search.strategies.grid import GridStrategy
from sweepforge.spaces import Categorical, Condition, Float, Int, Space

SMALL = Space([Float("x", 0.0, 1.0), Categorical("act", ("relu", "tanh"))])  # 2 * L points


def drain(strategy: GridStrategy) -> list[dict]:
    configs = []
    while (spec := strategy.ask()) is not None:
        configs.append(spec.config)
        strategy.tell(spec.trial_id, TrialResult(0.0))
    return configs


@pytest.mark.parametrize(("budget", "levels"), [(1, 2), (4, 2), (5, 3), (6, 3), (7, 4), (20, 10)])
def test_levels_are_the_smallest_count_whose_grid_covers_the_budget(budget, levels):
    strategy = GridStrategy(SMALL, budget=budget)
    assert strategy.levels == levels
    assert strategy.grid_size == SMALL.grid_size(levels) >= budget


def test_levels_stop_at_ten_and_a_small_grid_ends_before_the_budget():
    strategy = GridStrategy(SMALL, budget=50)
    assert (strategy.levels, strategy.grid_size) == (10, 20)
    configs = drain(strategy)
    assert len(configs) == 20 and strategy.n_asked == 20
    assert strategy.ask() is None and strategy.exhausted and strategy.finished


def test_a_small_grid_is_covered_exactly_once():
    space = Space(
        [
            Categorical("opt", ("sgd", "momentum", "adam")),
            Float("m", 0.5, 0.9, when=Condition("opt", ("momentum",))),
            Int("depth", 1, 3),
        ]
    )
    configs = drain(GridStrategy(space, budget=1000, levels=2))
    assert len(configs) == space.grid_size(2) == 2 + 2 * 2 + 2  # depth takes 1 and 3
    assert sorted(map(repr, configs)) == sorted(map(repr, space.iter_grid(2)))
    assert {c["opt"] for c in configs} == {"sgd", "momentum", "adam"}


def test_explicit_levels_are_used_as_given():
    strategy = GridStrategy(SMALL, budget=3, levels=5)
    assert strategy.levels == 5
    configs = drain(strategy)
    assert len(configs) == 3
    assert {c["x"] for c in configs} <= {0.0, 0.25, 0.5, 0.75, 1.0}


def test_points_are_distinct_and_walked_in_a_seeded_random_order():
    space = Space([Float("x", 0.0, 1.0), Float("y", 0.0, 1.0), Categorical("c", ("a", "b", "c"))])
    first = drain(GridStrategy(space, budget=30, seed=0))
    assert len({repr(c) for c in first}) == 30
    assert first == drain(GridStrategy(space, budget=30, seed=0))
    assert first != drain(GridStrategy(space, budget=30, seed=1))
    lexicographic = list(space.iter_grid(GridStrategy(space, budget=30).levels))[:30]
    assert first != lexicographic


def test_a_grid_larger_than_the_budget_samples_all_its_categorical_values():
    space = Space(
        [
            Float("lr", 1e-4, 1e-1, log=True),
            Categorical("act", ("relu", "tanh", "gelu")),
            Int("depth", 1, 8),
        ]
    )
    configs = drain(GridStrategy(space, budget=24, seed=0))
    assert len(configs) == 24
    assert {c["act"] for c in configs} == {"relu", "tanh", "gelu"}


def test_huge_grids_beyond_int64_are_walked_without_enumeration():
    space = Space([Float(f"x{i}", 0.0, 1.0) for i in range(30)])
    strategy = GridStrategy(space, budget=5, levels=10)
    assert strategy.grid_size == 10**30
    configs = drain(strategy)
    assert len({repr(c) for c in configs}) == 5
    for config in configs:
        space.validate(config)
    assert configs == drain(GridStrategy(space, budget=5, levels=10))


@pytest.mark.parametrize("levels", [0, -2, 2.5, "3", True])
def test_bad_levels_are_rejected_with_the_rule(levels):
    with pytest.raises(StrategyError, match=r"`levels` must be an int >= 1 or None.*levels="):
        GridStrategy(SMALL, budget=4, levels=levels)
