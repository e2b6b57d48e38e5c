"""A real campaign end to end: real Ray (2 CPUs), real MLflow (SQLite), real training on digits."""

from __future__ import annotations

import itertools
import math

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.trainables.components import linear_backend
from tests.conftest import small_campaign

pytestmark = pytest.mark.slow

KNOBS = {"lr", "batch_size", "optimizer", "dropout", "init", "depth"}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def finished(ray_local, store):
    """One campaign of 4 strategies x 3 trials x 2 epochs, run once for the module."""
    return Campaign(parse_campaign_config(small_campaign()), tracking_uri=store).run()


def runs_of(client, result, kind, parent=None):
    query = f"tags.`sweepforge.kind` = '{kind}' and tags.`sweepforge.campaign_id` = '{result.campaign_id}'"
    runs = client.search_runs([result.experiment_id], filter_string=query, max_results=1000)
    if parent is not None:
        runs = [r for r in runs if r.data.tags.get("mlflow.parentRunId") == parent]
    return runs


def test_every_strategy_runs_its_full_budget(finished):
    assert list(finished.summary["strategy"]) == ["grid", "random", "optuna", "evolutionary"]
    assert list(finished.summary["trials"]) == [3, 3, 3, 3]
    assert len(finished.trials) == 12
    assert set(finished.trials["state"]) == {"COMPLETE"}
    assert (finished.trials["value"] > 0.1).all()  # better than chance on 10 classes
    assert finished.summary["test_value"].notna().all()


def test_mlflow_holds_campaign_strategy_trial_runs_nested(finished, store):
    client = MlflowClient(store)
    (campaign,) = runs_of(client, finished, "campaign")
    assert campaign.info.status == "FINISHED"
    strategies = runs_of(client, finished, "strategy", parent=campaign.info.run_id)
    assert sorted(r.info.run_name for r in strategies) == ["evolutionary", "grid", "optuna", "random"]
    for strategy in strategies:
        trials = runs_of(client, finished, "trial", parent=strategy.info.run_id)
        assert len(trials) == 3
        for trial in trials:
            assert trial.info.status == "FINISHED"
            assert set(trial.data.params) >= KNOBS
            assert trial.data.tags["sweepforge.strategy"] == strategy.info.run_name
            assert trial.data.tags["sweepforge.device"] == "cpu"
            # the workers see this machine as the test process does
            assert trial.data.tags["sweepforge.linear_backend"] == linear_backend()
            history = client.get_metric_history(trial.info.run_id, "val_accuracy")
            assert sorted(m.step for m in history) == [1, 2]
            assert "test_accuracy" in trial.data.metrics
            assert trial.info.end_time >= trial.info.start_time
        assert strategy.data.metrics["trials"] == 3
        assert strategy.data.metrics["finished"] == 3 and strategy.data.metrics["failed"] == 0
        assert "sweepforge.best_config" in strategy.data.tags


def test_conditional_knob_logged_only_when_active(finished, store):
    client = MlflowClient(store)
    trials = runs_of(client, finished, "trial")
    assert len(trials) == 12
    for trial in trials:
        params = trial.data.params
        assert ("momentum" in params) == (params["optimizer"] in ("momentum", "nesterov"))


def test_comparison_table_is_an_artifact_of_the_campaign_run(finished, store, tmp_path):
    client = MlflowClient(store)
    local = client.download_artifacts(finished.campaign_run_id, "comparison.csv", str(tmp_path))
    text = open(local).read()
    assert text.splitlines()[0].startswith(
        "strategy,trials,finished,pruned,failed,epochs,best_value,test_value")
    assert len(text.splitlines()) == 5


def test_best_config_comes_from_a_completed_trial(finished):
    best = finished.best_config()
    assert best in list(finished.trials["config"])
    assert finished.summary["best_value"].max() == pytest.approx(finished.trials["value"].max())


def test_running_again_adds_a_second_campaign_run(ray_local, store, finished):
    again = Campaign(parse_campaign_config(small_campaign()), tracking_uri=store,
                     strategies=["random"]).run()
    client = MlflowClient(store)
    assert again.experiment_id == finished.experiment_id
    campaigns = client.search_runs([finished.experiment_id], "tags.`sweepforge.kind` = 'campaign'")
    assert len(campaigns) == 2
    assert len(runs_of(client, finished, "trial")) == 12  # the first run's trials are untouched
    # same seed, same strategy -> the same configs
    first = finished.trials[finished.trials.strategy == "random"]["config"].tolist()
    assert again.trials["config"].tolist() == first


