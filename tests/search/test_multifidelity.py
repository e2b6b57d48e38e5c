"""The multi-fidelity strategies (``bohb``, ``dehb``): what they learn from each rung, and a real
campaign with ASHA and an epoch budget on Ray Tune and MLflow (the LCBench surrogate)."""

from __future__ import annotations

import json
import math
import re
import statistics
from pathlib import Path

import pytest
from mlflow import MlflowClient

from benchmarks import lcbench
from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.plan import plan_campaign
from sweepforge.search.state.journal import JOURNAL_FILE, Journal, read_journal, replay
from sweepforge.search.strategies.base import StrategyError, TrialResult, TrialState
from sweepforge.search.strategies.bohb import SOBOL_SHARE
from sweepforge.search.strategies.registry import make_strategy
from sweepforge.search.strategies.rungs import FULL, RungTable, fidelity_points
from sweepforge.spaces import Space

LINE = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})
BOX = Space.from_dict({name: {"type": "float", "low": -1.0, "high": 1.0} for name in "abcd"})


def deceptive(x: float, epochs: int) -> tuple[tuple[int, float], ...]:
    """A learning curve whose first epoch ranks configs the wrong way round: large ``x`` starts
    fast, small ``x`` ends best (higher is better)."""
    return tuple((e, (x if e == 1 else 1.0 - x) + 0.01 * e) for e in range(1, epochs + 1))


def drive(strategy, curve_of, stop_after) -> list[dict]:
    """A plain loop standing in for a scheduler: trial i trains ``stop_after(i)`` epochs."""
    configs = []
    while (spec := strategy.ask()) is not None:
        epochs = stop_after(spec.trial_id)
        curve = curve_of(spec.config, epochs)
        state = TrialState.COMPLETE if epochs == 3 else TrialState.PRUNED
        strategy.tell(spec.trial_id, TrialResult(curve[-1][1], state, step=epochs, curve=curve))
        configs.append(spec.config)
    return configs


# --- the rung table -----------------------------------------------------------------------------

def test_a_trial_counts_at_each_epoch_it_reached_and_the_highest_full_epoch_is_chosen():
    table = RungTable()
    table.add(0, ((1, 0.5), (2, 0.6), (3, 0.7)))
    table.add(1, ((1, 0.4),))
    table.add(2, ((1, 0.9), (2, 0.8), (3, 0.95)))
    assert table.highest(3) == 1 and table.highest(2) == 3 and table.highest(4) is None
    assert table.at(3) == [(0, 0.7), (2, 0.95)]


def test_the_table_names_the_trials_an_epoch_does_not_hold():
    table = RungTable()
    table.add(0, ((1, 0.5), (2, 0.6), (3, 0.7)))
    table.add(1, ((1, 0.4),))  # stopped after one epoch
    table.add(2, ())  # failed
    table.add(3, ((FULL, 0.9),))  # a final value without a curve
    assert table.missing(3, [0, 1, 2, 3]) == [1, 2, 3]
    assert table.missing(1, [0, 1, 2, 3]) == [2, 3]


def test_what_a_model_may_learn_from_a_result():
    curve = ((1, 0.5), (2, 0.6))
    assert fidelity_points(TrialResult(0.6, TrialState.PRUNED, step=2, curve=curve)) == curve
    assert fidelity_points(TrialResult(0.6, step=2)) == ((2, 0.6),)
    assert fidelity_points(TrialResult(0.6)) == ((FULL, 0.6),)
    assert fidelity_points(TrialResult(None, TrialState.FAILED, curve=curve)) == ()
    assert fidelity_points(TrialResult(0.6, curve=curve, constraints=(1.0,))) == ()
    assert fidelity_points(TrialResult(math.nan)) == ()


# --- bohb ---------------------------------------------------------------------------------------

def test_bohb_fits_on_the_highest_epoch_with_enough_values_and_logs_the_switch():
    strategy = make_strategy("bohb", LINE, budget=40, seed=0, mode="max",
                             options={"model": "tpe", "n_initial": 4, "min_points": 5})
    # every third trial runs 3 epochs, the others stop after one (as ASHA at factor 3)
    drive(strategy, lambda c, n: deceptive(c["x"], n), lambda i: 3 if i % 3 == 0 else 1)
    models = [d.model for d in strategy.decisions]
    assert models[0] == "sobol on initial design"
    assert "tpe on epoch 1" in models and models[-1] == "tpe on epoch 3"
    switch = next(d for d in strategy.decisions if d.model == "tpe on epoch 3")
    # the switch came when the fifth trial with three epochs had been told (trial 12)
    assert switch.first == 13 and "at least 5 values" in switch.why
    assert len(strategy.rungs.at(3)) == 14 and len(strategy.rungs.at(1)) == 40


