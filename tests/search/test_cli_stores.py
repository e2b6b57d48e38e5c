"""`best` and `predict` on a store that is not there or not up, and the reasons they give when a
campaign has no best trial or no model.

The stores are real SQLite MLflow stores; the campaigns in them are written run by run with the
tags and params a campaign writes (:mod:`sweepforge.search.schema`,
:func:`~sweepforge.search.session.campaign_params` of a real campaign file), so no campaign runs.
"""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import schema
from sweepforge.search.cli import app
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.session import campaign_params
from sweepforge.trainables.predictors import has_predictor
from tests.conftest import small_campaign

runner = CliRunner()
LIMIT = 100_000


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed on return: nothing listens there


def _command(command: str, name: str, tmp_path: Path) -> list[str]:
    if command == "predict":
        table = tmp_path / "rows.csv"
        pd.DataFrame({"x": [1.0, 2.0]}).to_csv(table, index=False)
        return ["predict", name, "--input", str(table)]
    return [command, name, *(["-o", str(tmp_path / "r.html")] if command == "report" else [])]


def _refusal(command: str, tmp_path: Path, uri: str) -> str:
    """The error ``command`` ends with on store ``uri`` (exit 2, no traceback)."""
    result = runner.invoke(app, [*_command(command, "qs", tmp_path), "--tracking-uri", uri])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    return " ".join(result.output.split())


@pytest.mark.parametrize("command", ["best", "predict"])
def test_a_tracking_server_that_is_not_up_fails_in_seconds_as_report_does(command, tmp_path,
                                                                          monkeypatch):
    """MLflow's own client would retry for minutes, then end in a urllib3 traceback (exit 1);
    with its retries off here, that way fails in seconds too."""
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    uri = f"http://127.0.0.1:{_free_port()}"
    started = time.monotonic()
    said = _refusal(command, tmp_path, uri)
    assert time.monotonic() - started < 30
    assert f"cannot reach the MLflow tracking server at {uri}" in said
    assert said == _refusal("report", tmp_path, uri)  # one check, one message


@pytest.mark.parametrize("command", ["best", "predict"])
def test_a_sqlite_store_that_is_not_there_is_refused_and_not_made(command, tmp_path):
    db = tmp_path / "nowhere" / "nonexist.db"
    db.parent.mkdir()
    said = _refusal(command, tmp_path, f"sqlite:///{db}")
    assert f"no MLflow store at sqlite:///{db}" in said and "does not exist" in said
    assert said == _refusal("report", tmp_path, f"sqlite:///{db}")
    assert list(db.parent.iterdir()) == []


