"""benchmarks/strategy_cost.py: the history it gives Optuna strategies is a real study history,
and every strategy can be timed after N trials."""

from __future__ import annotations

import math

import pytest

from benchmarks import strategy_cost


def test_the_optuna_history_is_n_finished_trials_of_the_space():
    trials = strategy_cost.history(30, seed=0)
    assert len(trials) == 30
    assert all(t.state.name == "COMPLETE" and 0 < t.value <= 1 for t in trials)
    assert set(trials[0].params) == set(strategy_cost.LCBench.space().names)


@pytest.mark.parametrize("name", ["random", "evolutionary", "optuna_tpe"])
def test_each_strategy_is_timed_after_n_trials(name):
    cost = strategy_cost.measure(name, 40, probes=3)
    # timings, not speeds: how fast is the benchmark's business (BENCHMARKS.md), not a test's
    assert set(cost) == {"ask_s", "tell_s", "fill_s"}
    assert all(isinstance(v, float) and math.isfinite(v) for v in cost.values()), cost
    assert cost["ask_s"] > 0 and cost["tell_s"] > 0 and cost["fill_s"] > 0