def test_bohb_follows_the_last_epoch_not_the_misleading_first():
    """On a curve whose first epoch ranks configs the wrong way round, the model on the highest
    rung asks small x (the final optimum), though most trials tell it only one epoch."""
    strategy = make_strategy("bohb", LINE, budget=60, seed=1, mode="max",
                             options={"model": "tpe", "n_initial": 6, "min_points": 5})
    configs = drive(strategy, lambda c, n: deceptive(c["x"], n), lambda i: 3 if i % 3 == 0 else 1)
    assert statistics.fmean(c["x"] for c in configs[30:]) < 0.3


def finished_then_stopped(strategy, finished=5, n=10) -> list[tuple]:
    """The first ``finished`` trials train 3 epochs; a scheduler stops every later one after
    its first. Returns the configs asked after the design, rounded to 0.01 (the GP's repeats
    are near, not exact)."""
    asked = []
    for i in range(finished + n):
        spec = strategy.ask()
        epochs = 3 if i < finished else 1
        curve = tuple((e, sum(v * v for v in spec.config.values()) + 1 / e)
                      for e in range(1, epochs + 1))
        state = TrialState.COMPLETE if epochs == 3 else TrialState.PRUNED
        strategy.tell(spec.trial_id, TrialResult(curve[-1][1], state, step=epochs, curve=curve))
        if i >= finished:
            asked.append(tuple(round(v, 2) for v in spec.config.values()))
    return asked


@pytest.mark.parametrize(("options", "distinct"), [
    ({"repeat_tolerance": 0.01}, 10),  # each repeat goes to the design
    ({}, 1),  # the default: the loop, one config stopped every time
])
def test_bohb_asks_again_a_config_stopped_below_its_epoch_unless_told_not_to(options, distinct):
    """The GP on epoch 3 holds the 5 trials that got there. A trial stopped at epoch 1 is not
    among them, so without the rule the GP proposes it again and again (on LCBench with ASHA:
    one config 73 times in 1,000 trials). The rule is opt-in: on LCBench it did not pay."""
    strategy = make_strategy("bohb", BOX, budget=40, seed=0, mode="min", options={
        "model": "gp", "n_initial": 5, "min_points": 5, "random_fraction": 0, **options})
    asked = finished_then_stopped(strategy)
    assert len(set(asked)) == distinct
    assert (len(strategy.replaced) == 9) is (distinct == 10)  # all but the GP's first


def test_bohb_remembers_only_trials_that_ended_below_the_models_epoch_and_says_so():
    from sweepforge.search.strategies.bohb import SOBOL_FOR_REPEAT

    strategy = make_strategy("bohb", BOX, budget=40, seed=0, mode="min", options={
        "model": "gp", "n_initial": 5, "min_points": 5, "random_fraction": 0,
        "repeat_tolerance": 0.01})
    finished_then_stopped(strategy, n=3)
    assert strategy.rungs.missing(3, strategy._told) == [5, 6, 7]  # stopped at epoch 1
    first = strategy.replaced[0]
    logged = [d for d in strategy.decisions if d.model == SOBOL_FOR_REPEAT]
    assert len(logged) == 1 and logged[0].first == first and "epoch 3" in logged[0].why
    spec = strategy.ask()
    strategy.tell(spec.trial_id, TrialResult(None, TrialState.FAILED))
    assert strategy.rungs.missing(1, strategy._told) == [8]  # failed: unseen by any model


def test_bohb_replays_from_its_journal_curves_included(tmp_path):
    options = {"model": "tpe", "n_initial": 3, "min_points": 3}
    first = make_strategy("bohb", LINE, budget=15, seed=4, mode="max", options=options)
    journal = Journal.create(tmp_path, campaign_id="0123456789ab", name="n", config={},
                             strategies=["bohb"])
    asked = []
    while (spec := first.ask()) is not None:
        journal.ask("bohb", spec.trial_id, spec.config, f"t{spec.trial_id}", 1)
        epochs = 3 if spec.trial_id % 2 else 1
        curve = deceptive(spec.config["x"], epochs)
        journal.tell("bohb", spec.trial_id, TrialResult(curve[-1][1], step=epochs, curve=curve))
        first.tell(spec.trial_id, TrialResult(curve[-1][1], step=epochs, curve=curve))
        asked.append(spec.config)
    journal.close()
    tells = [json.loads(line) for line in (tmp_path / JOURNAL_FILE).read_text().splitlines()
             if '"tell"' in line]
    assert [epoch for epoch, _ in tells[1]["curve"]] == [1, 2, 3]  # trial 1 ran 3 epochs
    assert tells[1]["curve"][-1][1] == pytest.approx(tells[1]["value"])
    again = make_strategy("bohb", LINE, budget=15, seed=4, mode="max", options=options)
    replay(read_journal(tmp_path)[1], {"bohb": again})  # raises if an ask differs
    assert again.decisions == first.decisions
    assert again.rungs.values == first.rungs.values