def _campaign(client: MlflowClient, config: dict, trials: list[tuple[str, int, dict, bool]],
              *, status: str = "FINISHED", notes: dict[str, str] | None = None) -> None:
    """A campaign's runs as a campaign writes them: its campaign run, a run per strategy and a
    FINISHED run per trial (``(strategy, trial id, metrics, feasible)``)."""
    parsed = parse_campaign_config(config)
    experiment = client.create_experiment(parsed.name)
    campaign_id = f"{parsed.name}-id"
    common = {schema.TAG_CAMPAIGN_ID: campaign_id}
    campaign = client.create_run(experiment, tags={
        **common, schema.TAG_KIND: schema.RunKind.CAMPAIGN,
        schema.TAG_OBJECTIVES: json.dumps(parsed.objective_directions)}).info.run_id
    for key, value in campaign_params(parsed).items():
        client.log_param(campaign, key, value)
    for strategy in parsed.strategies:
        run = client.create_run(experiment, tags={
            **common, schema.TAG_KIND: schema.RunKind.STRATEGY, schema.TAG_STRATEGY: strategy,
            **({schema.TAG_MODEL_NOTE: notes[strategy]} if notes else {})}).info.run_id
        client.set_terminated(run, status)
    for strategy, trial_id, metrics, feasible in trials:
        run = client.create_run(experiment, tags={
            **common, schema.TAG_KIND: schema.RunKind.TRIAL, schema.TAG_STRATEGY: strategy,
            schema.TAG_TRIAL_ID: str(trial_id), schema.TAG_CONFIG: json.dumps({"lr": 0.01}),
            schema.TAG_STATE: "COMPLETE", schema.TAG_FEASIBLE: str(feasible).lower()}).info.run_id
        for metric, value in metrics.items():
            client.log_metric(run, metric, value)
        client.set_terminated(run, "FINISHED")
    client.set_terminated(campaign, status)


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    """Three finished campaigns: ``limits`` (two objectives, a hard limit every trial of
    ``random`` breaks), ``two-of-three`` (run with random and optuna only) and ``codes`` (an
    autoencoder: no model, each strategy run says why)."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('stores') / 'mlflow.db'}"
    client = MlflowClient(uri)
    limits = small_campaign(name="limits", objectives={"val_accuracy": "max", "n_params": "min"},
                            constraints={"n_params": {"max": LIMIT}},
                            strategies={"random": {}, "optuna": {}})
    del limits["metric"], limits["mode"]
    _campaign(client, limits, [
        ("random", 0, {"val_accuracy": 0.9, "n_params": 3 * LIMIT}, False),
        ("random", 1, {"val_accuracy": 0.8, "n_params": 2 * LIMIT}, False),
        ("optuna", 0, {"val_accuracy": 0.7, "n_params": LIMIT / 2}, True),
    ])
    _campaign(client, small_campaign(name="two-of-three", strategies={"random": {}, "optuna": {}}),
              [("random", 0, {"val_accuracy": 0.9}, True), ("optuna", 0, {"val_accuracy": 0.8}, True)])
    codes = small_campaign(name="codes", trainable="autoencoder", metric="val_mse", mode="min",
                           strategies={"random": {}, "grid": {}})
    codes["space"] = {"lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}}
    _campaign(client, codes, [("random", 0, {"val_mse": 0.02}, True),
                              ("grid", 0, {"val_mse": 0.03}, True)],
              notes=dict.fromkeys(("random", "grid"), has_predictor("autoencoder")))
    return uri


def test_best_of_a_strategy_whose_every_trial_breaks_a_limit_says_so(store):
    result = runner.invoke(app, ["best", "limits", "--strategy", "random", "--tracking-uri", store])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "every finished trial of strategy 'random'" in said and "breaks a limit" in said
    assert f"constraints: n_params <= {LIMIT}" in said
    assert "`sweepforge best limits` without --strategy" in said
    assert "no finished trial with a finite" not in said
    front = runner.invoke(app, ["best", "limits", "--tracking-uri", store])  # what it points to
    assert front.exit_code == 0 and "strategy: optuna" in front.output, front.output


def test_best_of_a_strategy_the_latest_run_did_not_run_names_those_it_has(store, tmp_path):
    best = runner.invoke(app, ["best", "two-of-three", "--strategy", "grid", "--tracking-uri", store])
    assert best.exit_code == 2, best.output
    said = " ".join(best.output.split())
    assert "--strategy: campaign 'two-of-three' has no strategy 'grid'; it has: optuna, random." in said
    predict = runner.invoke(app, [*_command("predict", "two-of-three", tmp_path), "--strategy",
                                  "grid", "--tracking-uri", store])
    assert predict.exit_code == 2 and " ".join(predict.output.split()) == said  # one wording


def test_the_model_of_a_finished_autoencoder_campaign_is_refused_with_the_reason(store, tmp_path):
    result = runner.invoke(app, ["best", "codes", "--model", str(tmp_path / "ae"),
                                 "--tracking-uri", store])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    assert "campaign 'codes' has no model: trainable 'autoencoder' has no predictor" in said
    assert "no model yet" not in said
    assert not (tmp_path / "ae").exists()
