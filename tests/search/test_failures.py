"""Trials that fail in every way a trial can (raise, NaN, inf, out of memory, a real allocation
refused, a hang past ``trial_timeout_s``) in one real campaign: real Ray, real MLflow (SQLite).

Each must end FAILED in MLflow with its error (tag and ``error.txt``), be told to its strategy
as FAILED, and leave the campaign going; NaN or inf must never become a best value anywhere:
the summary, the strategy run, ``sweepforge best`` and the report.
"""

from __future__ import annotations

import collections
import json
import math
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.search import Campaign
from sweepforge.search.config import CampaignError, parse_campaign_config
from sweepforge.search.strategies.base import Strategy, TrialState
from sweepforge.search.tracking.lookup import best_trial
from tests.conftest import small_campaign
from tests.search.faulty_trainables import FAULTS

TIMEOUT_S = 20.0  # counts from the trial's start: a fresh worker's imports take seconds on a busy box
ERROR_TEXT = {  # what each fault's error.txt must hold
    "raise": "injected fault: the trainable raised",
    "oom": "OutOfMemoryError",
    "alloc": "can't allocate memory",
    "nan": "not a finite number",
    "inf": "not a finite number",
    "hang": "trial_timeout_s: the trial ran past 20 s",
}


def faulty_campaign(**overrides):
    return small_campaign(
        name="faults", trainable="faulty", budget={"trials": len(FAULTS), "max_epochs": 2},
        space={"fault": {"type": "categorical", "choices": list(FAULTS)}},
        strategies={"grid": {}}, trial_timeout_s=TIMEOUT_S, max_failures=1,
        max_concurrent_trials=2, **overrides,
    )


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie, dead but not yet reaped, does not)."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


@pytest.fixture(scope="module")
def failed_campaign(ray_local, tmp_path_factory):
    """One campaign, run once: grid visits each fault once. (One strategy: each failed trial
    costs Ray Tune a new worker, seconds on 2 busy cores; Optuna's handling of FAIL is tested
    in test_optuna.py.)"""
    import tests.search.faulty_trainables  # noqa: F401  (registers `faulty` in this process)

    store = f"sqlite:///{tmp_path_factory.mktemp('faults') / 'mlflow.db'}"
    pids = tmp_path_factory.mktemp("pids")  # each trial writes its worker's pid here
    told: list[tuple[str, str, TrialState]] = []
    original = Strategy.tell

    def spy(self, trial_id, result):  # records what each strategy was told, changes nothing
        told.append((self.name, self._pending[trial_id]["fault"], result.effective_state))
        return original(self, trial_id, result)

    Strategy.tell = spy
    try:
        config = parse_campaign_config(faulty_campaign(fixed={"pid_dir": str(pids)}))
        result = Campaign(config, tracking_uri=store, state_dir=tmp_path_factory.mktemp("state")).run()
    finally:
        Strategy.tell = original
    return result, store, told, pids


@pytest.mark.slow
def test_every_fault_ends_failed_in_mlflow_with_its_error(failed_campaign, tmp_path):
    result, store, _, _ = failed_campaign
    client = MlflowClient(store)
    runs = client.search_runs([result.experiment_id], "tags.`sweepforge.kind` = 'trial'",
                              max_results=1000)
    assert len(runs) == len(FAULTS)
    keys = collections.Counter((r.data.tags["sweepforge.campaign_id"], r.data.tags["sweepforge.strategy"],
                                r.data.tags["sweepforge.trial_id"]) for r in runs)
    assert set(keys.values()) == {1}  # no trial logged twice
    seen = set()
    for run in runs:
        fault = run.data.params["fault"]
        seen.add(fault)
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert len({m.step for m in history}) == len(history)  # one value per epoch
        if fault == "none":
            assert run.info.status == "FINISHED", run.data.tags.get("sweepforge.error")
            assert "sweepforge.error" not in run.data.tags
            assert [m.step for m in history] == [1, 2]
            continue
        assert run.info.status == "FAILED", fault
        assert ERROR_TEXT[fault] in run.data.tags["sweepforge.error"], fault
        text = Path(client.download_artifacts(run.info.run_id, "error.txt", str(tmp_path))).read_text()
        assert ERROR_TEXT[fault] in text
        if fault in ("raise", "oom", "alloc"):  # the worker's own stack, as Ray Tune wrote it
            assert "faulty_trainables.py" in text and "train_with_fault" in text
            assert run.data.tags.get("sweepforge.attempts") == "2"  # max_failures: 1 retry
        if fault == "hang":  # stopped at its deadline and not retried: it would hang again
            assert "sweepforge.attempts" not in run.data.tags
    assert seen == set(FAULTS)  # grid visited every fault
    assert not client.search_runs([result.experiment_id], "attributes.status = 'RUNNING'")


