"""A long campaign runs as several Ray Tune runs (Tune keeps every trial of a run in the
master's memory); the strategies and journal carry on across them as if it were one."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import lcbench
from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
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