def test_diverging_trials_are_failed_not_best(ray_local, store):
    """A learning rate so large that SGD diverges: the metric is NaN, so the trial is FAILED."""
    campaign = small_campaign(
        name="diverging",
        space={"lr": {"type": "float", "low": 1.0e6, "high": 1.0e7, "log": True},
               "optimizer": ["sgd"], "init": ["he_normal"]},
        strategies={"optuna": {}, "evolutionary": {"population_size": 2}},
        budget={"trials": 2, "max_epochs": 2},
    )
    result = Campaign(parse_campaign_config(campaign), tracking_uri=store).run()
    assert set(result.trials["state"]) == {"FAILED"}
    assert result.summary["best_value"].isna().all()
    client = MlflowClient(store)
    trials = runs_of(client, result, "trial")
    assert len(trials) == 4  # 2 strategies x 2 trials: an empty store must not pass
    for trial in trials:
        assert trial.info.status == "FAILED"
        error = trial.data.tags["sweepforge.error"]
        assert "is nan at epoch 1, not a finite number: the training diverged" in error
        assert not math.isfinite(trial.data.metrics.get("val_accuracy", float("nan")))


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU")
def test_two_trials_share_one_gpu_in_mixed_precision(store):
    """gpu: 0.5 per trial: two trials at a time on one GPU, each training on CUDA with amp."""
    import ray

    ray.shutdown()  # the module's CPU-only Ray does not see the GPU
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        campaign = small_campaign(name="on-gpu", resources={"cpu": 1, "gpu": 0.5},
                                  fixed={"amp": True}, strategies={"random": {}},
                                  budget={"trials": 4, "max_epochs": 3})
        result = Campaign(parse_campaign_config(campaign), tracking_uri=store).run()
    finally:
        ray.shutdown()
    assert set(result.trials["state"]) == {"COMPLETE"}
    trials = runs_of(MlflowClient(store), result, "trial")
    assert {r.data.tags["sweepforge.device"] for r in trials} == {"cuda"}
    assert all(r.data.params["amp"] == "True" for r in trials)
    assert all(r.data.metrics["gpu_memory_mb"] > 0 for r in trials)  # measured inside the trial
    spans = sorted(zip(result.trials["started_at"],
                       result.trials["started_at"] + result.trials["duration_s"]))
    assert any(later_start < earlier_end for (_, earlier_end), (later_start, _)
               in itertools.pairwise(spans)), "no two trials overlapped on the GPU"


def test_an_interrupted_campaign_leaves_no_run_open(ray_local, store, monkeypatch):
    """Ctrl-C while trials run (injected when the second trial starts): the trials cut off,
    their strategies and the campaign are closed as KILLED; the finished trial stays FINISHED."""
    from sweepforge.search.tracking import progress as _progress

    started = []
    original = _progress.CampaignProgress.on_event

    def interrupt_on_second_start(self, strategy, record):
        original(self, strategy, record)
        if record is None:
            started.append(strategy)
            if len(started) == 2:
                raise KeyboardInterrupt

    monkeypatch.setattr(_progress.CampaignProgress, "on_event", interrupt_on_second_start)
    campaign = small_campaign(name="interrupted", strategies={"random": {}},
                              budget={"trials": 3, "max_epochs": 2}, max_concurrent_trials=1)
    with pytest.raises(KeyboardInterrupt):
        Campaign(parse_campaign_config(campaign), tracking_uri=store).run()
    client = MlflowClient(store)
    experiment = client.get_experiment_by_name("interrupted")
    runs = client.search_runs([experiment.experiment_id])
    by_kind = {}
    for run in runs:
        by_kind.setdefault(run.data.tags["sweepforge.kind"], []).append(run.info.status)
    assert by_kind["campaign"] == ["KILLED"] and by_kind["strategy"] == ["KILLED"]
    assert sorted(by_kind["trial"]) == ["FINISHED", "KILLED"]


def test_a_trial_that_raises_is_failed_with_its_traceback(ray_local, store, tmp_path):
    import tests.search.faulty_trainables  # noqa: F401  (registers the faulty trainable)

    campaign = small_campaign(name="raising", trainable="mlp_raises_after_one_epoch",
                              strategies={"random": {}, "optuna": {}},
                              budget={"trials": 1, "max_epochs": 2})
    result = Campaign(parse_campaign_config(campaign), tracking_uri=store).run()
    assert set(result.trials["state"]) == {"FAILED"}
    assert list(result.summary["failed"]) == [1, 1]
    assert result.summary["best_value"].isna().all()
    assert "injected fault" in result.trials["error"].iloc[0]
    client = MlflowClient(store)
    trials = runs_of(client, result, "trial")
    assert len(trials) == 2  # one per strategy: an empty store must not pass
    for trial in trials:
        assert trial.info.status == "FAILED"
        assert "injected fault" in trial.data.tags["sweepforge.error"]
        assert len(client.get_metric_history(trial.info.run_id, "val_accuracy")) == 1
        text = open(client.download_artifacts(trial.info.run_id, "error.txt", str(tmp_path))).read()
        assert "faulty_trainables.py" in text and "train_then_raise" in text  # the worker's stack
        assert "\x1b[" not in text
