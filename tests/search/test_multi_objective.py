"""A campaign with several objectives end to end: real Ray (2 CPUs), real MLflow (SQLite), real
training on digits. What a strategy is told, what MLflow holds and what the CLI prints are
checked against fronts and hypervolumes recomputed here from the trials' own MLflow metrics."""

from __future__ import annotations

import json
import math
import textwrap

import numpy as np
import pytest
import yaml
from mlflow.tracking import MlflowClient
from typer.testing import CliRunner

from sweepforge.search import Campaign
from sweepforge.search.cli import app
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.strategies.pareto import hypervolume, pareto_mask
from tests.conftest import small_campaign

pytestmark = pytest.mark.slow
runner = CliRunner()
OBJECTIVES = {"val_accuracy": "max", "n_params": "min"}
LIMIT = 2500  # n_params: the space's widths and depths straddle it


def multi_campaign(**overrides):
    campaign = small_campaign(
        name="multi", budget={"trials": 5, "max_epochs": 2},
        objectives=OBJECTIVES, constraints={"n_params": {"max": LIMIT}},
        space={"lr": {"type": "float", "low": 3e-3, "high": 0.05, "log": True},
               "width": {"type": "int", "low": 8, "high": 96, "log": True},
               "depth": {"type": "int", "low": 1, "high": 2}},
        strategies={"random": {}, "optuna": {"sampler": "nsga2"},
                    "evolutionary": {"population_size": 4}, "auto": {"n_initial": 2}},
    )
    del campaign["metric"], campaign["mode"]
    campaign.update(overrides)
    return campaign


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


@pytest.fixture(scope="module")
def finished(ray_local, store):
    return Campaign(parse_campaign_config(multi_campaign()), tracking_uri=store).run()


def trial_runs(client, result):
    query = (f"tags.`sweepforge.kind` = 'trial' and "
             f"tags.`sweepforge.campaign_id` = '{result.campaign_id}'")
    return client.search_runs([result.experiment_id], filter_string=query, max_results=1000)


def strategy_runs(client, result):
    query = (f"tags.`sweepforge.kind` = 'strategy' and "
             f"tags.`sweepforge.campaign_id` = '{result.campaign_id}'")
    return {r.info.run_name: r for r in client.search_runs([result.experiment_id], query)}


def standing(runs):
    """Runs that may stand on a front, and their objective values, from MLflow alone."""
    kept = [r for r in runs if r.data.tags["sweepforge.state"] == "COMPLETE"
            and r.data.metrics["n_params"] <= LIMIT]
    return kept, [[r.data.metrics[m] for m in OBJECTIVES] for r in kept]


def test_every_trial_has_its_objectives_and_feasibility(finished, store):
    runs = trial_runs(MlflowClient(store), finished)
    assert len(runs) == 20
    for run in runs:
        assert {"val_accuracy", "n_params", "latency_ms"} <= set(run.data.metrics)
        feasible = run.data.metrics["n_params"] <= LIMIT
        assert run.data.tags["sweepforge.feasible"] == str(feasible).lower()
    feasible = finished.trials["feasible"].astype(bool)
    assert 0 < feasible.sum() < 20, "the space must give feasible and infeasible trials"


def test_pareto_tags_mark_exactly_the_campaign_front(finished, store):
    runs = trial_runs(MlflowClient(store), finished)
    kept, points = standing(runs)
    on_front = {r.info.run_id for r, on in zip(kept, pareto_mask(points, list(OBJECTIVES.values())),
                                               strict=True) if on}
    tagged = {r.info.run_id for r in runs if r.data.tags["sweepforge.pareto"] == "true"}
    assert tagged == on_front and on_front
    assert set(finished.front().run_id) == on_front
    assert all(r.data.tags["sweepforge.pareto"] == "false" for r in runs
               if r.data.tags["sweepforge.feasible"] == "false")


