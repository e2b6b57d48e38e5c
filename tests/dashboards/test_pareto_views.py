"""Several objectives: the Pareto and hypervolume view data from hand-made frames (fronts worked
out by hand), the rows they come from, and the payload that assembles them (no store, no Ray)."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from sweepforge.dashboards._pareto import (
    feasible_values,
    front_parallel,
    hypervolume_curves,
    nondominated,
    on_campaign_front,
    on_strategy_front,
    pareto,
    staircase,
    with_fronts,
)
from sweepforge.dashboards._payload import VIEWS, build_payload
from sweepforge.dashboards._rows import (
    STRATEGY_COLUMNS,
    campaign_info,
    objective_column,
    objectives_of,
    param_specs,
    strategy_frame,
    trials_frame,
    with_objectives,
)
from sweepforge.dashboards._store import CampaignRows, _repeats
from tests.dashboards.test_rows import CAMPAIGNS, run

ACC_SIZE = {"acc": "max", "size": "min"}  # the first objective goes up, the second across


def trial(strategy, trial_id, acc, size, *, state="COMPLETE", feasible=True, pareto=None,
          seed="0", extra=None):
    """A row of the trials frame with the columns ``with_objectives`` adds."""
    row = {
        "campaign_id": f"c{seed}",
        "seed": seed,
        "strategy": strategy,
        "trial_id": trial_id,
        "run_id": f"{strategy}-{seed}-{trial_id}",
        "state": state,
        "value": acc,
        "test_value": np.nan if acc is None else acc - 0.01,
        "ended_s": float(trial_id),
        "config": {"lr": 0.01 * (trial_id + 1), "width": 8 * (trial_id + 1)},
        objective_column("acc"): np.nan if acc is None else acc,
        objective_column("size"): np.nan if size is None else size,
        "feasible": feasible,
        "pareto": pareto,
    }
    row.update(extra or {})
    return row


def frame(*rows):
    return pd.DataFrame(list(rows))


# --- which trials are on a front --------------------------------------------------------------
def test_nondominated_maximises_and_minimises_as_told_and_keeps_equal_points():
    points = [
        [0.90, 50.0],  # 0: on the front
        [0.80, 10.0],  # 1: on it (smallest)
        [0.70, 60.0],  # 2: beaten by 0 on both
        [0.90, 50.0],  # 3: equal to 0: on it too
        [0.85, 50.0],  # 4: same size as 0, lower accuracy: beaten
        [0.99, np.nan],  # 5: no size: never on it
    ]
    assert nondominated(points, ["max", "min"]).tolist() == [True, True, False, True, False, False]
    # both minimised: 1 beats 0, 3 and 4; 2 has the lowest accuracy, so nothing beats it
    assert nondominated(points, ["min", "min"]).tolist() == [
        False, True, True, False, False, False,
    ]
    assert nondominated(np.empty((0, 2)), ["max", "min"]).tolist() == []


def test_each_strategy_has_its_own_front_of_complete_trials_within_the_limits():
    trials = frame(
        trial("a", 0, 0.90, 50.0),
        trial("a", 1, 0.80, 10.0),
        trial("a", 2, 0.70, 60.0),  # beaten by a0
        trial("a", 3, 0.99, 5.0, feasible=False),  # would beat them all, but breaks a limit
        trial("a", 4, 0.95, 40.0, state="PRUNED"),  # partial values: never on a front
        trial("b", 0, 0.60, 70.0),  # beaten by a's trials, yet on b's own front
        trial("b", 1, 0.50, 80.0),  # beaten by b0
    )
    own = on_strategy_front(trials, ACC_SIZE)
    assert own.tolist() == [True, True, False, False, False, True, False]
    campaign, marked = on_campaign_front(trials, ACC_SIZE)  # no tags yet: computed here
    assert not marked
    assert campaign.tolist() == [True, True, False, False, False, False, False]


def test_the_campaign_front_is_the_one_its_trials_are_tagged_with_once_it_ended():
    trials = frame(
        trial("a", 0, 0.90, 50.0, pareto=False),  # the campaign said no: the tag wins
        trial("a", 1, 0.80, 10.0, pareto=True),
        trial("a", 2, 0.70, 60.0, pareto=True),
    )
    campaign, marked = on_campaign_front(trials, ACC_SIZE)
    assert marked and campaign.tolist() == [False, True, True]
    # resumed: an earlier session tagged its trials, a new one has none yet: computed again
    resumed = pd.concat([trials, frame(trial("a", 3, 0.95, 55.0))], ignore_index=True)
    campaign, marked = on_campaign_front(resumed, ACC_SIZE)
    assert not marked and campaign.tolist() == [True, True, False, True]


# --- the step lines ---------------------------------------------------------------------------
def test_a_front_is_a_staircase_sorted_by_the_second_objective():
    front = frame(trial("a", 0, 0.95, 30.0), trial("a", 1, 0.80, 5.0), trial("a", 2, 0.90, 10.0))
    step = staircase(front, ACC_SIZE, "a")
    assert (step.x, step.y) == ([5.0, 10.0, 30.0], [0.80, 0.90, 0.95])
    assert step.shape == "hv"  # size minimised: each accuracy holds until the next size
    # accuracy across (maximised), size up: the next point's size holds back to this accuracy
    step = staircase(front, {"size": "min", "acc": "max"}, "a")
    assert (step.x, step.y) == ([0.80, 0.90, 0.95], [5.0, 10.0, 30.0])
    assert step.shape == "vh"


def test_the_pareto_view_has_every_trial_each_front_and_the_campaign_front():
    trials = frame(
        trial("a", 0, 0.90, 50.0, pareto=True),
        trial("a", 1, 0.80, 10.0, pareto=True),
        trial("a", 2, 0.70, 60.0, pareto=False),
        trial("a", 3, 0.99, 5.0, feasible=False, pareto=False),
        trial("b", 0, 0.85, 20.0, pareto=True),
        trial("b", 1, 0.95, 90.0, pareto=True),
        trial("b", 2, None, None, state="FAILED", pareto=False),  # no values: not drawn
        trial("b", 3, 0.97, None, pareto=False),  # no size: not drawn
    )
    data = pareto(trials, ACC_SIZE, ["b", "a"])
    assert [p.strategy for p in data.points] == ["b", "a"]
    b, a = data.points
    assert a.values == [[0.90, 0.80, 0.70, 0.99], [50.0, 10.0, 60.0, 5.0]]
    assert a.feasible == [True, True, True, False] and a.labels[3] == "a #3"
    assert b.values == [[0.85, 0.95], [20.0, 90.0]]
    fronts = {step.strategy: (step.x, step.y) for step in data.fronts}
    assert fronts == {"a": ([10.0, 50.0], [0.80, 0.90]), "b": ([20.0, 90.0], [0.85, 0.95])}
    assert data.marked and sorted(data.campaign.labels) == ["a #0", "a #1", "b #0", "b #1"]
    assert (data.shown, data.total, data.note) == (6, 6, "")


def test_many_trials_are_sampled_but_every_front_trial_stays():
    rows = [trial("a", i, 0.5 - 0.001 * i, 100.0 + i, pareto=False) for i in range(30)]
    rows += [
        trial("a", 30, 0.9, 50.0, pareto=True),  # beats each of the 30 above
        trial("a", 31, 0.6, 5.0, pareto=True),  # the smallest
    ]
    data = pareto(frame(*rows), ACC_SIZE, max_points=5)
    (points,) = data.points
    assert len(points.labels) == 5 and {"a #30", "a #31"} <= set(points.labels)
    assert "a: 5 of 32" in data.note and (data.shown, data.total) == (5, 32)
    (step,) = data.fronts
    assert (step.x, step.y) == ([5.0, 50.0], [0.6, 0.9])
    again = pareto(frame(*rows), ACC_SIZE, max_points=5)
    assert again.points[0].labels == points.labels  # a seeded sample: the same each refresh


def test_three_objectives_have_no_staircase_and_the_front_in_parallel_coordinates():
    three = {"acc": "max", "size": "min", "ms": "min"}
    trials = frame(
        trial("a", 0, 0.9, 50.0, pareto=True, extra={objective_column("ms"): 1.0}),
        trial("a", 1, 0.8, 60.0, pareto=False, extra={objective_column("ms"): 2.0}),
        trial("b", 0, 0.7, 10.0, pareto=True, extra={objective_column("ms"): 3.0}),
    )
    data = pareto(trials, three)
    assert data.fronts == [] and len(data.points[0].values) == 3
    parallel = front_parallel(trials, three, param_specs(trials))
    labels = [axis.label for axis in parallel.axes]
    assert labels[0] == "strategy" and labels[-3:] == ["acc", "size", "ms"]
    assert parallel.shown == 2 and parallel.color == [0.9, 0.7]
    assert parallel.axes[-1].values == [1.0, 3.0]


# --- hypervolume and the summary --------------------------------------------------------------
def strategy_runs(*rows):
    return pd.DataFrame(
        [dict(zip(["campaign_id", "seed", "strategy", "run_id"], r)) for r in rows]
    )


def test_one_seed_gives_one_hypervolume_line_per_strategy():
    runs = strategy_runs(("c0", "0", "a", "ra"), ("c0", "0", "b", "rb"))
    histories = pd.DataFrame(
        {
            "run_id": ["ra", "ra", "ra", "ra", "rb", "other"],
            "step": [2, 1, 3, 2, 1, 1],
            "value": [5.0, 0.0, 7.0, 6.0, 1.0, 99.0],
        }
    )
    a, b = hypervolume_curves(histories, runs, ["a", "b"])
    assert (a.strategy, a.x, a.y, a.lo, a.seeds) == ("a", [1.0, 2.0, 3.0], [0.0, 6.0, 7.0], None, 1)
    assert (b.x, b.y) == ([1.0], [1.0])


def test_several_seeds_give_the_median_and_the_spread():
    runs = strategy_runs(("c0", "0", "a", "r0"), ("c1", "1", "a", "r1"), ("c2", "2", "a", "r2"))
    histories = pd.DataFrame(
        {
            "run_id": ["r0", "r0", "r1", "r1", "r2"],
            "step": [1, 2, 1, 2, 1],
            "value": [1.0, 4.0, 3.0, 3.0, 2.0],
        }
    )
    (curve,) = hypervolume_curves(histories, runs)
    assert curve.seeds == 3 and curve.x == [1.0, 2.0]
    assert curve.y == [2.0, 3.0]  # medians of (1, 3, 2) and (4, 3, 2: seed 2 holds its last)
    assert curve.lo == [1.0, 2.0] and curve.hi == [3.0, 4.0]


def test_strategies_with_no_hypervolume_logged_have_no_line():
    runs = strategy_runs(("c0", "0", "a", "ra"))
    empty = pd.DataFrame(columns=["run_id", "step", "value"])
    assert hypervolume_curves(empty, runs) == []


def test_the_summary_gains_each_strategy_s_front_size_and_hypervolume():
    table = pd.DataFrame({"strategy": ["a", "b", "c"], "trials": [4, 4, 1]})
    runs = pd.DataFrame(
        {"strategy": ["b", "a"], "front_size": [2.0, 3.0], "hypervolume": [0.5, np.nan]}
    )
    out = with_fronts(table, runs)
    assert out["front_size"].tolist()[:2] == [3.0, 2.0] and math.isnan(out["front_size"][2])
    assert math.isnan(out["hypervolume"][0]) and out["hypervolume"][1] == 0.5


def test_a_trial_breaking_a_limit_is_never_a_best_value():
    trials = frame(trial("a", 0, 0.9, 5.0), trial("a", 1, 0.99, 1.0, feasible=False))
    ranked = feasible_values(trials)
    assert ranked["value"].tolist()[0] == 0.9 and math.isnan(ranked["value"][1])
    assert math.isnan(ranked["test_value"][1])
    assert ranked[objective_column("acc")].tolist() == [0.9, 0.99]  # still drawn where it is


# --- MLflow rows -> objectives -----------------------------------------------------------------
def mo_campaign(**extra):
    row = CAMPAIGNS.iloc[0].copy()
    row["params.objectives"] = "val_accuracy:max,n_params:min"
    row["params.constraints"] = "n_params:None..1000.0"
    for key, value in extra.items():
        row[key] = value
    return row


def test_the_objectives_come_from_the_tag_once_the_campaign_ended_else_the_param():
    running = mo_campaign()
    assert objectives_of(running) == {"val_accuracy": "max", "n_params": "min"}
    ended = mo_campaign(**{
        "tags.sweepforge.objectives": json.dumps({"n_params": "min", "val_accuracy": "max"}),
        "tags.sweepforge.reference": json.dumps([2000.0, 0.1]),
    })
    info = campaign_info(ended, "demo")
    assert list(info.objectives) == ["n_params", "val_accuracy"] and info.multi
    assert info.reference == [2000.0, 0.1]
    (limit,) = info.limits
    assert (limit.metric, limit.low, limit.high) == ("n_params", None, 1000.0)
    assert str(limit) == "n_params <= 1000"
    single = campaign_info(CAMPAIGNS.iloc[0], "demo")
    assert single.objectives == {} and not single.multi and single.limits == ()
    none = CAMPAIGNS.iloc[0].copy()
    none["params.objectives"], none["params.constraints"] = "None", "None"
    assert objectives_of(none) == {} and campaign_info(none, "d").limits == ()


def test_trials_get_each_objective_their_feasibility_and_the_pareto_tag():
    runs = pd.DataFrame(
        [
            run(0, **{"metrics.n_params": 800.0, "tags.sweepforge.pareto": "true"}),
            run(1, **{"metrics.n_params": 1200.0, "tags.sweepforge.pareto": "false"}),
            run(2, status="FAILED", value=float("nan"), **{"metrics.n_params": 500.0}),
            run(3),  # reported no n_params: nothing shows the limit is kept
            # the campaign's own word, once the trial ended, wins over what its metrics show
            run(4, **{"metrics.n_params": 800.0, "tags.sweepforge.feasible": "false"}),
            run(5, **{"metrics.n_params": 1200.0, "tags.sweepforge.feasible": "true"}),
        ]
    )
    trials = trials_frame(runs, CAMPAIGNS, "val_accuracy")
    info = campaign_info(mo_campaign(), "demo")
    out = with_objectives(trials, runs, list(info.objectives), info.limits)
    sizes = out[objective_column("n_params")].tolist()
    assert sizes[:2] == [800.0, 1200.0] and math.isnan(sizes[2]) and math.isnan(sizes[3])
    assert out[objective_column("val_accuracy")].tolist()[0] == 0.5
    assert out["feasible"].tolist() == [True, False, True, False, False, True]
    assert out["pareto"].tolist() == [True, False, None, None, None, None]
    assert list(out.columns[: len(trials.columns)]) == list(trials.columns)


def test_strategy_runs_give_their_front_size_and_hypervolume_by_seed():
    runs = pd.DataFrame(
        [
            {"run_id": "s1", "tags.sweepforge.campaign_id": "c2", "tags.sweepforge.strategy": "a",
             "metrics.front_size": 3.0, "metrics.hypervolume": 0.25},
            {"run_id": "s2", "tags.sweepforge.campaign_id": "c1", "tags.sweepforge.strategy": "b"},
        ]
    )
    out = strategy_frame(runs, CAMPAIGNS)
    assert list(out.columns) == STRATEGY_COLUMNS
    assert out[["seed", "strategy", "front_size", "hypervolume"]].iloc[0].tolist() == [
        "1", "a", 3.0, 0.25,
    ]
    assert out["seed"][1] == "0" and math.isnan(out["front_size"][1])
    assert strategy_frame(pd.DataFrame(), CAMPAIGNS).empty


def test_repeats_with_other_objectives_or_limits_are_not_pooled():
    base = {
        "status": "FINISHED",
        "params.metric": "val_accuracy",
        "params.objectives": "a:max,b:min",
        "params.constraints": "None",
    }
    campaigns = pd.DataFrame(
        [
            {**base, "run_id": "chosen", "params.seed": "0"},
            {**base, "run_id": "same", "params.seed": "1"},
            {**base, "run_id": "other", "params.seed": "2", "params.objectives": "a:max,c:min"},
            {**base, "run_id": "limited", "params.seed": "3", "params.constraints": "b:None..5"},
        ]
    )
    assert _repeats(campaigns, campaigns.iloc[0])["run_id"].tolist() == ["same"]
    # a run from before the objectives param existed (NaN) pools with one that says None
    old = pd.DataFrame([{**base, "run_id": "x", "params.seed": "0", "params.objectives": "None"},
                        {**base, "run_id": "y", "params.seed": "1", "params.objectives": np.nan}])
    assert _repeats(old, old.iloc[0])["run_id"].tolist() == ["y"]


# --- the payload ------------------------------------------------------------------------------
def histories_of(curves):
    """A ``histories`` reader: the hypervolume curves given per run id (none for the others),
    0.5 at epoch 1 for any other metric."""

    def read(run_ids, metric):
        rows = []
        for run_id in run_ids:
            values = curves.get(run_id, []) if metric == "hypervolume" else [0.5]
            rows += [{"run_id": run_id, "step": i + 1, "value": v} for i, v in enumerate(values)]
        return pd.DataFrame(rows, columns=["run_id", "step", "value"])

    return read


def three_objective_rows(status="FINISHED", tagged=True):
    campaign = CAMPAIGNS.iloc[:1].copy()
    campaign["status"] = status
    campaign["params.objectives"] = "val_accuracy:max,n_params:min,latency_ms:min"
    campaign["params.constraints"] = "n_params:None..1000.0"
    if tagged:
        campaign["tags.sweepforge.objectives"] = json.dumps(
            {"val_accuracy": "max", "n_params": "min", "latency_ms": "min"}
        )
        campaign["tags.sweepforge.reference"] = json.dumps([0.5, 2000.0, 9.0])

    def mo_run(i, strategy, acc, size, ms, on_front):
        tags = {"tags.sweepforge.pareto": "true" if on_front else "false"} if tagged else {}
        return run(i, strategy=strategy, value=acc, end=3 + i,
                   config={"lr": 0.01 * (i + 1), "width": 8 * (i + 1)},
                   **{"metrics.n_params": size, "metrics.latency_ms": ms, **tags})

    trials = pd.DataFrame(
        [
            mo_run(0, "random", 0.90, 800.0, 1.0, True),
            mo_run(1, "random", 0.97, 1500.0, 0.5, False),  # best accuracy, breaks the limit
            mo_run(0, "optuna", 0.80, 300.0, 2.0, True),
            mo_run(1, "optuna", 0.70, 900.0, 3.0, False),
        ]
    )
    strategies = pd.DataFrame(
        [
            {"run_id": f"s-{name}", "status": status, "tags.sweepforge.campaign_id": "c1",
             "tags.sweepforge.strategy": name,
             **({"metrics.front_size": 1.0, "metrics.hypervolume": hv} if tagged else {})}
            for name, hv in (("random", 110.0), ("optuna", 1234567.0))
        ]
    )
    return CampaignRows("demo", "sqlite:///x.db", campaign, trials, strategies)


def test_a_three_objective_payload_adds_the_pareto_views_after_the_summary():
    payload = build_payload(
        three_objective_rows(),
        histories_of({"s-random": [100.0, 110.0], "s-optuna": [1234567.0]}),
    )
    ids = [view["id"] for view in payload["views"]]
    assert ids == ["summary", "pareto", "pareto-front", "hypervolume", *[v for v, _ in VIEWS[1:]]]
    views = {view["id"]: view for view in payload["views"]}
    names = {trace.get("name") for trace in views["pareto"]["figure"]["data"]}
    assert {"random", "random: breaks a limit", "optuna"} <= names
    assert "the campaign's Pareto front (2 trials)" in names
    assert "n_params <= 1000" in views["pareto"]["note"]
    assert views["pareto-front"]["note"] == "The 2 trials on the campaign's front."
    lines = [t for t in views["hypervolume"]["figure"]["data"] if t.get("mode")]
    assert [(t["name"], list(t["y"])) for t in lines] == [
        ("random", [100.0, 110.0]),
        ("optuna", [1234567.0]),
    ]
    assert "val_accuracy 0.5, n_params 2000, latency_ms 9" in views["hypervolume"]["note"]
    table = payload["summary_html"]
    assert "<th>front size</th><th>hypervolume</th>" in table
    assert 'data-col="front_size">1<' in table and 'data-col="hypervolume">110<' in table
    assert 'data-col="hypervolume">1,234,567<' in table
    # random's best is its trial within the limit, as in the campaign's own table
    assert 'data-strategy="random"><td data-col="strategy">random</td>' in table
    assert 'data-col="best_value">0.9000<' in table and "0.9700" not in table
    assert payload["configs"][0]["heading"].startswith("random: trial 0,")
    assert "maximise val_accuracy, minimise n_params and latency_ms; n_params <= 1000;" in (
        payload["subtitle"]
    )
    json.dumps(payload, default=str)


def test_while_it_runs_the_front_is_computed_and_the_hypervolume_is_awaited():
    payload = build_payload(three_objective_rows(status="RUNNING", tagged=False),
                            histories_of({}))
    views = {view["id"]: view for view in payload["views"]}
    assert "so far" in views["pareto"]["note"] and "so far" in views["pareto-front"]["note"]
    ring = [t for t in views["pareto"]["figure"]["data"] if "campaign" in t.get("name", "")]
    assert ring[0]["name"] == "the campaign's Pareto front (2 trials)"  # random #0, optuna #0
    assert views["hypervolume"]["figure"] is None
    assert "when the campaign ends" in views["hypervolume"]["empty"]


def test_a_two_objective_payload_draws_a_staircase_per_strategy():
    rows = three_objective_rows()
    campaign = rows.campaigns.copy()
    campaign["tags.sweepforge.objectives"] = json.dumps({"val_accuracy": "max", "n_params": "min"})
    campaign["tags.sweepforge.reference"] = json.dumps([0.5, 2000.0])
    payload = build_payload(
        CampaignRows("demo", rows.tracking_uri, campaign, rows.trials, rows.strategy_runs),
        histories_of({}),
    )
    ids = [view["id"] for view in payload["views"]]
    assert ids[:3] == ["summary", "pareto", "hypervolume"] and "pareto-front" not in ids
    views = {view["id"]: view for view in payload["views"]}
    assert views["pareto"]["title"] == "Pareto fronts: val_accuracy against n_params"
    steps = {
        t["name"]: (list(t["x"]), list(t["y"]), t["line"]["shape"])
        for t in views["pareto"]["figure"]["data"]
        if t.get("mode") == "lines"
    }
    # random's second trial breaks the limit: its front is its first trial alone
    assert steps == {
        "random: its front (1)": ([800.0], [0.90], "hv"),
        "optuna: its front (1)": ([300.0], [0.80], "hv"),
    }


def test_a_repeat_with_another_seed_gives_a_hypervolume_band_and_says_the_boxes_differ():
    rows = three_objective_rows()
    repeat = rows.campaigns.iloc[0].copy()
    repeat["run_id"], repeat["params.seed"] = "camp2", "1"
    repeat["tags.sweepforge.campaign_id"] = "c2"
    repeat["tags.sweepforge.reference"] = json.dumps([0.4, 3000.0, 9.0])  # its own trials' worst
    other = rows.strategy_runs.assign(
        run_id=lambda f: f["run_id"] + "-2", **{"tags.sweepforge.campaign_id": "c2"}
    )
    pooled = CampaignRows(
        "demo",
        rows.tracking_uri,
        pd.concat([rows.campaigns, repeat.to_frame().T], ignore_index=True),
        pd.concat([rows.trials, rows.trials.assign(**{"tags.sweepforge.campaign_id": "c2"})]),
        pd.concat([rows.strategy_runs, other], ignore_index=True),
    )
    curves = {"s-random": [100.0, 110.0], "s-random-2": [300.0, 310.0], "s-optuna": [5.0],
              "s-optuna-2": [7.0]}
    view = {v["id"]: v for v in build_payload(pooled, histories_of(curves))["views"]}[
        "hypervolume"
    ]
    assert "Median and spread across 2 runs of this campaign with seeds 0, 1." in view["note"]
    assert "reference points of their own" in view["note"]
    lines = {t.get("name"): list(t["y"]) for t in view["figure"]["data"]}
    assert lines["random (median of 2 seeds)"] == [200.0, 210.0]
    assert lines["optuna (median of 2 seeds)"] == [6.0]


@pytest.mark.parametrize("objectives", [None, "None"], ids=["unset", "None"])
def test_a_single_objective_payload_has_no_pareto_view(objectives):
    rows = three_objective_rows(tagged=False)
    campaign = rows.campaigns.copy()
    campaign["params.objectives"] = objectives
    campaign["params.constraints"] = None
    payload = build_payload(
        CampaignRows("demo", rows.tracking_uri, campaign, rows.trials), histories_of({})
    )
    assert [view["id"] for view in payload["views"]] == [vid for vid, _ in VIEWS]
    assert "front size" not in payload["summary_html"]
    assert 'data-col="best_value">0.9700<' in payload["summary_html"]  # no limits known


def test_a_single_objective_campaign_with_a_limit_never_shows_a_breaking_trial_as_best():
    """One objective and constraints: no Pareto view, but the best values keep the limit, as
    the campaign's own table and `sweepforge best` do."""
    rows = three_objective_rows(tagged=False)
    campaign = rows.campaigns.copy()
    campaign["params.objectives"] = None  # constraints param kept: n_params <= 1000
    payload = build_payload(
        CampaignRows("demo", rows.tracking_uri, campaign, rows.trials), histories_of({})
    )
    assert [view["id"] for view in payload["views"]] == [vid for vid, _ in VIEWS]
    assert "front size" not in payload["summary_html"]
    assert 'data-col="best_value">0.9000<' in payload["summary_html"]
    assert "0.9700" not in payload["summary_html"]  # random #1 broke the limit
