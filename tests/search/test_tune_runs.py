"""A long campaign runs as several Ray Tune runs (Tune keeps every trial of a run in the
master's memory); the strategies and journal carry on across them as if it were one."""

from __future__ import annotations

import collections
import json
import time
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from benchmarks import lcbench
from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.schema import TAG_KIND, TAG_STRATEGY, TAG_TRIAL_ID
from sweepforge.search.tune.runner import TuneRunner


@pytest.mark.slow
def test_a_campaign_longer_than_a_tune_run_is_split_and_loses_nothing(
    ray_local, tmp_path, monkeypatch
):
    monkeypatch.setenv("SWEEPFORGE_TUNE_RUN_TRIALS", "4")
    runs = []
    real = TuneRunner._tune_run

    def counted(self, *args, **kwargs):  # a spy: the real Tune run, counted
        runs.append(kwargs.get("trials"))
        return real(self, *args, **kwargs)

    monkeypatch.setattr(TuneRunner, "_tune_run", counted)
    config = parse_campaign_config({
        "name": "tune-runs", "trainable": "lcbench", "dataset": "lcbench_placeholder",
        "metric": "val_accuracy", "budget": {"trials": 5, "max_epochs": 3},
        "fixed": {"task": "3945"}, "space": lcbench.SPACE,
        "strategies": {"random": {}, "optuna": {}},
    })
    result = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                      state_dir=tmp_path / "state").run()

    assert runs == [4, 4, 2]
    trials = result.trials
    assert sorted(zip(trials["strategy"], trials["trial_id"])) == sorted(
        [(s, i) for s in ("random", "optuna") for i in range(5)])
    assert set(trials["state"]) == {"COMPLETE"} and (trials["epochs"] == 3).all()
    journal = next(Path(tmp_path / "state").rglob("journal.jsonl")).read_text().splitlines()
    kinds = [json.loads(line)["type"] for line in journal]
    assert kinds.count("ask") == kinds.count("tell") == 10

    # the MLflow store itself, not the master's records: every trial once, across the three
    # Tune runs, each with all its epochs, and nothing left RUNNING
    client = MlflowClient(f"sqlite:///{tmp_path / 'mlflow.db'}")
    runs = client.search_runs([result.experiment_id], max_results=1000)
    assert collections.Counter(r.data.tags[TAG_KIND] for r in runs) == {
        "campaign": 1, "strategy": 2, "trial": 10}
    assert {r.info.status for r in runs} == {"FINISHED"}
    trials = [r for r in runs if r.data.tags[TAG_KIND] == "trial"]
    assert sorted((r.data.tags[TAG_STRATEGY], int(r.data.tags[TAG_TRIAL_ID])) for r in trials) == sorted(
        (s, i) for s in ("random", "optuna") for i in range(5))
    for run in trials:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert sorted(steps) == [1, 2, 3], (run.data.tags[TAG_TRIAL_ID], steps)


def test_the_writer_queue_blocks_when_the_store_is_slower_than_trials_end(tmp_path, monkeypatch):
    """A real SQLite store held under an exclusive lock (another process writing, a slow disk):
    the campaign's MLflow writer is stuck on its first write, and whoever submits writes waits
    once ``MAX_QUEUED`` of them are queued, instead of the queue growing without bound. When the
    lock is released, every write is made, in order."""
    import sqlite3
    import threading

    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    from sweepforge.search.tracking import tracker as _tracker

    bound = 10
    monkeypatch.setattr(_tracker, "MAX_QUEUED", bound)  # the bound, made small enough to fill
    db = tmp_path / "mlflow.db"
    tracker = _tracker.Tracker(f"sqlite:///{db}", "slow-store", spool=tmp_path / "spool.jsonl",
                               background=True)
    local = tracker.start_run("trial-0", {TAG_KIND: "trial"})
    tracker.flush()  # the run exists before the store slows down
    run = tracker.real_run_id(local)

    submitted = []

    def produce() -> None:  # trials ending faster than the store takes their writes
        for step in range(3 * bound):
            tracker.log(run, metrics=[Metric("val_accuracy", step / 100, step, step)])
            submitted.append(step)

    lock = sqlite3.connect(db, timeout=30)
    lock.execute("BEGIN EXCLUSIVE")  # the store is busy: the writer's first write waits
    try:
        producer = threading.Thread(target=produce, daemon=True)
        producer.start()
        deadline = time.monotonic() + 30
        while len(submitted) < bound + 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(1.0)  # time enough for an unbounded queue to take all 30
        assert producer.is_alive()  # the producer waits ...
        assert tracker._queue.qsize() == bound  # ... behind a full queue
        assert len(submitted) == bound + 1  # one write in the writer's hands, `bound` queued
    finally:
        lock.rollback()
        lock.close()
    producer.join(timeout=60)
    assert not producer.is_alive() and len(submitted) == 3 * bound
    assert tracker.close() == 0
    history = MlflowClient(f"sqlite:///{db}").get_metric_history(run, "val_accuracy")
    assert [m.step for m in history] == list(range(3 * bound))  # all of them, in order
