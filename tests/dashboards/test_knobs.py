"""Parallel coordinates and slices, from hand-made tidy trial frames."""

from __future__ import annotations

import pytest

from sweepforge.dashboards._knobs import UNSET, parallel, sample_trials, slices
from sweepforge.dashboards._rows import param_specs
from tests.dashboards.test_views import frame, trial


def test_parallel_axes_cover_strategy_knobs_and_metric():
    trials = frame(
        trial("grid", 0, 0.8, config={"lr": 1e-4, "opt": "adam", "depth": 1}),
        trial(
            "random", 1, 0.9, config={"lr": 1e-2, "opt": "momentum", "depth": 1, "momentum": 0.9}
        ),
        trial(
            "random", 2, 0.7, config={"lr": 1e-3, "opt": "momentum", "depth": 1, "momentum": 0.5}
        ),
        trial("random", 3, None, state="FAILED", config={"lr": 1.0, "opt": "sgd", "depth": 2}),
    )
    data = parallel(trials, param_specs(trials), "val_accuracy", "max")
    labels = [axis.label for axis in data.axes]
    # depth is constant among the scored trials but varies overall: it keeps its axis
    assert labels == ["strategy", "depth", "lr (log)", "momentum", "opt", "val_accuracy"]
    assert data.shown == data.total == 3 and data.note == ""
    axes = {a.label: a for a in data.axes}
    assert axes["strategy"].ticks == ["grid", "random"] and axes["strategy"].values == [0, 1, 1]
    assert axes["lr (log)"].values == pytest.approx([-4, -2, -3])
    assert axes["momentum"].ticks[0] == UNSET  # grid's trial has no momentum
    assert axes["momentum"].values[0] < 0.5
    assert data.color == [0.8, 0.9, 0.7]


def test_sampling_keeps_the_best_and_says_so():
    trials = frame(*[trial("s", i, i / 100) for i in range(100)])
    shown, note = sample_trials(trials, "max", 20)
    assert len(shown) == 20
    assert set(range(98, 100)) <= set(shown["trial_id"])  # the best 2 (a tenth of 20) are kept
    assert "Showing 20 of 100" in note
    again, _ = sample_trials(trials, "max", 20)
    assert list(again["trial_id"]) == list(shown["trial_id"])  # seeded


def test_slices_per_knob_and_strategy_with_a_sampling_note():
    trials = frame(
        *[trial("a", i, 0.5, config={"lr": 0.1 * (i + 1), "opt": "x"}) for i in range(5)],
        trial("b", 0, 0.6, config={"lr": 0.3, "opt": "y"}),
    )
    parts, note = slices(trials, param_specs(trials), "max", ["a", "b"], max_points=3)
    assert [p.param.name for p in parts] == ["lr", "opt"]
    xs, ys = parts[0].points["a"]
    assert len(xs) == len(ys) == 3
    assert parts[1].points["b"] == (["y"], [0.6])
    assert note.startswith("a: showing 3 of 5")


def test_numeric_axes_carry_ticks_in_the_knob_units():
    trials = frame(
        trial("s", 0, 0.1, config={"lr": 1e-4, "depth": 1}),
        trial("s", 1, 0.2, config={"lr": 1e-2, "depth": 2}),
    )
    axes = {a.label: a for a in parallel(trials, param_specs(trials), "m", "max").axes}
    assert axes["lr (log)"].ticks == ["0.0001", "0.000316", "0.001", "0.00316", "0.01"]
    assert axes["lr (log)"].tick_values == pytest.approx([-4, -3.5, -3, -2.5, -2])
    assert axes["depth"].ticks == ["1", "2"]  # whole numbers only
    assert axes["m"].values == [0.1, 0.2] and len(axes["m"].ticks) == 5
