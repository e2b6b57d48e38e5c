"""The winning model (issue 18), end to end: real Ray (started once for the module), a real
SQLite MLflow store, real training on small bundled data.

A campaign logs each strategy's best trial as an MLflow Model; a fresh Python process loads it
with ``mlflow.pyfunc.load_model`` and, from the raw test split, reproduces the test metric the
best trial logged. ``final.register`` puts the campaign's best into the Model Registry once;
``sweepforge best --model`` and ``sweepforge predict`` hand it to a user. Mocks only inject
faults (a model that cannot be logged).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc
import mlflow.pytorch
import numpy as np
import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import Campaign
from sweepforge.search.cli import app
from sweepforge.search.state.best_checkpoints import BestCheckpoints
from sweepforge.search.tracking import models
from sweepforge.trainables import load_dataset
from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, load_state_file
from sweepforge.trainables.predictors import SUPPORTED
from tests.conftest import small_campaign

runner = CliRunner()
SCRIPT = Path(sys.executable).with_name("sweepforge")
REGISTERED = "sweepforge-test-digits"
RELATIVE = 1e-5
"""How close a regressor's test metric recomputed from the model's predictions must come to the
one its trial logged: the trial computed it in float32 on targets stored scaled (``(y - offset)
/ scale``), this test in float64 on the raw targets, so they differ in the last float32 bits."""

# family -> (dataset, campaign metric, fixed knobs that keep it tiny)
FAMILIES: dict[str, tuple[str, str, dict[str, Any]]] = {
    "mlp": ("iris", "val_accuracy", {"width": 16, "depth": 1}),  # labels are species names
    "mlp_regressor": ("diabetes", "val_loss", {"width": 16, "depth": 1}),
    "linear_regression": ("diabetes", "val_loss", {}),
    "logistic_regression": ("wine", "val_accuracy", {}),  # labels class_0..class_2
    "cnn": ("digits", "val_accuracy", {"depth": 1, "width": 4}),
    "resnet": ("digits", "val_accuracy", {"depth": 1, "widen": 1}),  # the cheapest images
    # level names (cut "Ideal"), a log target: the raw frame goes in as a user holds it
    "entity_embedding": ("diamonds", "val_mape", {"depth": 1, "width": 16, "batch_size": 512}),
    "rnn": ("adding", "val_loss", {"cell": "gru", "hidden_size": 8}),
}

# A fresh process (nothing of this one's imports or MLflow state): each model by its URI from the
# store, the raw test split rebuilt from the bundled data, a table's rows as a named frame. One
# process for every model asked (its imports cost seconds).
PREDICT_RAW = r"""
import json, sys
import mlflow, mlflow.pyfunc, mlflow.pytorch
from sweepforge.trainables import load_dataset

jobs = json.loads(sys.argv[1])
mlflow.set_tracking_uri(jobs["tracking_uri"])
for key, (model_uri, dataset) in jobs["models"].items():
    model = mlflow.pyfunc.load_model(model_uri)
    predictor = mlflow.pytorch.load_model(model_uri, map_location="cpu")
    data = load_dataset(dataset, seed=0)
    rows = data.X_test
    if predictor.feature_names is not None and predictor.image_shape is None:
        rows = predictor.raw_frame(rows)
    predictions = model.predict(rows)
    print("RESULT " + json.dumps({"key": key, "input": type(rows).__name__,
                                  "predictions": [p.item() if hasattr(p, "item") else p
                                                  for p in predictions]}))
