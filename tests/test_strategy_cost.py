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


@pytest.mark.parametrize("name", ["auto", "auto_exact_ints", "optuna_tpe"])
def test_the_history_has_the_distributions_the_strategy_asks_with(name):
    """A history trial whose distributions differ from the strategy's own asks (an int where
    ``auto`` asks a relaxed float) would drop those parameters out of its model's search space
    and time a smaller model than a campaign runs."""
    from sweepforge.search import make_strategy

    kind, options = strategy_cost.STRATEGIES[name]
    strategy = make_strategy(kind, strategy_cost.LCBench.space(), budget=4, seed=0, mode="max",
                             options=options)
    strategy.ask()
    asked = strategy.study.trials[0].distributions
    relax = getattr(strategy, "relax_ints_wider_than", None)
    assert (relax is not None) == (name == "auto")
    assert strategy_cost.history(3, seed=0, relax_ints_wider_than=relax)[0].distributions == asked
