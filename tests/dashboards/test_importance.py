"""fANOVA importance through Optuna, on an in-memory study built from hand-made trials."""

from __future__ import annotations

import random

import numpy as np
import pandas as pd

from sweepforge.dashboards import _importance
from sweepforge.dashboards._importance import importance
from sweepforge.dashboards._rows import param_specs


def trials(n, value_of, seed=0, extra=None):
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        config = {
            "lr": 10 ** rng.uniform(-4, -1),
            "opt": rng.choice(["adam", "sgd"]),
            "depth": rng.randint(1, 4),
        }
        if extra:
            config.update(extra(rng, config))
        rows.append(
            {
                "run_id": str(i),
                "trial_id": i,
                "strategy": "s",
                "state": "COMPLETE",
                "value": value_of(config, rng),
                "config": config,
            }
        )
    return pd.DataFrame(rows)


def test_the_knob_that_drives_the_metric_ranks_first():
    frame = trials(60, lambda c, rng: (1.0 if c["opt"] == "adam" else 0.0) + rng.gauss(0, 0.01))
    found = importance(frame, param_specs(frame), "max")
    assert next(iter(found.values)) == "opt"
    assert found.values["opt"] > 0.8
    assert np.isclose(sum(found.values.values()), 1.0)
    assert found.note == ""


def test_conditional_knobs_are_left_out_and_named():
    def momentum(rng, config):
        return {"momentum": rng.uniform(0.5, 0.9)} if config["opt"] == "sgd" else {}

    frame = trials(30, lambda c, rng: np.log10(c["lr"]), extra=momentum)
    found = importance(frame, param_specs(frame), "min")
    assert set(found.values) == {"lr", "opt", "depth"}
    assert next(iter(found.values)) == "lr"
    assert "momentum" in found.note


def test_too_few_scored_trials_give_a_note_not_an_error():
    frame = trials(3, lambda c, rng: 0.5)
    frame.loc[1:, "state"] = "FAILED"
    found = importance(frame, param_specs(frame), "max")
    assert found.values == {} and "fewer than 2 scored trials" in found.note


def test_trials_that_all_score_the_same_give_a_note_not_an_error():
    # iris, say, where every config reaches 1.0: fANOVA would raise on the zero variance
    frame = trials(5, lambda c, rng: 1.0)
    found = importance(frame, param_specs(frame), "max")
    assert found.values == {}
    assert found.note == (
        "No importance to show: every scored trial has the same value (1), "
        "so no knob explains a difference."
    )


def test_a_sample_with_no_variance_gives_a_note_not_an_error(monkeypatch):
    # the trials differ, but the seeded sample of 3 holds only the 0.5s: fANOVA's own
    # zero-variance error is turned into the note
    monkeypatch.setattr(_importance, "MAX_TRIALS", 3)
    frame = trials(6, lambda c, rng: 0.5)
    frame.loc[0, "value"] = 0.9
    assert 0 not in frame.sample(n=3, random_state=0).index
    found = importance(frame, param_specs(frame), "max")
    assert found.values == {}
    assert found.note.startswith("No importance to show: the metric varies too little")
    assert "random 3 of the scored trials" in found.note


def test_large_campaigns_are_sampled_and_say_so(monkeypatch):
    monkeypatch.setattr(_importance, "MAX_TRIALS", 40)
    frame = trials(100, lambda c, rng: np.log10(c["lr"]) + rng.gauss(0, 0.01))
    found = importance(frame, param_specs(frame), "max")
    assert next(iter(found.values)) == "lr"
    assert "random 40 of the scored trials" in found.note
