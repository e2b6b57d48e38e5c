"""Your own model, your own data (issue 17), end to end: real Ray, a real MLflow store, real
training. The user's project lives in a temporary folder outside the repository and off
``sys.path``; campaigns name its files (``./my_model.py:train``), a module
(``tests.search.own_model_functions:score_by_x``) or functions given from Python."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import Campaign
from sweepforge.search.cli import app
from sweepforge.search.config import CampaignError, parse_campaign_config
from tests.search import own_model_functions
from tests.search.test_resume import _kill_mid_trial

runner = CliRunner()
REPO = Path(__file__).resolve().parents[2]

MY_MODEL = '''
"""The user's model: plain PyTorch, no sweepforge import."""
import os
import time

import torch
from torch import nn

PAUSE_S = float(os.environ.get("OWN_MODEL_PAUSE_S", "0"))  # before each report (to be killed)


def accuracy(model, X, y):
    with torch.no_grad():
        return (model(torch.as_tensor(X)).argmax(1) == torch.as_tensor(y)).float().mean().item()


def train(config, data, report=None, *, device="cpu", seed=0, checkpoint=None):
    torch.manual_seed(seed)
    X, y = torch.as_tensor(data.X_train), torch.as_tensor(data.y_train)
    model = nn.Sequential(nn.Linear(X.shape[1], config["hidden"]), nn.ReLU(),
                          nn.Linear(config["hidden"], int(y.max()) + 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    first, metrics = 1, {}
    state = checkpoint.load() if checkpoint is not None else None
    if state is not None:
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        first = state["epoch"] + 1
    for epoch in range(first, config["epochs"] + 1):
        for batch in torch.randperm(len(X)).split(32):
            loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        metrics = {"epoch": epoch, "train_loss": loss.item(),
                   "val_accuracy": accuracy(model, data.X_val, data.y_val)}
        if checkpoint is not None:
            checkpoint.save({"epoch": epoch, "model": model.state_dict(),
                             "optimizer": optimizer.state_dict()})
        time.sleep(PAUSE_S)
        if report is not None:
            report(metrics)
    return {**metrics, "test_accuracy": accuracy(model, data.X_test, data.y_test)}
'''

MY_DATA = '''
import numpy as np


def load():
    rng = np.random.default_rng(0)
    y = np.arange(240) % 3
    X = rng.normal(size=(240, 6)) + 2.0 * np.eye(3, 6)[y]
    return X.astype(np.float32), y
'''


def project_campaign(name: str, **overrides) -> dict:
    campaign = {
        "name": name, "trainable": "./my_model.py:train", "dataset": {"loader": "./my_data.py:load"},
        "metric": "val_accuracy", "mode": "max", "seed": 0,
        "budget": {"trials": 3, "max_epochs": 2}, "resources": {"cpu": 1, "gpu": 0},
        "fixed": {"epochs": 2},
        "space": {"lr": {"type": "float", "low": 0.01, "high": 0.5, "log": True},
                  "hidden": [8, 16]},
        "strategies": {"random": {}, "optuna": {"n_startup_trials": 2}},
    }
    campaign.update(overrides)
    return campaign


def write_project(folder: Path, campaign: dict, **files: str) -> Path:
    """The user's project: ``files`` (name without .py -> code) and campaign.yaml."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, code in files.items():
        (folder / f"{name}.py").write_text(textwrap.dedent(code))
    path = folder / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign, sort_keys=False))
    return path


def run_from_elsewhere(path: Path, tmp_path: Path, monkeypatch) -> str:
    """``sweepforge run path`` from a folder of its own (in this process, on the module's
    Ray), into a SQLite store whose URI it returns; the run must succeed."""
    (tmp_path / "elsewhere").mkdir()
    monkeypatch.chdir(tmp_path / "elsewhere")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(app, ["run", str(path), "--tracking-uri", uri, "--no-progress",
                                 "--no-report"])
    assert result.exit_code == 0, (result.output, result.exception)
    return uri


@pytest.fixture
def forget_user_modules(monkeypatch):
    """The user's modules and folders the in-process master imported are forgotten afterwards."""
    monkeypatch.setattr(sys, "path", list(sys.path))
    before = set(sys.modules)
    yield
    for name in set(sys.modules) - before:
        if name in ("my_model", "my_data", "sk_model", "sk_data", "typed_model", "my_net"):
            del sys.modules[name]


def runs_by_kind(uri: str, name: str) -> dict[str, list]:
    client = MlflowClient(uri)
    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=1000)
    out: dict[str, list] = {}
    for run in runs:
        out.setdefault(run.data.tags["sweepforge.kind"], []).append(run)
    return out


def output_of(result) -> str:
    return " ".join(result.output.split())


# --- bad input: exit 2 before Ray starts or anything is written ---------------------------------
# (first in this module: the module's Ray is not started yet)

BAD_MODEL_IMPORT = 'raise RuntimeError("no GPU drivers from 1987 here")\ndef train(config, data): ...\n'
GOOD_MODEL = "def train(config, data):\n    return 0.5\n"
NO_CONFIG_MODEL = "def train(data, params):\n    return 0.5\n"
TYPED_MODEL = '''
from dataclasses import dataclass


@dataclass
class Knobs:
    lr: float = 0.1
    epochs: int = 1


def train(config: Knobs, data):
    return config.lr
'''
CHECKED_MODEL = TYPED_MODEL.replace("    epochs: int = 1\n", """    epochs: int = 1

    def __post_init__(self):
        if not 0 < self.lr < 1:
            raise ValueError(f"lr must be in (0, 1), got {self.lr}")
""")
GOOD_DATA = "import numpy as np\ndef load():\n    return np.zeros((30, 2)), np.arange(30) % 2\n"


def _loader_returning(expression: str) -> str:
    return f"import numpy as np\ndef load():\n    return {expression}\n"


BAD_INPUTS = {
    "missing file": ({"trainable": "./nope.py:train"}, {},
                     ["- trainable: file '", "project/nope.py' (from './nope.py:train') does not exist"]),
    "missing loader file": ({"dataset": {"loader": "./nope.py:load"}}, {},
                            ["- dataset.loader: file '", "project/nope.py' (from './nope.py:load') does not exist"]),
    "module fails to import": ({}, {"my_model": BAD_MODEL_IMPORT},
                               ["trainable", "importing 'my_model' failed", "Traceback",
                                "RuntimeError: no GPU drivers from 1987 here"]),
    "no such function": ({"trainable": "./my_model.py:fit"}, {},
                         ["trainable", "has no function 'fit'", "its functions: train"]),
    "no config parameter": ({}, {"my_model": NO_CONFIG_MODEL},
                            ["trainable", "my_model:train takes (data, params)"]),
    "unknown key beside the loader": ({"dataset": {"loader": "./my_data.py:load", "colour": "red"}},
                                      {}, ["unknown key 'dataset.colour'; allowed keys here: loader, target, categorical, task"]),
    "loader raises": ({}, {"my_data": "def load():\n    raise ValueError('the CSV has no header')\n"},
                      ["dataset.loader", "my_data:load raised", "Traceback",
                       "ValueError: the CSV has no header"]),
    "loader missing function": ({"dataset": {"loader": "./my_data.py:read"}}, {},
                                ["dataset.loader", "has no function 'read'", "its functions: load"]),
    "x and y lengths": ({}, {"my_data": _loader_returning("np.zeros((10, 2)), np.arange(9) % 2")},
                        ["dataset.loader", "my_data:load returned X with 10 rows and y with 9"]),
    "a split with no rows": ({}, {"my_data": _loader_returning(
        "{'train': (np.zeros((8, 2)), np.arange(8) % 2), 'val': (np.zeros((0, 2)), []),"
        " 'test': (np.zeros((4, 2)), np.arange(4) % 2)}")},
        ["dataset.loader", "my_data:load['val'] returned no rows"]),
    "loader returns None": ({}, {"my_data": _loader_returning("None")},
                            ["dataset.loader", "my_data:load returned None"]),
    "train+val refit of data handed through": (
        {"final": {"refit": "train+val"}}, {"my_data": _loader_returning("'/data/images'")},
        ["final.refit: 'train+val' joins the training and validation splits",
         "the loader's data is a str handed to train unchanged", "use 'train'"]),
    "x not numeric": ({}, {"my_data": _loader_returning("np.array([['a', 'b']] * 30), np.arange(30) % 2")},
                      ["dataset.loader", "my_data:load returned X that is not numeric"]),
    "dataclass unknown knob": ({"space": {"lr": {"type": "float", "low": 0.01, "high": 0.1},
                                          "dropout": {"type": "float", "low": 0.0, "high": 0.5}}},
                               {"my_model": TYPED_MODEL},
                               ["space.dropout", "my_model:train", "has no knob 'dropout'",
                                "its knobs are: lr, epochs"]),
    "dataclass refuses a value": ({"space": {"lr": {"type": "float", "low": 0.01, "high": 1.5}}},
                                  {"my_model": CHECKED_MODEL},
                                  ["space.lr: Knobs(lr=1.5", "refused the values",
                                   "lr must be in (0, 1), got 1.5"]),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_own_code_or_data_exits_2_and_writes_nothing(case, bare_workdir, forget_user_modules):
    import ray

    overrides, files, expected = BAD_INPUTS[case]
    campaign = project_campaign("bad-own", budget={"trials": 2, "max_epochs": 1},
                                space={"lr": {"type": "float", "low": 0.01, "high": 0.1}},
                                fixed={}, strategies={"random": {}})
    campaign.update(overrides)
    write_project(bare_workdir.cwd / "project", campaign,
                  **{"my_model": GOOD_MODEL, "my_data": GOOD_DATA, **files})
    result = runner.invoke(app, ["run", "project/campaign.yaml", "--no-progress"])
    assert result.exit_code == 2, (result.output, result.exception)
    text = output_of(result)
    assert "error:" in text
    for part in expected:
        assert part in text, text
    bare_workdir.assert_nothing_written("project")
    assert not ray.is_initialized()


# --- SIGKILL of the master, then `sweepforge resume` from another folder ----------------------

def _start(args: list[str], log: Path, state_dir: Path, cwd: Path) -> subprocess.Popen:
    """A real master, as the user starts it: the project is on no path the process knows."""
    env = {**os.environ, "SWEEPFORGE_STATE_DIR": str(state_dir), "OWN_MODEL_PAUSE_S": "0.4"}
    env.pop("PYTHONPATH", None)
    with log.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", "from sweepforge.search.cli import main; main()", *args],
            cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)


@pytest.mark.slow
def test_sigkill_then_resume_from_another_folder_restores_the_user_s_checkpoint(tmp_path):
    name, epochs = "own-killed", 3
    campaign = project_campaign(name, budget={"trials": 3, "max_epochs": epochs},
                                fixed={"epochs": epochs}, max_concurrent_trials=1,
                                strategies={"random": {}})
    write_project(tmp_path / "project", campaign, my_model=MY_MODEL, my_data=MY_DATA)
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    uri, state_dir, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "state", tmp_path / "log.txt"
    client = MlflowClient(uri)

    def trials():
        experiment = client.get_experiment_by_name(name)
        return client.search_runs([experiment.experiment_id], "tags.`sweepforge.kind` = 'trial'",
                                  max_results=1000) if experiment else []

    proc = _start(["run", "../project/campaign.yaml", "--tracking-uri", uri, "--no-progress",
                   "--no-report"], log, state_dir, cwd=tmp_path / "first")
    _, checkpointed = _kill_mid_trial(proc, log, state_dir, name, trial_runs=trials, finished=1)
    assert "RUNNING" in {r.info.status for r in trials()}  # left by the killed master

    resumed = _start(["resume", name, "--no-progress", "--no-report"], log, state_dir,
                     cwd=tmp_path / "second")
    assert resumed.wait(timeout=240) == 0, log.read_text()

    runs = trials()
    keys = Counter((r.data.tags["sweepforge.strategy"], int(r.data.tags["sweepforge.trial_id"]))
                   for r in runs)
    assert keys == {("random", 0): 1, ("random", 1): 1, ("random", 2): 1}, keys
    assert {r.info.status for r in runs} == {"FINISHED"}
    by_key = {(r.data.tags["sweepforge.strategy"], int(r.data.tags["sweepforge.trial_id"])): r
              for r in runs}
    for key, epochs_done in checkpointed.items():  # the user's checkpoint was loaded
        tags = by_key[key].data.tags
        assert int(tags["sweepforge.resumed_at_epoch"]) == epochs_done + 1, tags
        assert tags["sweepforge.attempts"] == "2"
    for run in runs:  # each epoch once (one the killed master had not yet written may lack)
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert len(steps) == len(set(steps)) and max(steps) == epochs, (run.info.run_name, steps)
        assert set(steps) <= set(range(1, epochs + 1)), (run.info.run_name, steps)
    (campaign_run,) = runs_by_kind(uri, name)["campaign"]
    assert campaign_run.info.status == "FINISHED"
    assert campaign_run.data.params["trainable"] == "my_model:train"


# --- real campaigns on the module's Ray ---------------------------------------------------------

@pytest.mark.slow
def test_a_project_outside_the_repository_runs_from_another_folder(
        ray_local, tmp_path, monkeypatch, forget_user_modules):
    project = tmp_path / "project"
    path = write_project(project, project_campaign("own-project"), my_model=MY_MODEL,
                         my_data=MY_DATA)
    assert str(project) not in sys.path and "my_model" not in sys.modules
    uri = run_from_elsewhere(path, tmp_path, monkeypatch)
    # the store is one folder: artifacts beside the database, none where the run was started
    assert (tmp_path / "mlruns" / "own-project").is_dir()
    assert not (tmp_path / "elsewhere" / "mlruns").exists()

    runs = runs_by_kind(uri, "own-project")
    assert {kind: len(found) for kind, found in runs.items()} == {
        "campaign": 1, "strategy": 2, "trial": 6}
    assert {r.info.status for found in runs.values() for r in found} == {"FINISHED"}
    client = MlflowClient(uri)
    for run in runs["trial"]:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert steps == [1, 2], (run.info.run_name, steps)
        assert {"lr", "hidden", "epochs"} <= set(run.data.params)
        assert run.data.params["epochs"] == "2" and run.data.metrics["epochs_run"] == 2
        # the test score the function returned after its last report, on the trial's run
        assert 0.0 <= run.data.metrics["test_accuracy"] <= 1.0, run.data.metrics
    (campaign_run,) = runs["campaign"]
    assert campaign_run.data.params["trainable"] == "my_model:train"
    assert campaign_run.data.params["dataset"] == "my_data:load"

    # test_accuracy, returned after the last report, is the table's test column; the extra
    # report that brought it trained nothing: 3 trials x 2 epochs per strategy
    text = client.download_artifacts(campaign_run.info.run_id, "comparison.csv", str(tmp_path))
    table = pd.read_csv(text).set_index("strategy")
    assert sorted(table.index) == ["optuna", "random"]
    assert (table["epochs"] == 6).all() and (table["trials"] == 3).all()
    assert table["test_value"].between(0.0, 1.0).all(), table  # not empty
    best = {r.data.tags["sweepforge.strategy"]: r for r in runs["trial"]
            if int(r.data.tags["sweepforge.trial_id"]) == table.loc[
                r.data.tags["sweepforge.strategy"], "best_trial"]}
    for strategy, row in table.iterrows():
        assert row["best_value"] == best[strategy].data.metrics["val_accuracy"]

    # the offline report names the user's trainable and compares both strategies
    written = runner.invoke(app, ["report", "own-project", "--tracking-uri", uri, "-o",
                                  str(tmp_path / "report.html")])
    assert written.exit_code == 0, written.output
    html = (tmp_path / "report.html").read_text()
    assert "my_model:train" in html and "my_data:load" in html
    assert "optuna" in html and "random" in html


SK_MODEL = '''
from sklearn.linear_model import LogisticRegression


def train(config, data):
    model = LogisticRegression(C=config["C"], max_iter=200).fit(data.X_train, data.y_train)
    return model.score(data.X_val, data.y_val)
'''

SK_DATA = '''
import numpy as np
import pandas as pd


def load():
    rng = np.random.default_rng(0)
    kind = np.array(["setosa", "other"])[np.arange(100) % 2]
    return pd.DataFrame({"a": rng.normal(size=100) + (kind == "setosa"), "b": rng.normal(size=100),
                         "kind": kind})
'''


@pytest.mark.slow
def test_a_scikit_learn_function_returning_one_number_on_a_dataframe(
        ray_local, tmp_path, forget_user_modules):
    campaign = project_campaign(
        "own-sklearn", trainable="./sk_model.py:train",
        dataset={"loader": "./sk_data.py:load", "target": "kind"},
        budget={"trials": 3, "max_epochs": 1}, fixed={},
        space={"C": {"type": "float", "low": 0.01, "high": 10.0, "log": True}},
        strategies={"random": {}})
    path = write_project(tmp_path / "project", campaign, sk_model=SK_MODEL, sk_data=SK_DATA)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = runner.invoke(app, ["run", str(path), "--tracking-uri", uri, "--no-progress",
                                 "--no-report"])
    assert result.exit_code == 0, (result.output, result.exception)
    runs = runs_by_kind(uri, "own-sklearn")
    assert len(runs["trial"]) == 3
    for run in runs["trial"]:
        assert run.info.status == "FINISHED" and run.data.tags["sweepforge.state"] == "COMPLETE"
        assert 0.0 <= run.data.metrics["val_accuracy"] <= 1.0
        assert run.data.metrics["epochs_run"] == 1


@pytest.mark.slow
def test_asha_prunes_the_user_s_trials_and_tells_the_strategies(ray_local, tmp_path):
    """A module reference (``pkg.module:function``); ``x`` is the score each epoch, so ASHA
    stops the low ones."""
    raw = {
        "name": "own-asha", "trainable": "tests.search.own_model_functions:score_by_x",
        "dataset": {"loader": "tests.search.own_model_functions:load_blobs"},
        "metric": "val_accuracy", "mode": "max", "seed": 3,
        "budget": {"trials": 6, "max_epochs": 4}, "fixed": {"epochs": 4},
        "max_concurrent_trials": 2,
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 2},
        "space": {"x": {"type": "float", "low": 0.1, "high": 0.9}},
        "strategies": {"random": {}, "optuna": {"n_startup_trials": 2}},
    }
    with pytest.warns(UserWarning, match="takes no `checkpoint` argument"):  # max_epochs > 1
        campaign = Campaign(parse_campaign_config(raw), state_dir=tmp_path / "state",
                            tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}")
    result = campaign.run()
    trials = result.trials
    assert len(trials) == 12 and set(trials["state"]) == {"COMPLETE", "PRUNED"}, trials
    pruned = trials[trials["state"] == "PRUNED"]
    assert (pruned["epochs"] < 4).all()
    complete = trials[trials["state"] == "COMPLETE"]
    assert (complete["epochs"] == 4).all()
    # ASHA stops every trial at max_epochs: the test score the function returns after its
    # last report still arrives (that report waits for it)
    assert (complete["test_value"] == complete["config.x"] / 2).all(), complete
    # the strategies were told PRUNED, with the epoch reached (the journal holds every tell)
    journal = next((tmp_path / "state").rglob("journal.jsonl"))
    tells = [json.loads(line) for line in journal.read_text().splitlines() if '"tell"' in line]
    told_pruned = {(t["strategy"], t["trial"]): t["step"] for t in tells if t["state"] == "PRUNED"}
    assert told_pruned == {(r.strategy, r.trial_id): r.epochs for r in pruned.itertuples()}


@pytest.mark.slow
def test_functions_given_from_python(ray_local, tmp_path):
    raw = {
        "name": "own-python", "trainable": own_model_functions.closest_to_half,
        "dataset": {"loader": own_model_functions.load_blobs},
        "metric": "val_accuracy", "budget": {"trials": 3, "max_epochs": 1},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}, "strategies": {"random": {}},
    }
    campaign = Campaign.from_dict(raw, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                                  state_dir=tmp_path / "state")
    assert campaign.config.trainable == "tests.search.own_model_functions:closest_to_half"
    result = campaign.run()
    assert list(result.trials["state"]) == ["COMPLETE"] * 3, result.trials["error"].tolist()
    expected = [1.0 - abs(x - 0.5) for x in result.trials["config.x"]]
    assert result.trials["value"].tolist() == pytest.approx(expected)


def _defined_in_main():
    namespace = {"__name__": "__main__"}  # as a notebook or `python script.py` defines it
    exec("def train(config, data):\n    return 1.0\n", namespace)
    return namespace["train"]


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("trainable", lambda config, data: 1.0, "trainable: <function"),
        ("trainable", _defined_in_main(), "trainable: train is defined in __main__"),
        ("dataset.loader", lambda: None, "dataset.loader: <function"),
        ("dataset.loader", _defined_in_main(), "dataset.loader: train is defined in __main__"),
    ],
)
def test_functions_the_workers_cannot_import_are_refused(field, value, message):
    raw = {"name": "own-refused", "trainable": own_model_functions.closest_to_half,
           "dataset": {"loader": own_model_functions.load_blobs}, "metric": "val_accuracy",
           "budget": {"trials": 1, "max_epochs": 1},
           "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
           "strategies": {"random": {}}}
    if field == "trainable":
        raw["trainable"] = value
    else:
        raw["dataset"] = {"loader": value}
    with pytest.raises(CampaignError) as err:
        Campaign.from_dict(raw)
    assert str(err.value).startswith(message), err.value


_NAME = "tests.search.own_model_functions:reports_something_else"


@pytest.mark.slow
@pytest.mark.parametrize("style, goals, said", [
    ("report", {"metric": "val_accuracy"},
     (f"metric: metric 'val_accuracy' is not in a report of {_NAME}; it reported: epoch, "
      "val_acc, train_loss")),
    ("return", {"metric": "val_accuracy"},
     f"metric: metric 'val_accuracy' was never reported by {_NAME}; it reported: val_acc"),
    ("report", {"objectives": {"val_acc": "max", "size": "min"}},
     (f"objectives: metric 'size' was never reported by {_NAME}; it reported: epoch, "
      "train_loss, val_acc")),
    ("report", {"metric": "val_acc", "constraints": {"n_layers": {"max": 3}}},
     f"constraints: metric 'n_layers' was never reported by {_NAME}; it reported: epoch,"),
], ids=["report", "return", "an-objective", "a-limit"])
def test_a_function_that_never_reports_the_metric_stops_the_campaign_after_one_trial(
        ray_local, tmp_path, request, style, goals, said):
    """A report without the metric, or a function that ends without ever giving it (or an
    objective's or a hard limit's metric): the first trial fails naming what the function did
    report, and the campaign stops there with that message instead of running its 6 trials into
    nothing (Ray Tune alone would end the whole run at the first report without the metric,
    with a KeyError; without an objective's metric every trial ran, scored nothing, and `best`
    blamed the limit)."""
    raw = {
        "name": f"own-wrong-metric-{request.node.callspec.id}", "trainable": _NAME,
        "dataset": {"loader": "tests.search.own_model_functions:load_blobs"},
        **goals, "budget": {"trials": 6, "max_epochs": 1},
        "fixed": {"epochs": 1, "style": style}, "max_concurrent_trials": 1,
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "strategies": {"random": {}},
    }
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    campaign = Campaign(parse_campaign_config(raw), tracking_uri=uri, state_dir=tmp_path / "state")
    with pytest.raises(CampaignError) as err:
        campaign.run()
    assert str(err.value).startswith(said), err.value
    assert "stopped after this trial" in str(err.value)
    runs = runs_by_kind(uri, raw["name"])
    assert len(runs["trial"]) == 1
    assert runs["trial"][0].info.status == "FAILED"
    assert said.removeprefix("metric: ") in runs["trial"][0].data.tags["sweepforge.error"]
    assert [run.info.status for run in runs["campaign"]] == ["FAILED"]


TORCH_DATA = '''
import torch
from torch.utils.data import Dataset


class Blobs(Dataset):
    """The user's own map-style Dataset class: workers must import this module to unpickle it."""

    def __init__(self, n=120):
        generator = torch.Generator().manual_seed(0)
        self.y = torch.arange(n) % 2
        self.X = torch.randn(n, 4, generator=generator) + self.y[:, None]

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return self.X[i], self.y[i]


def load():
    return Blobs()
'''

TORCH_DATA_MODEL = '''
from pathlib import Path

import torch
from torch.utils.data import DataLoader


def train(config, data, report=None):
    # 60/20/20 by index; the final refit (train+val) gets the validation items in train too
    assert (len(data.train), len(data.val), len(data.test)) in ((72, 24, 24), (96, 24, 24))
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    for epoch in range(1, config["epochs"] + 1):
        for X, y in DataLoader(data.train, batch_size=16, shuffle=True):
            optimizer.zero_grad()
            torch.nn.functional.cross_entropy(model(X), y).backward()
            optimizer.step()
        with torch.no_grad():
            X, y = next(iter(DataLoader(data.val, batch_size=len(data.val))))
            report({"epoch": epoch, "val_accuracy": (model(X).argmax(1) == y).float().mean().item()})
    with (Path(__file__).parent / "train_items.txt").open("a") as seen:  # for the test to read
        seen.write(f"{len(data.train)}\\n")
'''


@pytest.mark.slow
def test_a_torch_dataset_of_the_user_s_own_class_reaches_the_workers_split_by_index(
        ray_local, tmp_path, monkeypatch, forget_user_modules):
    """The loader (in its own folder, apart from the model's) returns an instance of a class
    of its module: the workers fetch the data only after that folder is importable, and the
    function gets train/val/test Subsets (72/24/24 of 120 rows). The final refit with
    ``train+val`` trains on the 96 items of train and val."""
    project = tmp_path / "project"
    write_project(project / "data", {}, ds_blobs=TORCH_DATA)
    path = write_project(project, project_campaign(
        "own-torch-dataset", trainable="./models/ds_model.py:train",
        dataset={"loader": "./data/ds_blobs.py:load"}, space={"lr": [0.05, 0.2]},
        strategies={"grid": {}}, final={"refit": "train+val"}))
    write_project(project / "models", {}, ds_model=TORCH_DATA_MODEL)
    uri = run_from_elsewhere(path, tmp_path, monkeypatch)
    runs = runs_by_kind(uri, "own-torch-dataset")["trial"]
    by_strategy = {}
    for run in runs:
        by_strategy.setdefault(run.data.tags["sweepforge.strategy"], []).append(run)
    assert {name: len(found) for name, found in by_strategy.items()} == {"grid": 2, "final": 1}
    assert {r.info.status for r in runs} == {"FINISHED"}
    for run in runs:
        assert 0.0 <= run.data.metrics["val_accuracy"] <= 1.0
    # each call wrote the size of its train split: two trials, then the refit
    assert (project / "models" / "train_items.txt").read_text().split() == ["72", "72", "96"]


# --- the model a user's function returns (issue 18) ------------------------------------------
FRESH_LOAD = """
import json, sys
import mlflow
import numpy as np
from tests.search.own_model_functions import load_blobs
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
X, y = load_blobs()
print(json.dumps({"flavors": sorted(model.metadata.flavors),
                  "predictions": np.asarray(model.predict(X.astype(np.float32))).tolist()}))
"""


def _own_campaign(name: str, trainable: str, **overrides):
    return {
        "name": name, "trainable": f"tests.search.own_model_functions:{trainable}",
        "dataset": {"loader": "tests.search.own_model_functions:load_blobs"},
        "metric": "val_accuracy", "budget": {"trials": 3, "max_epochs": 1},
        "space": {"C": {"type": "float", "low": 0.5, "high": 5.0, "log": True}},
        "strategies": {"random": {}}, **overrides,
    }


@pytest.mark.slow
@pytest.mark.parametrize("trainable, flavour", [("fit_logistic", "sklearn"),
                                                ("fit_threshold", "python_function")])
def test_the_model_a_function_returns_is_logged_with_its_flavour_and_registered(
        ray_local, tmp_path, trainable, flavour):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    name = f"own-{trainable.replace('_', '-')}"
    result = Campaign.from_dict(_own_campaign(name, trainable, final={"register": name}),
                                tracking_uri=uri, state_dir=tmp_path / "state").run()
    assert set(result.models) == {"random"} and result.registered == f"{name}/1"
    loaded = subprocess.run(  # a fresh process, as a user loading the registered model
        [sys.executable, "-c", FRESH_LOAD, uri, f"models:/{name}/latest"], cwd=REPO,
        capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr
    got = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert flavour in got["flavors"]
    # the strategy's best trial (the first to end of equals: 3 trials may tie on val_accuracy)
    best_trial = result.summary.set_index("strategy").loc["random", "best_trial"]
    best = result.trials[result.trials.trial_id == best_trial].iloc[0]
    X, y = own_model_functions.load_blobs()
    if trainable == "fit_logistic":  # the best trial's estimator: refit it on the same split
        from sklearn.linear_model import LogisticRegression

        from sweepforge.search.plan import plan_campaign

        data = plan_campaign(parse_campaign_config(_own_campaign(name, trainable))).data
        again = LogisticRegression(C=best["config.C"], max_iter=500).fit(data.X_train, data.y_train)
        assert got["predictions"] == again.predict(X).tolist()
        assert best["test_value"] == again.score(data.X_test, data.y_test)
    else:
        expected = own_model_functions.Threshold(best["config.C"] - 1.0).predict(X)
        assert got["predictions"] == expected.tolist()
    assert not list((tmp_path / "state").rglob("best"))  # the kept checkpoint went with the log


@pytest.mark.slow
def test_a_returned_model_that_cannot_predict_leaves_a_note_and_the_trials_stand(
        ray_local, tmp_path):
    from sweepforge.search.tracking.models import ModelNotLoggedWarning

    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    with pytest.warns(ModelNotLoggedWarning, match="no predict method"):
        result = Campaign.from_dict(_own_campaign("own-bad-model", "returns_no_predictor"),
                                    tracking_uri=uri, state_dir=tmp_path / "state").run()
    assert list(result.trials["state"]) == ["COMPLETE"] * 3 and not result.models
    runs = runs_by_kind(uri, "own-bad-model")
    (strategy,) = runs["strategy"]
    assert "no predict method" in strategy.data.tags["sweepforge.model_note"]


MY_NET = '''
"""The user's own nn.Module class: the saved model refers to it by its module, my_net."""
import torch
from torch import nn


class Net(nn.Module):
    def __init__(self, d_in, hidden, n_out):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(d_in, hidden), nn.ReLU(), nn.Linear(hidden, n_out))

    def forward(self, x):
        return self.f(x)


def train(config, data, report=None):
    torch.manual_seed(0)
    X, y = torch.as_tensor(data.X_train), torch.as_tensor(data.y_train)
    model = Net(X.shape[1], config["hidden"], int(y.max()) + 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=config["lr"])
    for batch in torch.randperm(len(X)).split(32):
        loss = nn.functional.cross_entropy(model(X[batch]), y[batch])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        acc = (model(torch.as_tensor(data.X_val)).argmax(1) == torch.as_tensor(data.y_val))
    return {"val_accuracy": acc.float().mean().item(), "model": model}
'''

LOAD_ELSEWHERE = """
import json, sys
import mlflow, numpy as np
mlflow.set_tracking_uri(sys.argv[1])
assert "my_net" not in sys.modules
model = mlflow.pyfunc.load_model(sys.argv[2])
rows = np.random.default_rng(0).normal(size=(4, 6)).astype(np.float32)
print(json.dumps(np.asarray(model.predict(rows)).shape))
"""


@pytest.mark.slow
def test_a_model_of_the_user_s_own_class_loads_where_the_user_s_code_is_not(
        ray_local, tmp_path, monkeypatch, forget_user_modules):
    """The returned model is an instance of the user's ``class Net(nn.Module)``: its module
    travels inside the model (MLflow's ``code_paths``), so the registered model (the final
    refit's) loads and predicts in a fresh process that cannot import the user's folder."""
    project = tmp_path / "project"
    path = write_project(project, project_campaign(
        "own-net", trainable="./my_net.py:train", budget={"trials": 1, "max_epochs": 1},
        fixed={}, space={"lr": [0.1], "hidden": [8]}, strategies={"random": {}},
        final={"refit": "train+val", "register": "own-net-model"}), my_net=MY_NET,
        my_data=MY_DATA)
    uri = run_from_elsewhere(path, tmp_path, monkeypatch)
    (tmp_path / "fresh").mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "MLFLOW_TRACKING_URI")}
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD_ELSEWHERE, uri, "models:/own-net-model/latest"],
        cwd=tmp_path / "fresh", env=env, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert json.loads(loaded.stdout.strip().splitlines()[-1]) == [4, 3]