def test_bohb_takes_a_random_fraction_of_its_model_asks_from_the_design_and_replays_them():
    options = {"model": "tpe", "n_initial": 4, "min_points": 4, "random_fraction": 0.5}
    runs = []
    for _ in range(2):
        strategy = make_strategy("bohb", LINE, budget=40, seed=3, mode="max", options=options)
        configs = drive(strategy, lambda c, n: deceptive(c["x"], n), lambda i: 3)
        runs.append((strategy, configs))
    (strategy, configs), (again, configs_again) = runs
    assert configs == configs_again  # the share is drawn from the strategy's seeded generator
    from_design = len(strategy._design.trials) - 4  # beyond the initial design
    assert 10 <= from_design <= 26, from_design  # about half of the 36 model asks
    shares = [d for d in strategy.decisions if d.model == SOBOL_SHARE]
    assert len(shares) == 1 and "random_fraction=0.5" in shares[0].why


@pytest.mark.parametrize(("options", "message"), [
    ({"model": "smac"}, "bohb: option `model` must be one of ['auto', 'tpe', 'gp'], but got model='smac'"),
    ({"min_points": 0}, "bohb: option `min_points` must be an int >= 1, but got min_points=0"),
    ({"random_fraction": 1}, ("bohb: option `random_fraction` must be a number in [0, 1), but "
                             "got random_fraction=1")),
    ({"relax_ints_wider_than": "16"}, ("bohb: option `relax_ints_wider_than` must be an int >= 0 "
                                       "or null (every int exactly), but got "
                                       "relax_ints_wider_than='16'")),
    ({"repeat_tolerance": True}, ("bohb: option `repeat_tolerance` must be a number in [0, 1) or "
                                 "null (never replace a repeat), but got repeat_tolerance=True")),
])
def test_bohb_refuses_bad_options_naming_them(options, message):
    with pytest.raises(StrategyError, match=re.escape(message)):
        make_strategy("bohb", LINE, budget=5, seed=0, mode="max", options=options)


def test_bohb_takes_the_gp_for_a_small_continuous_space_and_tpe_when_an_epoch_grows():
    strategy = make_strategy("bohb", BOX, budget=14, seed=0, mode="min",
                             options={"n_initial": 4, "min_points": 4, "gp_max_trials": 6})
    while (spec := strategy.ask()) is not None:
        value = sum(v * v for v in spec.config.values())
        strategy.tell(spec.trial_id, TrialResult(value, step=1, curve=((1, value),)))
    models = [d.model for d in strategy.decisions if d.model != SOBOL_SHARE]  # (1/3 default)
    assert models == ["sobol on initial design", "gp on epoch 1", "tpe on epoch 1"]
    assert "gp_max_trials=6" in strategy.decisions[-1].why


@pytest.mark.parametrize(("options", "relaxed"), [
    ({"model": "auto"}, True), ({"model": "tpe"}, False),
    ({"model": "auto", "relax_ints_wider_than": None}, False),
])
def test_bohb_asks_its_gp_for_wide_ints_as_floats_and_gives_the_trial_ints(options, relaxed):
    """With the GP in play every study holds a wide int as a float (the GP's acquisition
    optimiser then needs no search over its 497 values), and the config still holds ints."""
    space = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0},
                             "batch": {"type": "int", "low": 16, "high": 512, "log": True},
                             "layers": {"type": "int", "low": 1, "high": 5}})
    strategy = make_strategy("bohb", space, budget=12, seed=0, mode="min",
                             options={**options, "n_initial": 4, "min_points": 4})
    while (spec := strategy.ask()) is not None:
        assert type(spec.config["batch"]) is int and 16 <= spec.config["batch"] <= 512
        value = spec.config["x"] + spec.config["batch"] / 512
        strategy.tell(spec.trial_id, TrialResult(value, step=1, curve=((1, value),)))
    model = "gp" if options["model"] == "auto" else "tpe"
    assert any(d.model == f"{model} on epoch 1" for d in strategy.decisions)
    for study in (strategy._design, *strategy._studies.values()):
        for trial in study.trials:
            kinds = {name: type(d).__name__ for name, d in trial.distributions.items()}
            assert kinds["batch"] == ("FloatDistribution" if relaxed else "IntDistribution")
            assert kinds["layers"] == "IntDistribution"