def test_each_strategy_logs_its_front_hypervolume_and_curve(finished, store):
    client = MlflowClient(store)
    runs = trial_runs(client, finished)
    reference = json.loads(client.get_run(finished.campaign_run_id).data.tags["sweepforge.reference"])
    all_points = [[r.data.metrics[m] for m in OBJECTIVES] for r in runs]
    assert reference == [min(p[0] for p in all_points), max(p[1] for p in all_points)]
    assert finished.reference == reference
    for name, run in strategy_runs(client, finished).items():
        own = [r for r in runs if r.data.tags["sweepforge.strategy"] == name]
        kept, points = standing(own)
        row = finished.summary.set_index("strategy").loc[name]
        front = int(pareto_mask(points, list(OBJECTIVES.values())).sum()) if kept else 0
        volume = hypervolume(points, list(OBJECTIVES.values()), reference) if kept else 0.0
        assert row["front_size"] == front == run.data.metrics["front_size"]
        assert row["hypervolume"] == pytest.approx(volume)
        curve = sorted(client.get_metric_history(run.info.run_id, "hypervolume"),
                       key=lambda m: m.step)
        assert [m.step for m in curve] == [1, 2, 3, 4, 5]
        assert all(b.value >= a.value for a, b in zip(curve, curve[1:], strict=False))
        assert curve[-1].value == pytest.approx(volume)
        csv = client.download_artifacts(run.info.run_id, "pareto_front.csv")
        with open(csv) as file:
            assert len(file.read().strip().splitlines()) == 1 + front


def test_the_auto_strategy_logs_which_model_it_chose_and_why(finished, store):
    client = MlflowClient(store)
    run = strategy_runs(client, finished)["auto"]
    with open(client.download_artifacts(run.info.run_id, "decisions.json")) as file:
        decisions = json.load(file)
    assert [(d["first"], d["model"]) for d in decisions] == [(0, "sobol"), (2, "tpe")]
    assert "several objectives" in decisions[1]["why"]


def test_best_prints_the_front_and_pick_chooses_from_it(finished, store):
    printed = runner.invoke(app, ["best", "multi", "--tracking-uri", store])
    assert printed.exit_code == 0, printed.output
    front = yaml.safe_load(printed.output.split("\n", 1)[1])
    expected = finished.front()
    assert [(p["strategy"], p["trial"]) for p in front] == list(
        zip(expected.strategy, expected.trial_id, strict=True))
    smallest = min(p["n_params"] for p in front)
    picked = runner.invoke(app, ["best", "multi", "--tracking-uri", store,
                                 "--pick", f"n_params<={smallest}"])
    assert picked.exit_code == 0, picked.output
    chosen = max((p for p in front if p["n_params"] <= smallest), key=lambda p: p["val_accuracy"])
    assert f"strategy {chosen['strategy']}, trial {chosen['trial']}:" in picked.output
    assert yaml.safe_load(picked.output.split("\n", 1)[1]) == chosen["config"]
    assert finished.pick(f"n_params<={smallest}").trial_id == chosen["trial"]
    for rules, message in ((["n_params<=0"], "none of the"), (["size<=3"], "not an objective")):
        refused = runner.invoke(app, ["best", "multi", "--tracking-uri", store,
                                      *[a for r in rules for a in ("--pick", r)]])
        assert refused.exit_code == 2 and message in refused.output


def test_best_trial_and_model_keep_the_limit(finished, store):
    best = finished.summary.set_index("strategy")
    for name in best.index:
        trial = finished.trials[(finished.trials.strategy == name)
                                & (finished.trials.trial_id == best.loc[name, "best_trial"])]
        if len(trial):
            assert trial.iloc[0]["n_params"] <= LIMIT
    printed = runner.invoke(app, ["best", "multi", "--tracking-uri", store, "--strategy", "random",
                                  "--pick", "val_accuracy>=0"])
    assert printed.exit_code == 0, printed.output
    assert "strategy random" in printed.output


