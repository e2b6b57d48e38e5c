"""The view data, computed from hand-made tidy trial frames (the columns of ``trials_frame``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from sweepforge.dashboards._views import (
    anytime,
    best_configs,
    failures,
    learning_curves,
    summary,
    top_trials,
    trials_to_reach,
)


def trial(
    strategy,
    trial_id,
    value,
    *,
    state="COMPLETE",
    start=0.0,
    end=None,
    seed="0",
    config=None,
    test=None,
    error="",
):
    end = start + 1.0 if end is None else end
    return {
        "campaign_id": f"c{seed}",
        "seed": seed,
        "strategy": strategy,
        "trial_id": trial_id,
        "run_id": f"{strategy}-{seed}-{trial_id}",
        "state": state,
        "value": np.nan if value is None else value,
        "test_value": np.nan if test is None else test,
        "started_s": start,
        "ended_s": np.nan if state == "RUNNING" else end,
        "duration_s": (end - start) if state != "RUNNING" else np.nan,
        "epochs": 2.0,
        "error": error,
        "config": config if config is not None else {"lr": 0.01 * (trial_id + 1)},
    }


def frame(*rows):
    return pd.DataFrame(list(rows))


# --- summary ---------------------------------------------------------------------------------
def test_summary_counts_states_and_picks_best_and_its_test_value():
    trials = frame(
        trial("grid", 0, 0.80, test=0.78, start=0, end=2),
        trial("grid", 1, 0.90, test=0.85, start=1, end=5),
        trial("grid", 2, None, state="FAILED", start=2, end=3),
        trial("grid", 3, 0.70, state="PRUNED", start=3, end=4),
        trial("random", 0, None, state="RUNNING", start=0),
        trial("random", 1, 0.95, test=0.91, start=0, end=10),
    )
    table = summary(trials, "max", ["grid", "random"]).set_index("strategy")
    grid = table.loc["grid"]
    assert (grid.trials, grid.finished, grid.failed, grid.pruned, grid.running) == (4, 2, 1, 1, 0)
    assert grid.best_value == 0.90 and grid.test_value == 0.85 and grid.best_trial == 1
    assert grid.wall_time_s == 5.0  # first start (0) to last end (5)
    assert grid.compute_s == pytest.approx(2 + 4 + 1 + 1)
    assert grid.per_trial_s == pytest.approx(2.0)
    assert table.loc["random"].running == 1 and table.loc["random"].best_value == 0.95


def test_summary_keeps_the_campaign_order_and_adds_strategies_it_did_not_name():
    trials = frame(trial("z", 0, 0.1), trial("b", 0, 0.2), trial("a", 0, 0.3))
    assert list(summary(trials, "max", ["a", "b"])["strategy"]) == ["a", "b", "z"]


def test_trials_to_within_1pct_counts_trials_in_the_order_they_ended():
    trials = frame(
        trial("s", 0, 0.50, end=1),
        trial("s", 1, 0.990, end=9),  # trial 1 ends last
        trial("s", 2, 0.60, end=2),
        trial("s", 3, 0.992, end=3),
    )
    assert trials_to_reach(trials, 1.0, "max") == 3  # 0.992 >= 0.99 is the 3rd to end
    assert math.isnan(trials_to_reach(trials, 2.0, "max"))
    # minimising: within 1% above the best
    low = frame(trial("s", 0, 1.5, end=1), trial("s", 1, 1.005, end=2))
    assert trials_to_reach(low, 1.0, "min") == 2


def test_summary_of_a_strategy_whose_trials_all_failed_has_no_best():
    trials = frame(trial("s", 0, None, state="FAILED"), trial("s", 1, None, state="FAILED"))
    row = summary(trials, "max").iloc[0]
    assert row.failed == 2 and row.finished == 0
    assert math.isnan(row.best_value) and math.isnan(row.trials_to_within_1pct)


# --- anytime curves --------------------------------------------------------------------------
def test_anytime_by_trials_is_the_best_so_far_in_order_of_ending_compressed():
    trials = frame(
        trial("s", 0, 0.5, end=1),
        trial("s", 1, None, state="FAILED", end=2),
        trial("s", 2, 0.4, end=3),
        trial("s", 3, 0.7, end=4),
        trial("s", 4, 0.6, end=5),
    )
    (curve,) = anytime(trials, "max", "trials")
    assert curve.x == [1.0, 4.0, 5.0]  # only where the best changes, and the last point
    assert curve.y == [0.5, 0.7, 0.7]
    assert curve.lo is None and curve.seeds == 1


def test_anytime_by_time_starts_at_the_strategy_first_trial_and_minimises():
    trials = frame(trial("s", 0, 3.0, start=100, end=102), trial("s", 1, 2.0, start=101, end=110))
    (curve,) = anytime(trials, "min", "seconds")
    assert curve.x == [2.0, 10.0] and curve.y == [3.0, 2.0]


def test_anytime_across_seeds_gives_the_median_and_the_spread():
    trials = frame(
        trial("s", 0, 0.5, end=1, seed="0"),
        trial("s", 1, 0.9, end=2, seed="0"),
        trial("s", 0, 0.7, end=1, seed="1"),
        trial("s", 1, 0.6, end=2, seed="1"),
        trial("s", 0, 0.1, end=1, seed="2"),  # this seed ran a single trial
    )
    (curve,) = anytime(trials, "max", "trials")
    assert curve.seeds == 3
    assert curve.x == [1.0, 2.0]
    assert curve.y == [0.5, 0.7]  # medians of (0.5, 0.7, 0.1) and (0.9, 0.7, 0.1)
    assert curve.lo == [0.1, 0.1] and curve.hi == [0.7, 0.9]


def test_anytime_skips_strategies_with_no_ended_trial():
    trials = frame(trial("a", 0, None, state="RUNNING"), trial("b", 0, 0.3))
    assert [c.strategy for c in anytime(trials, "max", "trials")] == ["b"]


# --- learning curves, configs, failures ------------------------------------------------------
def test_top_trials_are_the_best_per_strategy():
    trials = frame(trial("a", 0, 0.1), trial("a", 1, 0.3), trial("a", 2, 0.2), trial("b", 0, 0.5))
    top = top_trials(trials, "max", per_strategy=2)
    assert list(zip(top["strategy"], top["trial_id"])) == [("b", 0), ("a", 1), ("a", 2)]


def test_learning_curves_read_the_histories_in_epoch_order():
    top = frame(trial("a", 1, 0.3))
    histories = pd.DataFrame(
        {"run_id": ["a-0-1"] * 3 + ["other"], "step": [2, 1, 2, 1], "value": [0.2, 0.1, 0.3, 9.0]}
    )
    (curve,) = learning_curves(top, histories)
    assert curve.epochs == [1.0, 2.0] and curve.values == [0.1, 0.3]  # the later log of step 2 wins
    assert curve.label.startswith("a #1")


def test_best_configs_are_yaml_of_the_best_trial_or_say_there_is_none():
    trials = frame(
        trial("a", 0, 0.1, config={"lr": 0.1, "opt": "adam"}),
        trial("a", 1, 0.3, config={"lr": 0.2, "opt": "sgd"}),
        trial("b", 0, None, state="FAILED"),
    )
    a, b = best_configs(trials, "max", ["a", "b"])
    assert (a.trial_id, a.value) == (1, 0.3)
    assert yaml.safe_load(a.yaml) == {"lr": 0.2, "opt": "sgd"}
    assert b.trial_id is None and "no finished trial" in b.yaml


def test_failures_lists_the_commonest_errors():
    trials = frame(
        trial("a", 0, None, state="FAILED", error="E: x"),
        trial("a", 1, None, state="FAILED", error="E: x"),
        trial("a", 2, None, state="FAILED"),
        trial("a", 3, 0.2),
    )
    assert failures(trials) == [("E: x", 2), ("(no error message)", 1)]
