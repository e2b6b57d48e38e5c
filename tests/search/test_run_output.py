"""What a user reads of a run besides the trials: the tables' row of the final refit, and a
failed trial's error.

Refit on train+val, the final model's validation value comes from data it trained on (0.997 on
digits, where the strategies' best is about 0.97), so a reader comparing that column would take
the refit for the best search: the value is marked and the caption says why; its test value is
the held-out one."""

from __future__ import annotations

import pandas as pd
import pytest
from rich.console import Console

from sweepforge.search.cli import _comparison_table
from sweepforge.search.tracking.progress import (
    TRAINED_ON_VAL,
    TRAINED_ON_VAL_NOTE,
    CampaignProgress,
)
from sweepforge.search.tracking.trial_logger import TrialRecord
from sweepforge.search.tune.refit import REFIT


def _text(table, width: int = 200) -> str:
    console = Console(record=True, width=width)
    console.print(table)
    return console.export_text()


def _record(strategy: str, value: float) -> TrialRecord:
    return TrialRecord(strategy=strategy, trial_id=0, state="COMPLETE", value=value,
                       test_value=0.95, epochs=3, duration_s=1.0, started_at=0.0, config={},
                       run_id="r")


def _line(text: str, strategy: str) -> str:
    """The table row whose first cell is ``strategy``."""
    return next(line for line in text.splitlines()
                if line.startswith("│") and line.split("│")[1].strip() == strategy)


@pytest.mark.parametrize("on_val", [True, False])
def test_the_live_table_marks_a_refit_trained_on_the_validation_split(on_val):
    progress = CampaignProgress(["random"], budget=1, metric="val_accuracy", mode="max",
                                enabled=False, refit=REFIT, refit_on_val=on_val)
    for strategy, value in (("random", 0.9667), (REFIT, 0.9972)):
        progress.on_event(strategy, None)
        progress.on_event(strategy, _record(strategy, value))
    text = _text(progress.render())
    assert ("0.9972" + TRAINED_ON_VAL in _line(text, REFIT)) is on_val
    assert TRAINED_ON_VAL not in _line(text, "random")
    assert (" ".join(TRAINED_ON_VAL_NOTE.split()) in " ".join(text.split())) is on_val  # wrapped


@pytest.mark.parametrize("on_val", [True, False])
def test_the_comparison_table_marks_a_refit_trained_on_the_validation_split(on_val):
    summary = pd.DataFrame([
        {"strategy": "random", "trials": 2, "pruned": 0, "failed": 0, "epochs": 6,
         "best_value": 0.9667, "test_value": 0.9639, "wall_time_s": 3.0},
        {"strategy": REFIT, "trials": 1, "pruned": 0, "failed": 0, "epochs": 3,
         "best_value": 0.9972, "test_value": 0.9694, "wall_time_s": 1.0},
    ])
    text = _text(_comparison_table(summary, "val_accuracy", refit_on_val=on_val))
    assert ("0.9972" + TRAINED_ON_VAL in _line(text, REFIT)) is on_val
    assert "0.9694" in _line(text, REFIT) and TRAINED_ON_VAL not in _line(text, "random")
    assert ("trained on" in text) is on_val


def test_the_quickstart_comparison_fits_an_80_column_terminal():
    """Its six rows (five strategies and the refit) and metric name, uncut: the headers take
    two lines instead of widening the table."""
    summary = pd.DataFrame([
        {"strategy": name, "trials": 20, "pruned": 0, "failed": 3, "epochs": 300,
         "best_value": 0.9667, "test_value": 0.9639, "wall_time_s": seconds}
        for name, seconds in (("auto", 73.2), ("grid", 1273.0), ("random", 4.2),
                              ("optuna", 80.0), ("evolutionary", 90.0), (REFIT, 20.0))
    ])
    text = _text(_comparison_table(summary, "val_accuracy", refit_on_val=True), width=80)
    assert "…" not in text, text
    assert "val_accuracy" in text and "evolutionary" in _line(text, "evolutionary")
    assert "1273s" in _line(text, "grid") and "4.2s" in _line(text, "random")
    assert max(len(line) for line in text.splitlines()) <= 80


def test_a_trial_without_its_metric_is_told_why():
    """The failed trial's error says what was wrong with its last report: a diverged value (and
    the epoch), or a metric the trainable never reported."""
    from sweepforge.search.tracking.trial_logger import _no_value

    assert _no_value("val_accuracy", {"val_accuracy": float("nan"), "epoch": 3}) == (
        "metric 'val_accuracy' is nan at epoch 3, not a finite number: the training diverged "
        "(a smaller learning rate usually avoids it)")
    assert "missing from the trial's last report" in _no_value("val_acc", {"val_accuracy": 0.9})
    assert _no_value("val_accuracy", {"val_accuracy": None}) == (
        "metric 'val_accuracy' is None, not a finite number")  # no claim of a divergence