"""


def family_campaign(family: str) -> dict[str, Any]:
    """``family`` on its dataset: one strategy (random), 2 trials x 2 epochs."""
    dataset, metric, fixed = FAMILIES[family]
    return {
        "name": f"model-{family.replace('_', '-')}", "trainable": family, "dataset": dataset,
        "metric": metric, "mode": "max" if metric == "val_accuracy" else "min", "seed": 0,
        "budget": {"trials": 2, "max_epochs": 2}, "resources": {"cpu": 1, "gpu": 0},
        "fixed": fixed,
        "space": {"lr": {"type": "float", "low": 3e-3, "high": 3e-2, "log": True}},
        "strategies": {"random": {}},
    }


def digits_campaign(name: str, **overrides: Any) -> dict[str, Any]:
    """mlp on digits, two strategies of 2 trials x 2 epochs."""
    return small_campaign(**{
        "name": name, "budget": {"trials": 2, "max_epochs": 2},
        "fixed": {"width": 16, "depth": 1},
        "space": {"lr": {"type": "float", "low": 3e-3, "high": 3e-2, "log": True}},
        "strategies": {"random": {}, "optuna": {"sampler": "tpe"}}, **overrides})


@pytest.fixture(scope="module", autouse=True)
def mlflow_uris_put_back() -> Any:
    """This process's MLflow URIs as the module found them (returned), put back for the
    modules after it: test_registering_leaves_this_processs_mlflow_uris_alone sets them."""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    before = {name: os.environ.get(name) for name in names}
    yield before
    mlflow.set_tracking_uri(before["MLFLOW_TRACKING_URI"])  # (None: MLflow's default again)
    mlflow.set_registry_uri(before["MLFLOW_REGISTRY_URI"])
    for name, value in before.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> str:
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def state_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("state")


@pytest.fixture(scope="module")
def local_ray() -> Any:
    """A real local Ray with 2 CPUs for the module: conftest's ``ray_local``, but always a new
    local one (``address="local"``), never the machine's "current cluster" that a concurrent
    ``ray start`` (tests/search/test_ray_start_cluster.py) leaves in /tmp/ray."""
    import logging

    import ray

    ray.init(address="local", num_cpus=2, include_dashboard=False,
             logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def run_once(local_ray, store, state_dir):
    """``run_once(campaign)``: the campaign's result, run the first time it is asked for."""
    done: dict[str, Any] = {}

    def run(campaign: dict[str, Any]) -> Any:
        if campaign["name"] not in done:
            done[campaign["name"]] = Campaign.from_dict(
                campaign, tracking_uri=store, state_dir=state_dir).run()
        return done[campaign["name"]]

    return run


@pytest.fixture(scope="module")
def registered(run_once):
    """mlp on digits, two strategies, the campaign's best registered as REGISTERED."""
    return run_once(digits_campaign("model-registered", final={"register": REGISTERED}))


def campaign_folder(state_dir: Path, result: Any) -> Path:
    return state_dir / "campaigns" / result.name / result.campaign_id


def runs_of(client: MlflowClient, result: Any, kind: str, **tags: Any) -> list:
    query = (f"tags.`sweepforge.kind` = '{kind}' and "
             f"tags.`sweepforge.campaign_id` = '{result.campaign_id}'")
    for key, value in tags.items():
        query += f" and tags.`sweepforge.{key}` = '{value}'"
    return client.search_runs([result.experiment_id], filter_string=query, max_results=1000)


def logged_models(client: MlflowClient, result: Any, run_id: str) -> list:
    return client.search_logged_models(experiment_ids=[result.experiment_id],
                                       filter_string=f"source_run_id = '{run_id}'")


def trial_of_model(client: MlflowClient, result: Any, model_uri: str) -> Any:
    """The trial run a logged model was built from (by the model's own tags)."""
    tags = client.get_logged_model(model_uri.removeprefix("models:/")).tags
    (trial,) = runs_of(client, result, "trial", strategy=tags["sweepforge.strategy"],
                       trial_id=tags["sweepforge.trial_id"])
    return trial


def fresh_env() -> dict[str, str]:
    """The environment of a process a user starts from their shell: no MLflow URI of this
    process (test_registering_leaves_this_processs_mlflow_uris_alone sets one) is passed on;
    every command names its store."""
    return {k: v for k, v in os.environ.items()
            if k not in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}


def predict_in_fresh_process(store: str, jobs: dict[str, tuple[str, str]], cwd: Path) -> dict:
    """key -> {"input": type of the rows given, "predictions": [...]} for each key -> (model
    URI, dataset) in ``jobs``, predicted by one fresh Python process."""
    args = json.dumps({"tracking_uri": store, "models": jobs})
    done = subprocess.run([sys.executable, "-c", PREDICT_RAW, args], cwd=cwd, env=fresh_env(),
                          capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-4000:]
    found = [json.loads(line.removeprefix("RESULT ")) for line in done.stdout.splitlines()
             if line.startswith("RESULT ")]
    assert sorted(f["key"] for f in found) == sorted(jobs)
    return {f["key"]: f for f in found}


