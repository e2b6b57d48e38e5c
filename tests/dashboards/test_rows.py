"""MLflow rows -> the tidy trials frame, on hand-made frames shaped like ``mlflow.search_runs``'."""

from __future__ import annotations

import json
import math

import pandas as pd
import pytest

from sweepforge.dashboards._rows import (
    TRIAL_COLUMNS,
    campaign_info,
    param_column,
    param_specs,
    scored,
    trials_frame,
)

T0 = pd.Timestamp("2026-01-01", tz="UTC")


def run(
    trial_id,
    *,
    status="FINISHED",
    value=0.5,
    epochs_run=2.0,
    epochs="2",
    strategy="random",
    config=None,
    campaign="c1",
    start=0.0,
    end=10.0,
    **extra,
):
    row = {
        "run_id": f"{campaign}-{strategy}-{trial_id}",
        "status": status,
        "start_time": T0 + pd.Timedelta(seconds=start),
        "end_time": None if end is None else T0 + pd.Timedelta(seconds=end),
        "metrics.val_accuracy": value,
        "metrics.test_accuracy": None if value is None else value - 0.01,
        "metrics.epochs_run": epochs_run,
        "metrics.duration_s": None if end is None else end - start,
        "params.epochs": epochs,
        "tags.sweepforge.kind": "trial",
        "tags.sweepforge.campaign_id": campaign,
        "tags.sweepforge.strategy": strategy,
        "tags.sweepforge.trial_id": str(trial_id),
        "tags.sweepforge.config": json.dumps(config if config is not None else {"lr": 0.01}),
    }
    row.update(extra)
    return row


CAMPAIGNS = pd.DataFrame(
    [
        {
            "run_id": "camp1",
            "status": "FINISHED",
            "start_time": T0,
            "params.metric": "val_accuracy",
            "params.mode": "max",
            "params.seed": "0",
            "params.strategies": "random,optuna",
            "params.trainable": "mlp",
            "tags.sweepforge.campaign_id": "c1",
        },
        {
            "run_id": "camp2",
            "status": "FINISHED",
            "start_time": T0,
            "params.metric": "val_accuracy",
            "params.mode": "max",
            "params.seed": "1",
            "params.strategies": "random,optuna",
            "params.trainable": "mlp",
            "tags.sweepforge.campaign_id": "c2",
        },
    ]
)


def test_campaign_info_reads_metric_mode_seed_and_strategies():
    info = campaign_info(CAMPAIGNS.iloc[0], "demo")
    assert (info.name, info.metric, info.mode, info.seed) == ("demo", "val_accuracy", "max", "0")
    assert info.strategies == ["random", "optuna"]
    assert info.campaign_id == "c1" and info.started_s == T0.timestamp()


def test_states_come_from_status_tags_and_epochs():
    runs = pd.DataFrame(
        [
            run(0),
            run(1, status="FAILED", value=float("nan"), epochs_run=1.0),
            run(2, status="KILLED", epochs_run=1.0),
            run(3, status="RUNNING", end=None, value=None, epochs_run=None),
            run(4, epochs_run=1.0),  # finished before its 2 epochs: a scheduler stopped it
            run(5, **{"tags.sweepforge.state": "pruned"}),
        ]
    )
    trials = trials_frame(runs, CAMPAIGNS, "val_accuracy")
    assert list(trials.columns) == TRIAL_COLUMNS
    assert list(trials["state"]) == ["COMPLETE", "FAILED", "KILLED", "RUNNING", "PRUNED", "PRUNED"]


def test_only_finished_or_pruned_trials_keep_their_value():
    runs = pd.DataFrame(
        [
            run(0, value=0.9),
            run(1, status="KILLED", value=0.95),
            run(2, status="FAILED", value=float("inf")),
        ]
    )
    trials = trials_frame(runs, CAMPAIGNS, "val_accuracy")
    assert trials["value"].iloc[0] == 0.9
    assert trials["value"].iloc[1:].isna().all()
    assert list(scored(trials)["trial_id"]) == [0]