# --- dehb ---------------------------------------------------------------------------------------

def test_dehb_breeds_from_the_highest_full_rung():
    """Parents come from epoch 3 once it has 5 values (from trial 13), so the children move to
    the last epoch's optimum (small x), not the first epoch's (large x)."""
    strategy = make_strategy("dehb", LINE, budget=40, seed=0, mode="max",
                             options={"n_initial": 12, "min_points": 5})
    configs = drive(strategy, lambda c, n: deceptive(c["x"], n), lambda i: 3 if i % 3 == 0 else 1)
    assert len(strategy.rungs.at(3)) == 14
    assert statistics.fmean(c["x"] for c in configs[-15:]) < 0.25


def best_on_a_sphere(kind: str, seed: int, options: dict | None = None) -> float:
    """The best of 60 evaluations of a 4-d sphere whose minimum is inside the box."""
    strategy = make_strategy(kind, BOX, budget=60, seed=seed, mode="min", options=options)
    while (spec := strategy.ask()) is not None:
        strategy.tell(spec.trial_id, TrialResult(
            sum((v - 0.3) ** 2 for v in spec.config.values())))
    return strategy.best_value


def test_published_dehb_beats_random_search_on_a_smooth_function():
    published = {"screen": 1, "mutation_factor": 0.5, "crossover_prob": 0.5}
    dehb = statistics.median(best_on_a_sphere("dehb", seed, published) for seed in range(5))
    random = statistics.median(best_on_a_sphere("random", seed) for seed in range(5))
    assert dehb < random / 2, (dehb, random)


def test_dehb_screening_asks_the_child_its_surrogate_prefers():
    """The defaults (32 children per ask, the RBF surrogate's favourite asked) end far closer than
    the same DE unscreened after 60 evaluations (measured 0.001 against 0.29: unscreened, the
    wide mutations pile on the bounds); without the surrogate's pick it is that DE again."""
    plain = statistics.median(best_on_a_sphere("dehb", seed, {"screen": 1}) for seed in range(5))
    screened = statistics.median(best_on_a_sphere("dehb", seed) for seed in range(5))
    assert screened < plain / 10, (screened, plain)


def test_dehb_screening_ranks_children_when_the_population_lies_on_a_plane():
    """Members on a hyperplane of the cube (here all on the bound of `c`, where clipped mutations
    land) make the thin-plate spline's linear term singular; the surrogate then ranks the
    children with the linear kernel instead of handing back DE's first child unranked."""
    space = Space.from_dict({name: {"type": "float", "low": 0.0, "high": 1.0} for name in "abc"})
    strategy = make_strategy("dehb", space, budget=50, seed=0, mode="max")
    told = []
    for trial, (a, b) in enumerate((a, b) for a in (0.0, 0.3, 0.6, 0.9) for b in (0.1, 0.5, 0.9)):
        strategy._vectors[trial] = [a, b, 1.0]  # every member on the bound of c
        told.append((-(a - 0.8) ** 2 - (b - 0.2) ** 2, trial))
    children = [[0.1, 0.9, 1.0], [0.5, 0.5, 1.0], [0.8, 0.2, 1.0]]
    assert strategy._screened(children, told) == [0.8, 0.2, 1.0]


@pytest.mark.parametrize(("options", "message"), [
    ({"mutation_factor": 0}, "dehb: option `mutation_factor` must be a number in (0.0, 2.0], but got mutation_factor=0"),
    ({"crossover_prob": 1.5}, "dehb: option `crossover_prob` must be a number in (0.0, 1.0]"),
    ({"min_points": 3}, "dehb: option `min_points` must be an int >= 4"),
    ({"screen": 0}, "dehb: option `screen` must be an int >= 1, but got screen=0"),
    ({"repeat_tolerance": 1}, ("dehb: option `repeat_tolerance` must be a number in [0, 1) or "
                              "null (never replace a repeat), but got repeat_tolerance=1")),
])
def test_dehb_refuses_bad_options_naming_them(options, message):
    with pytest.raises(StrategyError) as err:
        make_strategy("dehb", LINE, budget=5, seed=0, mode="max", options=options)
    assert message in str(err.value)


