"""benchmarks/early_stopping.py: the simulated pool drives Ray Tune's own ASHA scheduler, stops
trials early, and the summary arithmetic is right."""

from __future__ import annotations

import pytest

from benchmarks import early_stopping as es


def test_asha_trains_fewer_epochs_for_the_same_trials_and_keeps_the_best_ones_going():
    full = es.run_pair("random", "none", "3945", 0, max_trials=27)
    asha = es.run_pair("random", "asha", "3945", 0, max_trials=27)
    assert full["trials"] == asha["trials"] == 27
    assert full["epochs"] == 27 * es.MAX_EPOCH
    assert asha["epochs"] < full["epochs"] / 3  # most trials stop at rung 1 or 3
    # same seed, same configs: ASHA lets the best one run on, so it sees nearly the same best
    assert asha["best"] >= full["best"] - 0.02


def test_the_baseline_reaches_its_own_best_and_the_cap_is_kept():
    base = es.run_pair("random", "none", "3945", 1, max_trials=10)
    again = es.run_pair("random", "none", "3945", 1, target=base["best"], max_trials=10)
    assert again["epochs_to_target"] is not None and again["epochs_to_target"] <= base["epochs"]
    capped = es.run_pair("random", "none", "3945", 1, target=2.0, cap=100)  # unreachable
    assert capped["epochs_to_target"] is None and capped["epochs"] == 100


def test_summary_counts_misses_as_the_cap_and_speedups_against_the_baseline():
    rows = [
        {"strategy": "random", "scheduler": "none", "task": "t", "seed": 0, "baseline": True,
         "epochs_to_target": 1000},
        {"strategy": "random", "scheduler": "asha", "task": "t", "seed": 0, "baseline": False,
         "epochs_to_target": 100},
        {"strategy": "grid", "scheduler": "none", "task": "t", "seed": 0, "baseline": False,
         "epochs_to_target": None},
    ]
    table = {(r["strategy"], r["scheduler"]): r for r in es.summarise(rows)}
    assert table[("random", "asha")]["median_speedup"] == pytest.approx(10.0)
    assert table[("grid", "none")]["reached"] == 0
    assert table[("grid", "none")]["median_epochs"] == es.CAP
    assert "| random | asha | 1/1 | 100 | 10.0x | 10.0x |" in es.markdown(es.summarise(rows))


@pytest.mark.parametrize("strategy", ["bohb", "dehb"])
def test_the_multifidelity_strategies_learn_from_the_curves_the_pool_tells(strategy):
    asha = es.run_pair(strategy, "asha", "3945", 0, max_trials=40)
    assert asha["trials"] == 40 and asha["epochs"] < 40 * es.MAX_EPOCH / 2  # many stopped
