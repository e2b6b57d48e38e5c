"""``scheduler:`` campaigns (ASHA, Hyperband, median stopping, PBT) through real Ray Tune and a
real MLflow store, on the LCBench surrogate trainable (fast, with realistic learning curves)."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import mlflow
import pytest

from benchmarks import lcbench
from sweepforge.search import Campaign
from sweepforge.search.config import CampaignError, parse_campaign_config
from sweepforge.search.state.journal import JOURNAL_FILE, Journal, read_journal, replay
from sweepforge.search.strategies.base import TrialResult, TrialState
from sweepforge.search.strategies.optuna_study import OptunaStrategy
from sweepforge.spaces import Space
from tests.search import (
    faulty_trainables,  # noqa: F401  (registers `faulty`)
    resume_trainables,  # noqa: F401  (registers `mlp_slow`)
)

LC_SPACE = {k: lcbench.SPACE[k] for k in ("learning_rate", "momentum", "max_dropout", "num_layers")}


def lc_campaign(**overrides):
    raw = {
        "name": "lc-schedulers", "trainable": "lcbench", "dataset": "lcbench_placeholder",
        "metric": "val_accuracy", "budget": {"trials": 10, "max_epochs": 27},
        "fixed": {"task": "3945"}, "space": LC_SPACE,
        "strategies": {"random": {}, "optuna": {}},
    }
    raw.update(overrides)
    return parse_campaign_config(raw)


def runs_of(store: str, name: str):
    mlflow.set_tracking_uri(store)
    runs = mlflow.search_runs(experiment_names=[name])
    return runs[runs["tags.sweepforge.kind"] == "trial"]


# --- bad input: each a clear error before anything runs ---------------------------------------

@pytest.mark.parametrize(("overrides", "message"), [
    ({"scheduler": "sha"}, "unknown scheduler type 'sha'; choose one of asha, hyperband, median, pbt"),
    ({"scheduler": {"type": "asha", "grace": 2}},
     "scheduler 'asha' has no option 'grace'; its options are: grace_period, reduction_factor"),
    ({"scheduler": {"type": "pbt"}}, "scheduler 'pbt' needs `mutations`"),
    ({"budget": {"epochs": 5, "max_epochs": 27}}, "epochs=5 is less than one whole trial"),
    ({"budget": {"max_epochs": 27}}, "give `trials` (per strategy), `epochs`"),
])
def test_bad_scheduler_fields_are_refused_with_what_is_allowed(overrides, message):
    with pytest.raises(CampaignError) as err:
        lc_campaign(**overrides)
    assert message in str(err.value)


@pytest.mark.parametrize(("overrides", "message"), [
    ({"scheduler": {"type": "asha", "grace_period": 30}},
     "scheduler.grace_period: 30 epochs is more than a whole trial (budget.max_epochs=27)"),
    ({"scheduler": {"type": "pbt", "perturbation_interval": 28, "mutations": ["momentum"]}},
     "scheduler.perturbation_interval: 28 epochs is more than a whole trial"),
    ({"scheduler": {"type": "pbt", "mutations": ["weight_decay"]}},
     ("scheduler.mutations: 'weight_decay' is not in the space; pbt may only change searched "
      "parameters: learning_rate, momentum, max_dropout, num_layers.")),
    ({"scheduler": {"type": "pbt", "mutations": ["task"]}}, "scheduler.mutations: 'task' is fixed"),
    ({"scheduler": "asha", "metric": "test_balanced_accuracy"},
     "metric 'test_balanced_accuracy' is reported only after the last epoch"),
])
def test_a_scheduler_that_cannot_work_stops_the_campaign_before_anything_runs(
    overrides, message, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CampaignError) as err:
        Campaign(lc_campaign(**overrides), tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                 state_dir=tmp_path / "state")
    assert message in str(err.value)
    assert list(tmp_path.iterdir()) == []  # no MLflow store, no journal


def test_pbt_refuses_a_trainable_that_cannot_checkpoint(tmp_path):
    config = parse_campaign_config({
        "name": "pbt-no-checkpoint", "trainable": "faulty", "dataset": "digits",
        "metric": "val_accuracy", "budget": {"trials": 2, "max_epochs": 4},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "scheduler": {"type": "pbt", "mutations": ["x"]}, "strategies": {"random": {}},
    })
    with pytest.raises(CampaignError, match="trainable 'faulty' cannot save one"):
        Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", state_dir=tmp_path)


# --- pruned trials as strategies see them -------------------------------------------------------

def test_optuna_keeps_the_epoch_a_pruned_trial_reached():
    space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    strategy = OptunaStrategy(space, budget=1, seed=0)
    strategy.tell(strategy.ask().trial_id, TrialResult(0.4, TrialState.PRUNED, step=3))
    (trial,) = strategy.study.trials
    assert trial.state.name == "FAIL"  # not a result TPE learns from (test_optuna.py)
    assert trial.user_attrs == {"pruned_at_epoch": 3, "pruned_value": 0.4}


def test_a_pruned_tell_survives_the_journal(tmp_path):
    space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
    first = OptunaStrategy(space, budget=2, seed=0)
    journal = Journal.create(tmp_path, campaign_id="0123456789ab", name="n", config={},
                             strategies=["optuna"])
    spec = first.ask()
    journal.ask("optuna", spec.trial_id, spec.config, "t0", 1)
    journal.tell("optuna", spec.trial_id, TrialResult(0.4, TrialState.PRUNED, step=5))
    journal.close()
    assert json.loads((tmp_path / JOURNAL_FILE).read_text().splitlines()[-1])["step"] == 5

    again = OptunaStrategy(space, budget=2, seed=0)
    replay(read_journal(tmp_path)[1], {"optuna": again})
    (trial,) = again.study.trials
    assert trial.state.name == "FAIL"
    assert trial.user_attrs == {"pruned_at_epoch": 5, "pruned_value": 0.4}


# --- real campaigns -----------------------------------------------------------------------------

@pytest.mark.slow
def test_the_printed_comparison_shows_pruned_trials_and_epochs(ray_local, tmp_path, monkeypatch):
    """`sweepforge run` ends with the table the README promises: per strategy trials, pruned,
    failed, epochs trained, best value, test value, wall time (issue 15: pruned trials and
    epochs were missing, so an ASHA campaign gave no hint that most trials were stopped)."""
    import yaml
    from typer.testing import CliRunner

    from sweepforge.search.cli import app

    monkeypatch.chdir(tmp_path)
    config = lc_campaign(name="lc-table", strategies={"random": {}},
                         scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 3})
    path = tmp_path / "lc-table.yaml"
    path.write_text(yaml.safe_dump(config.model_dump(mode="json", exclude_none=True)))
    result = CliRunner().invoke(app, ["run", str(path), "--tracking-uri",
                                      f"sqlite:///{tmp_path / 'mlflow.db'}", "--no-progress",
                                      "--no-report"])
    assert result.exit_code == 0, result.output
    table = result.output[result.output.index("Comparison"):]
    header = next(line for line in table.splitlines() if "strategy" in line)
    columns = [cell.strip() for cell in header.replace("┃", "│").split("│")[1:-1]]
    assert columns[:5] == ["strategy", "trials", "pruned", "failed", "epochs"], header
    row = next(line for line in table.splitlines() if line.startswith("│random"))
    cells = dict(zip(columns, (cell.strip() for cell in row.split("│")[1:-1])))
    trials = runs_of(f"sqlite:///{tmp_path / 'mlflow.db'}", "lc-table")
    pruned = int((trials["tags.sweepforge.state"] == "PRUNED").sum())
    assert int(cells["trials"]) == 10 and int(cells["pruned"]) == pruned > 0
    assert int(cells["epochs"]) == int(trials["metrics.epochs_run"].sum()) < 10 * 27


@pytest.mark.slow
def test_asha_prunes_trials_tells_them_as_pruned_and_counts_their_epochs(ray_local, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = Campaign(lc_campaign(scheduler={"type": "asha", "grace_period": 1,
                                             "reduction_factor": 3}),
                      tracking_uri=store, state_dir=tmp_path / "state").run()

    trials = result.trials
    assert len(trials) == 20 and set(trials["state"]) == {"COMPLETE", "PRUNED"}
    pruned = trials[trials["state"] == "PRUNED"]
    assert (pruned["epochs"] < 27).all() and (trials[trials["state"] == "COMPLETE"]["epochs"] == 27).all()
    # the comparison table accounts epochs, and a pruned trial may still hold the best value
    for row in result.summary.itertuples():
        own = trials[trials["strategy"] == row.strategy]
        assert row.epochs == own["epochs"].sum() < 10 * 27
        assert row.pruned == (own["state"] == "PRUNED").sum() > 0

    runs = runs_of(store, "lc-schedulers")
    assert sorted(runs["tags.sweepforge.state"]) == sorted(trials["state"])
    by_run = runs.set_index("run_id")
    for row in pruned.itertuples():
        assert by_run.loc[row.run_id, "status"] == "FINISHED"
        assert by_run.loc[row.run_id, "metrics.epochs_run"] == row.epochs

    # the strategies were told PRUNED, with the epoch reached (the journal holds every tell)
    journal = next(Path(tmp_path / "state").rglob("journal.jsonl"))
    tells = [json.loads(line) for line in journal.read_text().splitlines() if '"tell"' in line]
    told_pruned = {(t["strategy"], t["trial"]): t["step"] for t in tells if t["state"] == "PRUNED"}
    assert told_pruned == {(r.strategy, r.trial_id): r.epochs for r in pruned.itertuples()}


@pytest.mark.slow
def test_an_epoch_budget_is_never_exceeded(ray_local, tmp_path):
    config = lc_campaign(name="lc-epoch-budget", budget={"epochs": 60, "max_epochs": 9},
                         scheduler={"type": "hyperband", "reduction_factor": 3})
    result = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                      state_dir=tmp_path / "state").run()
    for row in result.summary.itertuples():
        assert 9 < row.epochs <= 60
        assert row.trials > 60 // 9  # early stopping buys more trials than full training would


@pytest.mark.slow
def test_median_stopping_prunes_trials(ray_local, tmp_path):
    config = lc_campaign(name="lc-median", budget={"trials": 8, "max_epochs": 12},
                         scheduler={"type": "median", "grace_period": 2, "min_samples_required": 2},
                         strategies={"random": {}})
    result = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                      state_dir=tmp_path / "state").run()
    assert (result.trials["state"] == "PRUNED").any()
    assert not (result.trials["state"] == "FAILED").any()


@pytest.mark.slow
def test_pbt_clones_within_each_strategy_and_records_the_lineage(ray_local, tmp_path):
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = lc_campaign(
        name="lc-pbt", budget={"trials": 6, "max_epochs": 12},
        scheduler={"type": "pbt", "perturbation_interval": 3, "quantile": 0.5,
                   "mutations": ["learning_rate", "momentum", "num_layers"]},
    )
    result = Campaign(config, tracking_uri=store, state_dir=tmp_path / "state").run()
    assert len(result.trials) == 12 and set(result.trials["state"]) == {"COMPLETE"}

    runs = runs_of(store, "lc-pbt")
    cloned = runs[runs["tags.sweepforge.pbt.clones"].notna()]
    assert len(cloned) > 0
    space = Space.from_dict(LC_SPACE)
    for run in cloned.to_dict("records"):
        strategy = run["tags.sweepforge.strategy"]
        lineage = json.loads(run["tags.sweepforge.pbt.lineage"])
        for event in lineage:
            assert event["from_strategy"] == strategy  # one population per strategy
            assert 3 <= event["epoch"] <= 12
            assert event["changed"], "a clone takes at least the donor's values"
            for name, (_, new) in event["changed"].items():
                assert space[name].contains(new), (name, new)  # perturbed values stay in range


@pytest.mark.slow
def test_a_pbt_trial_s_duration_leaves_out_the_time_it_waited_paused(ray_local, tmp_path, caplog):
    """PBT pauses a trial to clone another into it, and it waits for a free CPU to go on; its
    ``duration_s`` (the table's compute time) counts the time it ran. On 2 CPUs the durations
    then add up to at most twice the campaign's span; with the waits counted, about 2.8 times."""
    from tests.conftest import small_campaign

    config = parse_campaign_config(small_campaign(
        name="pbt-duration", trainable="mlp_slow", strategies={"random": {}},
        budget={"trials": 4, "max_epochs": 6}, fixed={"epochs": 6},
        scheduler={"type": "pbt", "perturbation_interval": 1, "quantile": 0.5,
                   "mutations": ["lr"]}))
    tune_log = logging.getLogger("ray.tune")  # (Ray's loggers do not propagate to the root)
    tune_log.addHandler(caplog.handler)
    try:
        result = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}",
                          state_dir=tmp_path / "state").run()
    finally:
        tune_log.removeHandler(caplog.handler)
    trials = result.trials
    span = trials["ended_at"].max() - trials["started_at"].min()
    assert trials["duration_s"].sum() <= 2 * span, (trials["duration_s"].tolist(), span)
    assert (trials["ended_at"] >= trials["started_at"] + trials["duration_s"] - 0.01).all()
    assert result.summary["compute_s"].iloc[0] == pytest.approx(trials["duration_s"].sum(), abs=0.05)
    # and Ray Tune did not warn that a limit on trials at once was ignored (PBT sets none)
    assert "max_concurrent_trials" not in caplog.text


def test_a_cost_metric_cannot_drive_a_scheduler(tmp_path, monkeypatch):
    """n_params, latency_ms and train_s arrive with the last epoch only, like test scores."""
    from tests.conftest import small_campaign

    monkeypatch.chdir(tmp_path)
    config = parse_campaign_config(small_campaign(metric="latency_ms", mode="min",
                                                  scheduler="asha", strategies={"random": {}}))
    with pytest.raises(CampaignError, match="metric 'latency_ms' is a cost measured only after"):
        Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}", state_dir=tmp_path / "s")
    assert list(tmp_path.iterdir()) == []