@pytest.mark.parametrize(("options", "distinct"), [
    ({"repeat_tolerance": 0.01}, 30),  # a child that repeats an unseen trial is not asked
    ({}, 6),  # the default: the surrogate's favourite, one config 19 times
])
def test_dehb_breeds_again_a_config_stopped_below_its_epoch_unless_told_not_to(options, distinct):
    """The parents are the 5 trials that reached epoch 3. A child that was stopped at epoch 1
    is in neither the population nor the surrogate, so without the rule it is bred and asked
    again (on LCBench with ASHA: one config 71 times in 1,000 trials)."""
    strategy = make_strategy("dehb", BOX, budget=40, seed=1, mode="min",
                             options={"n_initial": 5, "min_points": 5, **options})
    assert len(set(finished_then_stopped(strategy, n=30))) == distinct


def test_dehb_asks_the_design_when_every_child_repeats_an_unseen_trial():
    """On one parameter DE's children crowd together, and all of them may repeat a stopped
    trial: the next Sobol point is asked instead, and ``replaced`` says which trials."""
    strategy = make_strategy("dehb", LINE, budget=40, seed=0, mode="min", options={
        "n_initial": 5, "min_points": 5, "repeat_tolerance": 0.01})
    finished_then_stopped(strategy, n=30)
    assert strategy.replaced and min(strategy.replaced) >= 5
    unseen = strategy.rungs.missing(3, strategy._told)
    assert 4 not in unseen and 5 in unseen  # trial 4 reached epoch 3, trial 5 stopped at 1


# --- a real campaign ----------------------------------------------------------------------------

LC_SPACE = {k: lcbench.SPACE[k] for k in ("learning_rate", "momentum", "max_dropout", "num_layers")}


@pytest.mark.slow
def test_an_asha_campaign_with_an_epoch_budget_feeds_bohb_and_dehb_their_curves(
        ray_local, tmp_path):
    """Ray Tune's ASHA stops trials; each strategy is told the metric after every epoch its
    trial trained (the journal holds it, equal to MLflow's history of the run), the epoch
    budget holds, the journal replays into fresh strategies, and bohb logs its decisions."""
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = parse_campaign_config({
        "name": "lc-multifidelity", "trainable": "lcbench", "dataset": "lcbench_placeholder",
        "metric": "val_accuracy", "budget": {"epochs": 120, "max_epochs": 27},
        "fixed": {"task": "3945"}, "space": LC_SPACE,
        "scheduler": {"type": "asha", "grace_period": 1, "reduction_factor": 3},
        "strategies": {"bohb": {"n_initial": 4, "min_points": 4, "model": "tpe"},
                       "dehb": {"n_initial": 4}},
    })
    result = Campaign(config, tracking_uri=store, state_dir=tmp_path / "state").run()

    trials = result.trials
    assert set(trials["strategy"]) == {"bohb", "dehb"} and (trials["state"] == "PRUNED").any()
    for row in result.summary.itertuples():
        assert 27 < row.epochs <= 120 and row.trials > 120 // 27

    journal = next(Path(tmp_path / "state").rglob(JOURNAL_FILE))
    tells = [json.loads(line) for line in journal.read_text().splitlines() if '"tell"' in line]
    client = MlflowClient(store)
    by_key = {(r.strategy, r.trial_id): r.run_id for r in trials.itertuples()}
    for tell in tells:
        history = client.get_metric_history(by_key[(tell["strategy"], tell["trial"])],
                                            "val_accuracy")
        assert [v for _, v in tell["curve"]] == pytest.approx(
            [m.value for m in sorted(history, key=lambda m: m.step)])
        assert tell["curve"][-1][0] == tell.get("step", tell["curve"][-1][0])

    plan = plan_campaign(config)
    fresh = {name: plan.new_strategy(name) for name in ("bohb", "dehb")}
    _, events = read_journal(journal.parent)
    replay(events, fresh)  # every replayed ask equals the journaled one, or this raises
    assert fresh["bohb"].rungs.values and fresh["dehb"].rungs.values

    query = (f"tags.`sweepforge.kind` = 'strategy' and "
             f"tags.`sweepforge.campaign_id` = '{result.campaign_id}'")
    run = {r.info.run_name: r for r in client.search_runs([result.experiment_id], query)}["bohb"]
    with open(client.download_artifacts(run.info.run_id, "decisions.json")) as file:
        decisions = json.load(file)
    assert decisions[0]["model"] == "sobol on initial design"
    assert any(d["model"].startswith("tpe on epoch") for d in decisions[1:])