def load_from_store(store: str, model_uri: str, pytorch: bool = False) -> Any:
    """The logged model ``model_uri`` (``models:/m-...``) of the store, loaded from its artifact
    folder: no MLflow URI of this process is set or read."""
    folder = MlflowClient(store).get_logged_model(model_uri.removeprefix("models:/"))
    if pytorch:
        return mlflow.pytorch.load_model(folder.artifact_location, map_location="cpu")
    return mlflow.pyfunc.load_model(folder.artifact_location)


def assert_reproduces(family: str, dataset: str, predictions: list, logged: dict[str, float],
                      metric: str) -> None:
    """``predictions`` of the raw test split give the trial's logged test metric."""
    data = load_dataset(dataset, seed=0)
    test_metric = "test_" + metric.removeprefix("val_")
    expected = logged[test_metric]
    if data.task == "classification":
        labels = np.asarray(data.classes, dtype=object)[data.y_test]  # the user's labels
        correct = int(sum(p == label for p, label in zip(predictions, labels)))
        # the trial's accuracy: a float32 mean of 0/1 values (exact count / n, in float32)
        assert float(np.float32(correct) / np.float32(len(labels))) == expected, (
            f"{family}: {correct}/{len(labels)} right, the trial logged {expected}")
        return
    y_hat = np.asarray(predictions, dtype=np.float64)
    y = data.y_test.astype(np.float64).reshape(-1)
    assert y_hat.shape == y.shape
    if test_metric == "test_loss":  # squared error in the target's units
        got = float(np.mean((y_hat - y) ** 2))
    else:
        assert test_metric == "test_mape", test_metric
        got = float(np.mean(np.abs(y_hat - y)[y != 0] / np.abs(y[y != 0])))
    assert got == pytest.approx(expected, rel=RELATIVE), f"{family}: {test_metric}"


# --- bad input: exit 2 before anything is written ----------------------------------------------
# (first in this module: nothing has started a Ray or written a store yet)