def test_columns_are_typed_and_seeds_mapped_from_the_campaign_runs():
    runs = pd.DataFrame([run(1, campaign="c2", start=5, end=8), run(0, start=1, end=4)])
    trials = trials_frame(runs, CAMPAIGNS, "val_accuracy")
    assert list(trials["campaign_id"]) == ["c1", "c2"]  # sorted by campaign, strategy, trial
    assert list(trials["seed"]) == ["0", "1"]
    assert trials["trial_id"].tolist() == [0, 1]
    assert trials["started_s"].iloc[0] == T0.timestamp() + 1
    assert trials["duration_s"].iloc[0] == pytest.approx(3.0)
    assert trials["test_value"].iloc[0] == pytest.approx(0.49)


def test_duration_falls_back_to_run_times_and_errors_keep_their_last_line():
    runs = pd.DataFrame(
        [
            run(
                0,
                status="FAILED",
                start=2,
                end=7,
                **{
                    "metrics.duration_s": None,
                    "tags.sweepforge.error": "Traceback ...\n  line\nValueError: boom\n",
                },
            )
        ]
    )
    trials = trials_frame(runs, CAMPAIGNS, "val_accuracy")
    assert trials["duration_s"].iloc[0] == pytest.approx(5.0)
    assert trials["error"].iloc[0] == "ValueError: boom"


def test_an_empty_frame_gives_the_columns_and_no_rows():
    assert list(trials_frame(pd.DataFrame(), CAMPAIGNS, "val_accuracy").columns) == TRIAL_COLUMNS


def test_param_specs_infer_types_ranges_log_and_conditional_presence():
    configs = [
        {"lr": 1e-4, "batch_size": 32, "optimizer": "adam", "amp": False, "width": 16},
        {
            "lr": 1e-2,
            "batch_size": 128,
            "optimizer": "momentum",
            "momentum": 0.9,
            "amp": True,
            "width": 32,
        },
    ]
    runs = pd.DataFrame([run(i, config=c) for i, c in enumerate(configs)])
    specs = {s.name: s for s in param_specs(trials_frame(runs, CAMPAIGNS, "val_accuracy"))}
    assert list(specs) == ["amp", "batch_size", "lr", "momentum", "optimizer", "width"]
    assert specs["lr"].kind == "float" and specs["lr"].log  # 100x range
    assert (specs["lr"].low, specs["lr"].high) == (1e-4, 1e-2)
    assert specs["batch_size"].kind == "int" and not specs["batch_size"].log  # 4x range
    assert specs["optimizer"].choices == ("adam", "momentum")
    assert specs["amp"].kind == "categorical" and specs["amp"].choices == (False, True)
    assert specs["momentum"].present == 1 and specs["momentum"].constant
    assert not specs["width"].constant


def test_param_column_is_none_where_a_trial_lacks_the_knob():
    runs = pd.DataFrame([run(0, config={"a": 1}), run(1, config={"b": 2})])
    trials = trials_frame(runs, CAMPAIGNS, "val_accuracy")
    values = param_column(trials, "a").tolist()
    assert values[0] == 1 and (values[1] is None or math.isnan(values[1]))


def test_a_uniform_knob_near_zero_is_not_mistaken_for_a_log_one():
    uniform = [0.0004, 0.05, 0.12, 0.2, 0.26, 0.31, 0.38, 0.45]  # like dropout in [0, 0.5]
    log_uniform = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 0.1]
    configs = [{"dropout": d, "lr": lr} for d, lr in zip(uniform, log_uniform)]
    runs = pd.DataFrame([run(i, config=c) for i, c in enumerate(configs)])
    specs = {s.name: s for s in param_specs(trials_frame(runs, CAMPAIGNS, "val_accuracy"))}
    assert not specs["dropout"].log and specs["lr"].log


def test_the_header_names_the_campaign_s_model_its_version_and_the_refit_s_test_score():
    from sweepforge.dashboards._payload import _subtitle

    row = CAMPAIGNS.iloc[0].copy()
    assert "model" not in _subtitle(campaign_info(row, "demo"), pd.DataFrame())  # none yet
    row["tags.sweepforge.model_uri"] = "models:/m-0123"
    row["tags.sweepforge.registered"] = "demo-mlp/3"
    row["metrics.final.test_value"] = 0.9625
    shown = _subtitle(campaign_info(row, "demo"), pd.DataFrame())
    assert shown.endswith("; model models:/m-0123, registered as demo-mlp/3, refit's test score 0.9625")