@pytest.mark.slow
def test_strategies_are_told_failed_and_the_campaign_goes_on(failed_campaign):
    result, _, told, _ = failed_campaign
    assert len(told) == len(FAULTS)  # every trial told, none left pending
    for strategy, fault, state in told:
        expected = TrialState.COMPLETE if fault == "none" else TrialState.FAILED
        assert state is expected, (strategy, fault)
    assert list(result.summary["trials"]) == [len(FAULTS)]
    grid = result.trials[result.trials["strategy"] == "grid"]
    assert sorted(grid["state"]) == ["COMPLETE"] + ["FAILED"] * (len(FAULTS) - 1)
    hang = result.trials[result.trials["config.fault"] == "hang"]
    assert (hang["error"].str.startswith("trial_timeout_s")).all()
    assert (hang["duration_s"] < TIMEOUT_S + 10).all()  # stopped near its deadline


@pytest.mark.slow
def test_a_hung_trial_has_its_worker_process_killed_and_its_cpu_freed(failed_campaign):
    """The master kills the hung trial's Ray worker: the process the trial ran in (its pid,
    written from inside the trial) is gone, and Ray has every CPU free again (a hung actor left
    alive would hold its CPU and its process for ever)."""
    import ray

    _, _, _, pids = failed_campaign
    hung = int((pids / "hang.pid").read_text())
    healthy = int((pids / "none.pid").read_text())
    assert hung != healthy  # sanity: the hang ran in a worker of its own
    deadline = time.monotonic() + 30  # Ray reaps a killed worker asynchronously
    while (_alive(hung) or ray.available_resources().get("CPU", 0) < 2) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(hung), f"the hung trial's worker (pid {hung}) still runs"
    assert ray.available_resources().get("CPU", 0) == 2, ray.available_resources()


@pytest.mark.slow
def test_nan_or_inf_is_never_a_best_value(failed_campaign):
    from sweepforge.dashboards._rows import trials_frame
    from sweepforge.dashboards._store import load_campaign, open_store
    from sweepforge.dashboards._views import summary

    result, store, _, _ = failed_campaign
    assert result.summary.loc[result.summary.strategy == "grid", "best_value"].item() == 0.5
    assert result.best_config("grid") == {"fault": "none"}
    for value in result.summary["best_value"].dropna():
        assert math.isfinite(value) and value == 0.5
    client = MlflowClient(store)
    (strategy,) = client.search_runs([result.experiment_id], "tags.`sweepforge.kind` = 'strategy'")
    assert strategy.info.run_name == "grid"
    assert strategy.data.metrics["best_value"] == 0.5  # the healthy trial's, never NaN or inf
    assert json.loads(strategy.data.tags["sweepforge.best_config"]) == {"fault": "none"}
    found = best_trial("faults", tracking_uri=store)  # what `sweepforge best` prints
    assert found.value == 0.5 and found.config == {"fault": "none"}
    rows = load_campaign(open_store(store), "faults", store)
    report_rows = summary(trials_frame(rows.trials, rows.campaigns, "val_accuracy"), "max")
    assert report_rows["best_value"].tolist() == [0.5]  # what the report shows


@pytest.mark.parametrize("bad", [0, -5, "soon"])
def test_trial_timeout_must_be_a_positive_number(bad):
    with pytest.raises(CampaignError, match="trial_timeout_s"):
        parse_campaign_config(faulty_campaign() | {"trial_timeout_s": bad})