AUTOENCODER = {
    "name": "final-autoencoder", "trainable": "autoencoder", "dataset": "digits",
    "metric": "val_loss", "mode": "min", "seed": 0, "budget": {"trials": 2, "max_epochs": 2},
    "resources": {"cpu": 1, "gpu": 0},
    "space": {"lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True}},
    "strategies": {"random": {}},
}


@pytest.mark.parametrize(
    ("campaign", "messages"),
    [
        (small_campaign(final={"refit": "all"}), ["final.refit", "'all'"]),
        (small_campaign(final={"register": "a/b"}),
         ["final.register", "'/'", "'a/b'"]),
        ({**AUTOENCODER, "final": {"register": "digits-autoencoder"}},
         ["final.register: no model to deliver", "trainable 'autoencoder' has no predictor"]),
        (small_campaign(final={"epochs": 3}), ["final.epochs: 3 applies to a refit",
                                               "final.refit is 'none'"]),
    ],
    ids=["refit-all", "register-slash", "register-autoencoder", "epochs-without-refit"],
)
def test_bad_final_exits_2_and_writes_nothing(bare_workdir, write_campaign, campaign, messages):
    """No state folder (./.sweepforge), no mlflow.db or mlruns, nothing in the store
    $MLFLOW_TRACKING_URI names; no Ray."""
    import ray

    result = runner.invoke(app, ["run", str(write_campaign(campaign)), "--no-progress"])
    assert result.exit_code == 2, result.output
    said = " ".join(result.output.split())
    for message in messages:
        assert message in said
    bare_workdir.assert_nothing_written("campaign.yaml")
    assert not ray.is_initialized()


# --- every family: a fresh process predicts the raw test split as the best trial did -----------


def test_every_supported_family_is_checked():
    assert sorted(FAMILIES) == sorted(SUPPORTED)


FAMILY_TEST = "test_a_fresh_process_reproduces_the_best_trials_test_metric"


@pytest.fixture(scope="module")
def family_predictions(request, run_once, store, tmp_path_factory) -> dict[str, dict]:
    """family -> what one fresh process predicted with the final model of its campaign, for
    every family whose test this session runs (each campaign runs once)."""
    families = [item.callspec.params["family"] for item in request.session.items
                if getattr(item, "originalname", None) == FAMILY_TEST]
    jobs = {family: (run_once(family_campaign(family)).final_model, FAMILIES[family][0])
            for family in families}
    return predict_in_fresh_process(store, jobs, tmp_path_factory.mktemp("fresh"))


@pytest.mark.slow
@pytest.mark.parametrize("family", SUPPORTED)
def test_a_fresh_process_reproduces_the_best_trials_test_metric(run_once, family_predictions,
                                                                store, family):
    dataset, metric, _ = FAMILIES[family]
    result = run_once(family_campaign(family))
    assert list(result.models) == ["random"]
    assert result.final_model == result.models["random"]
    client = MlflowClient(store)
    trial = trial_of_model(client, result, result.final_model)
    assert int(trial.data.tags["sweepforge.trial_id"]) == int(result.summary.best_trial[0])

    found = family_predictions[family]
    data = load_dataset(dataset, seed=0)
    named = data.feature_names is not None and data.image_shape is None
    assert found["input"] == ("DataFrame" if named else "ndarray")
    assert len(found["predictions"]) == len(data.y_test)
    assert_reproduces(family, dataset, found["predictions"], trial.data.metrics, metric)


# --- what a campaign keeps and logs ------------------------------------------------------------


@pytest.mark.slow
def test_each_strategy_run_has_its_one_model_and_the_state_folder_is_emptied(
        registered, store, state_dir):
    client = MlflowClient(store)
    strategies = {r.data.tags["sweepforge.strategy"]: r for r in runs_of(client, registered,
                                                                         "strategy")}
    assert sorted(strategies) == ["optuna", "random"]
    assert sorted(registered.models) == ["optuna", "random"]
    summary = registered.summary.set_index("strategy")
    for name, run in strategies.items():
        (logged,) = logged_models(client, registered, run.info.run_id)
        uri = f"models:/{logged.model_id}"
        assert run.data.tags["sweepforge.model_uri"] == uri == registered.models[name]
        assert logged.tags["sweepforge.model_role"] == "best"
        assert logged.tags["sweepforge.strategy"] == name
        assert int(logged.tags["sweepforge.trial_id"]) == int(summary.loc[name, "best_trial"])
    # no trial run holds a model: only the strategies' best are kept
    for trial in runs_of(client, registered, "trial"):
        assert logged_models(client, registered, trial.info.run_id) == []
    best = summary.best_value.idxmax()
    assert registered.final_model == registered.models[best]
    (campaign,) = runs_of(client, registered, "campaign")
    assert campaign.data.tags["sweepforge.model_uri"] == registered.final_model
    # Tune's storage and the kept checkpoints are gone: the journal is all that is left
    folder = campaign_folder(state_dir, registered)
    assert sorted(p.name for p in folder.iterdir()) == ["journal.jsonl"]


@pytest.mark.slow
def test_only_the_best_trials_last_checkpoint_waits_until_its_model_is_logged(
        run_once, store, state_dir, tmp_path, monkeypatch):
    """Logging fails (injected): the campaign's results stand, the strategy run says why, and
    the best trial's last checkpoint (only it) is left in best/; delivering again, as a resumed
    master does, logs it from there and deletes it."""

    def full(*args: Any, **kwargs: Any) -> str:
        raise OSError("the artifact store is full (injected)")

    monkeypatch.setattr(models, "log_predictor", full)
    # one trial at a time, in the grid's order: a worse first trial that a later one replaces
    campaign = digits_campaign("model-kept", budget={"trials": 3, "max_epochs": 2},
                               max_concurrent_trials=1, space={"lr": [1e-4, 3e-2, 1e-3]},
                               strategies={"grid": {}})
    with pytest.warns(models.ModelNotLoggedWarning, match="artifact store is full"):
        result = run_once(campaign)
    monkeypatch.undo()
    assert result.models == {} and result.final_model is None
    assert sorted(result.trials.state) == ["COMPLETE"] * 3
    assert len(set(result.trials.value)) == 3  # a best to tell from the others
    best_trial = int(result.summary.best_trial[0])
    assert best_trial != 0, "trial 0 is the best: no better trial replaced a kept one"
    client = MlflowClient(store)
    (run,) = runs_of(client, result, "strategy")
    assert "artifact store is full" in run.data.tags["sweepforge.model_note"]
    assert "sweepforge.model_uri" not in run.data.tags
    assert logged_models(client, result, run.info.run_id) == []  # (the failed one is not READY)

    folder = campaign_folder(state_dir, result)
    assert sorted(p.name for p in folder.iterdir()) == ["best", "journal.jsonl"]  # no tune/
    home = folder / "best" / "grid"
    assert sorted(p.name for p in home.iterdir()) == ["best.json", f"trial-{best_trial}"]
    assert load_state_file(home / f"trial-{best_trial}" / CHECKPOINT_FILE)["epoch"] == 2

    plan = Campaign.from_dict(campaign, tracking_uri=store, state_dir=tmp_path).plan
    delivered = models.deliver_models(
        client, store, plan, BestCheckpoints(folder / "best", "max"), result.summary,
        strategy_runs={"grid": run.info.run_id}, campaign_run=result.campaign_run_id,
        campaign_id=result.campaign_id)
    assert list(delivered.models) == ["grid"]
    assert not (folder / "best").exists()
    (logged,) = logged_models(client, result, run.info.run_id)
    assert delivered.final_model == f"models:/{logged.model_id}"
    trial = trial_of_model(client, result, delivered.final_model)
    assert int(trial.data.tags["sweepforge.trial_id"]) == best_trial
    data = load_dataset("digits", seed=0)
    labels = load_from_store(store, delivered.final_model).predict(data.X_test)
    assert_reproduces("mlp", "digits", list(labels), trial.data.metrics, "val_accuracy")


# --- final.register ----------------------------------------------------------------------------


@pytest.mark.slow
def test_the_registered_model_loads_by_name_in_a_fresh_process(registered, store, tmp_path):
    client = MlflowClient(store, registry_uri=store)
    (version,) = client.search_model_versions(f"name = '{REGISTERED}'")
    assert registered.registered == f"{REGISTERED}/{version.version}" == f"{REGISTERED}/1"
    best = registered.summary.set_index("strategy").best_value.idxmax()
    assert version.tags["sweepforge.campaign_id"] == registered.campaign_id
    assert version.tags["sweepforge.strategy"] == best
    trial = trial_of_model(client, registered, registered.final_model)
    assert version.tags["sweepforge.trial_id"] == trial.data.tags["sweepforge.trial_id"]
    logged = client.get_logged_model(registered.final_model.removeprefix("models:/"))
    assert (version.source, version.run_id) == (logged.artifact_location, logged.source_run_id)
    (campaign,) = runs_of(client, registered, "campaign")
    assert campaign.data.tags["sweepforge.registered"] == f"{REGISTERED}/1"

    by_name = f"models:/{REGISTERED}/latest"
    found = predict_in_fresh_process(store, {by_name: (by_name, "digits")}, tmp_path)[by_name]
    assert found["input"] == "ndarray"
    assert_reproduces("mlp", "digits", found["predictions"], trial.data.metrics, "val_accuracy")


@pytest.mark.slow
def test_registering_leaves_this_processs_mlflow_uris_alone(registered, store,
                                                            mlflow_uris_put_back):
    """A notebook runs a campaign (its store given, as here) that registers its model, then
    loads the model by name as the README shows: ``set_tracking_uri`` then ``models:/NAME``.
    (The campaign once set MLflow's global URIs back to the *resolved* defaults, pinning the
    registry to the default store and $MLFLOW_*_URI for every subprocess.)"""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")
    assert {name: os.environ.get(name) for name in names} == mlflow_uris_put_back
    mlflow.set_tracking_uri(store)
    assert mlflow.get_registry_uri() == store, "the registry no longer follows set_tracking_uri"
    model = mlflow.pyfunc.load_model(f"models:/{REGISTERED}/latest")
    assert model.metadata.model_id in registered.final_model


@pytest.mark.slow
def test_delivering_again_logs_and_registers_nothing_twice(registered, store, tmp_path):
    """A resumed master killed after logging and registering runs the delivery again."""
    client = MlflowClient(store, registry_uri=store)
    runs = {r.data.tags["sweepforge.strategy"]: r.info.run_id
            for r in runs_of(client, registered, "strategy")}
    plan = Campaign.from_dict(digits_campaign("model-registered", final={"register": REGISTERED}),
                              tracking_uri=store, state_dir=tmp_path).plan
    for _ in range(2):
        again = models.deliver_models(
            client, store, plan, BestCheckpoints(tmp_path / "best", "max"), registered.summary,
            strategy_runs=runs, campaign_run=registered.campaign_run_id,
            campaign_id=registered.campaign_id)
        assert again.models == registered.models and again.notes == {}
        assert again.final_model == registered.final_model
        assert again.registered == f"{REGISTERED}/1"
    version = models.register(store, registered.final_model, REGISTERED,
                              campaign_id=registered.campaign_id, tags={})
    assert version.version in ("1", 1)
    assert len(client.search_model_versions(f"name = '{REGISTERED}'")) == 1
    for run_id in runs.values():
        assert len(logged_models(client, registered, run_id)) == 1


# --- the command line: sweepforge best --model, sweepforge predict -------------------------------


def cli(*args: str, cwd: Path, store: str | None = None) -> subprocess.CompletedProcess:
    """The installed ``sweepforge`` in a fresh process. ``store``: also the default store
    ($MLFLOW_TRACKING_URI); test_tracking_uri_alone_names_the_store runs without it."""
    env = fresh_env() if store is None else {**fresh_env(), "MLFLOW_TRACKING_URI": store}
    return subprocess.run([str(SCRIPT), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300, check=False)


def said(done: subprocess.CompletedProcess) -> str:
    return " ".join((done.stdout + done.stderr).split())


@pytest.mark.slow
def test_best_writes_the_model_to_a_new_folder(registered, store, tmp_path):
    folder = tmp_path / "model"
    done = cli("best", "model-registered", "--model", str(folder), "--tracking-uri", store,
               cwd=tmp_path, store=store)
    assert done.returncode == 0, said(done)
    body = yaml.safe_load("\n".join(line for line in done.stdout.splitlines()
                                     if not line.startswith("#")))
    assert body == registered.best_config()  # the searched knobs of the campaign's best
    data = load_dataset("digits", seed=0)
    from_folder = mlflow.pyfunc.load_model(str(folder)).predict(data.X_test)
    from_store = load_from_store(store, registered.final_model).predict(data.X_test)
    assert from_folder.tolist() == from_store.tolist()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model"]  # nothing else written


@pytest.mark.slow
def test_best_refuses_a_folder_that_is_not_empty(registered, store, tmp_path):
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "notes.txt").write_text("mine")
    done = cli("best", "model-registered", "--model", str(taken), "--tracking-uri", store,
               cwd=tmp_path)
    assert done.returncode == 2, said(done)
    assert "--model" in said(done) and "not an empty folder" in said(done)
    assert sorted(p.name for p in taken.iterdir()) == ["notes.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


@pytest.mark.slow
def test_predict_writes_labels_and_probabilities(run_once, store, tmp_path):
    result = run_once(family_campaign("mlp"))  # iris: labels are species names
    data = load_dataset("iris", seed=0)
    predictor = load_from_store(store, result.final_model, pytorch=True)
    table = tmp_path / "flowers.csv"
    predictor.raw_frame(data.X_test).to_csv(table, index=False)
    out = tmp_path / "out.csv"
    done = cli("predict", result.name, "--input", str(table), "-o", str(out),
               "--tracking-uri", store, cwd=tmp_path, store=store)
    assert done.returncode == 0, said(done)
    written = pd.read_csv(out)
    assert list(written.columns) == ["prediction", "p(setosa)", "p(versicolor)", "p(virginica)"]
    assert written.prediction.tolist() == predictor.predict(data.X_test).tolist()
    assert set(written.prediction) <= {"setosa", "versicolor", "virginica"}
    probabilities = written.drop(columns="prediction").to_numpy()
    assert np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    picked = np.asarray(["setosa", "versicolor", "virginica"])[probabilities.argmax(axis=1)]
    assert picked.tolist() == written.prediction.tolist()


@pytest.mark.slow
def test_predict_refuses_a_table_the_model_cannot_read(run_once, store, tmp_path):
    """diamonds (entity_embedding): named columns, categorical ones holding level names."""
    result = run_once(family_campaign("entity_embedding"))
    data = load_dataset("diamonds", seed=0)
    predictor = load_from_store(store, result.final_model, pytorch=True)
    frame = predictor.raw_frame(data.X_test[:50])
    assert "Ideal" in set(frame.cut)

    good, out = tmp_path / "good.csv", tmp_path / "good-out.csv"
    frame.to_csv(good, index=False)
    done = cli("predict", result.name, "--input", str(good), "-o", str(out),
               "--tracking-uri", store, cwd=tmp_path, store=store)
    assert done.returncode == 0, said(done)
    prices = pd.read_csv(out).prediction.to_numpy()
    assert np.allclose(prices, predictor.predict(data.X_test[:50]), rtol=1e-12)

    cases = {
        "no-clarity": (frame.drop(columns="clarity"), ["clarity"]),
        # the column, the value, its row and the levels it knows (README, "From search to model")
        "unseen-cut": (frame.assign(cut=["Perfect"] + list(frame.cut[1:])),
                       ["'cut'", "'Perfect'", "row 0", "'Fair', 'Good'"]),
        # empty cells: no NaN price, no silent fallback (the column, its rows, what it needs)
        "empty-carat": (frame.assign(carat=frame.carat.mask(frame.index.isin([2, 7]))),
                        ["'carat'", "rows 2, 7", "needs a finite value", "fill or drop"]),
        "empty-cut": (frame.assign(cut=frame.cut.mask(frame.index == 4)),
                      ["'cut'", "row 4", "missing"]),
    }
    for name, (table, named) in cases.items():
        path, out = tmp_path / f"{name}.csv", tmp_path / f"{name}-out.csv"
        table.to_csv(path, index=False)
        done = cli("predict", result.name, "--input", str(path), "-o", str(out),
                   "--tracking-uri", store, cwd=tmp_path, store=store)
        assert done.returncode == 2, (name, said(done))
        assert "--input" in said(done), name
        for word in named:
            assert word in said(done), (name, said(done))
        assert "Traceback" not in said(done)
        assert not out.exists(), name


@pytest.mark.slow
def test_predict_of_a_campaign_that_does_not_exist_exits_2(registered, store, tmp_path):
    table = tmp_path / "rows.csv"
    pd.DataFrame(load_dataset("digits", seed=0).X_test[:3]).to_csv(table, index=False)
    out = tmp_path / "out.csv"
    done = cli("predict", "no-such-campaign", "--input", str(table), "-o", str(out),
               "--tracking-uri", store, cwd=tmp_path)
    assert done.returncode == 2, said(done)
    assert "no campaign named 'no-such-campaign'" in said(done)
    assert "model-registered" in said(done)  # the campaigns it has
    assert not out.exists()


@pytest.mark.slow
@pytest.mark.parametrize("command", ["best", "predict"])
def test_tracking_uri_alone_names_the_store(registered, store, tmp_path, command):
    """No $MLFLOW_TRACKING_URI, a working directory without mlflow.db: --tracking-uri is all
    the command knows of the store."""
    table = tmp_path / "rows.csv"
    pd.DataFrame(load_dataset("digits", seed=0).X_test[:3]).to_csv(table, index=False)
    args = (["best", "model-registered", "--model", str(tmp_path / "model")]
            if command == "best" else ["predict", "model-registered", "--input", str(table)])
    done = cli(*args, "--tracking-uri", store, cwd=tmp_path)
    assert done.returncode == 0, said(done)
    assert "mlflow.db" not in [p.name for p in tmp_path.iterdir()]