def test_a_scheduler_stops_on_its_named_objective_and_pruned_trials_are_on_no_front(ray_local,
                                                                                    tmp_path):
    config = multi_campaign(
        name="multi-asha", budget={"trials": 8, "max_epochs": 4},
        scheduler={"type": "asha", "grace_period": 1, "reduction_factor": 2, "metric": "val_accuracy"},
        strategies={"optuna": {"sampler": "tpe"}})
    result = Campaign(parse_campaign_config(config),
                      tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}").run()
    pruned = result.trials[result.trials.state == "PRUNED"]
    assert len(pruned), "ASHA at factor 2 stops some of 8 trials"
    assert not pruned.pareto.astype(bool).any()
    assert result.front().state.eq("COMPLETE").all()


def test_your_own_function_s_returned_metrics_are_objectives(ray_local, tmp_path):
    """A user's function returns a cost only at its end: it is logged, told and on the front."""
    (tmp_path / "tiny.py").write_text(textwrap.dedent('''
        def train(config, data, report=None):
            for epoch in (1, 2):
                report({"val_score": 1.0 - (config["x"] - 0.3) ** 2 / epoch})
            return {"val_score": 1.0 - (config["x"] - 0.3) ** 2 / 2, "size": 10.0 * config["x"]}
    '''))
    config = {"name": "own-multi", "trainable": f"{tmp_path / 'tiny.py'}:train",
              "dataset": "digits", "objectives": {"val_score": "max", "size": "min"},
              "budget": {"trials": 6, "max_epochs": 2},
              "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
              "strategies": {"random": {}}}
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = Campaign(parse_campaign_config(config), tracking_uri=store).run()
    for _, trial in result.trials.iterrows():
        assert trial["size"] == pytest.approx(10.0 * trial["config"]["x"])
    xs = sorted(result.front().config.map(lambda c: c["x"]))
    assert xs and max(xs) <= 0.3 + 1e-9  # beyond 0.3 both objectives get worse
    runs = trial_runs(MlflowClient(store), result)
    assert all(math.isfinite(r.data.metrics["size"]) for r in runs)
    assert np.isfinite(result.summary.hypervolume).all()


def test_a_cost_measured_after_the_last_epoch_may_come_first(ray_local, tmp_path):
    """The first objective is the value a strategy is told; a cost reported only with the last
    epoch must not fail the epochs before it (Ray Tune's strict metric check)."""
    config = multi_campaign(name="cost-first", objectives={"n_params": "min", "val_accuracy": "max"},
                            budget={"trials": 3, "max_epochs": 2}, strategies={"random": {}})
    result = Campaign(parse_campaign_config(config),
                      tracking_uri=f"sqlite:///{tmp_path / 'mlflow.db'}").run()
    assert set(result.trials.state) == {"COMPLETE"}
    assert result.metric == "n_params" and result.best_config() == result.front().iloc[0].config


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric": "val_accuracy"}, "give either `objectives`"),
        ({"objectives": {"val_accuracy": "maximise", "n_params": "min"}},
         "objectives.val_accuracy: Input should be 'max' or 'min'"),
        ({"objectives": {"val_accuracy": "max", "params": "min"}},
         "objectives.params: trainable 'mlp' does not report 'params'"),
        ({"constraints": {"size_mb": {"max": 1}}},
         "constraints.size_mb: trainable 'mlp' does not report 'size_mb'"),
        ({"strategies": {"optuna": {"sampler": "cmaes"}}},
         "strategies.optuna: optuna: sampler='cmaes' optimises one objective"),
        ({"scheduler": "asha"}, "scheduler.metric: asha stops trials on one metric"),
        ({"scheduler": {"type": "asha", "metric": "n_params"}},
         "metric 'n_params' is a cost measured only after the last epoch"),
        ({"scheduler": {"type": "pbt", "mutations": ["lr"]}}, "'pbt' exploits the best trials"),
        ({"reference": {"val_accuracy": 0.5}}, "reference: must give one value for each objective"),
    ],
)
def test_bad_objectives_exit_2_and_write_nothing(bare_workdir, write_campaign, change, message):
    path = write_campaign(multi_campaign(**change))
    result = runner.invoke(app, ["run", str(path)])
    assert result.exit_code == 2, result.output
    assert message in " ".join(result.output.split())
    bare_workdir.assert_nothing_written("campaign.yaml")
