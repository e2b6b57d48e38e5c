"""OptunaStrategy: the study sees every trial with the right state; samplers are as asked."""

from __future__ import annotations

import math

import optuna
import pytest
from optuna.trial import TrialState as OptunaState

from sweepforge.search.strategies.base import StrategyError, TrialResult, TrialState
from sweepforge.search.strategies.optuna_study import SAMPLERS, OptunaStrategy
from sweepforge.spaces import Categorical, Condition, Float, Int, Space

SPACE = Space(
    [
        Float("lr", 1e-4, 1e-1, log=True),
        Int("depth", 1, 4),
        Categorical("optimizer", ("sgd", "momentum")),
        Float("momentum", 0.5, 0.99, when=Condition("optimizer", ("momentum",))),
    ]
)


def test_every_result_reaches_the_study_with_its_state():
    strategy = OptunaStrategy(SPACE, budget=5, seed=0, mode="min", sampler="random")
    results = [
        TrialResult(1.5),
        TrialResult(None, TrialState.FAILED),
        TrialResult(math.nan),
        TrialResult(math.inf),
        TrialResult(0.25, TrialState.PRUNED),
    ]
    configs = []
    for result in results:
        spec = strategy.ask()
        configs.append(spec.config)
        strategy.tell(spec.trial_id, result)
    trials = strategy.study.trials
    assert [t.state for t in trials] == [
        OptunaState.COMPLETE,
        OptunaState.FAIL,
        OptunaState.FAIL,
        OptunaState.FAIL,
        OptunaState.FAIL,  # pruned: not a result the model learns from (next test)
    ]
    assert [t.value for t in trials] == [1.5, None, None, None, None]
    assert trials[-1].user_attrs == {"pruned_value": 0.25}
    assert [t.params for t in trials] == configs
    assert strategy.study.best_value == strategy.best_value == 1.5


def test_a_pruned_trial_keeps_its_epoch_and_value_but_teaches_tpe_nothing():
    """A trial a scheduler stopped is no result on the objective: TPE would rank it by its last
    epoch's value, which steers it towards configs that start fast (BENCHMARKS.md, "Early
    stopping"). So it reaches the study as FAIL, its epoch and value kept as user attributes,
    and Optuna's samplers, which fit on COMPLETE and PRUNED trials, see none of them."""
    strategy = OptunaStrategy(SPACE, budget=30, seed=0, sampler="tpe", n_startup_trials=3)
    for _ in range(20):
        strategy.tell(strategy.ask().trial_id, TrialResult(0.9, TrialState.PRUNED, step=1))
    strategy.tell(strategy.ask().trial_id, TrialResult(None, TrialState.PRUNED))
    trials = strategy.study.trials
    assert {t.state for t in trials} == {OptunaState.FAIL}
    assert trials[0].user_attrs == {"pruned_at_epoch": 1, "pruned_value": 0.9}
    assert trials[-1].user_attrs == {}
    assert strategy.study.get_trials(states=(OptunaState.COMPLETE, OptunaState.PRUNED)) == []
    assert strategy.best_value is None  # as before: a strategy's best is a finished trial's


@pytest.mark.parametrize(("mode", "direction"), [("max", "MAXIMIZE"), ("min", "MINIMIZE")])
def test_the_study_direction_follows_the_mode(mode, direction):
    strategy = OptunaStrategy(SPACE, budget=1, mode=mode)
    assert strategy.study.direction.name == direction


@pytest.mark.parametrize(
    ("sampler", "cls"),
    [
        ("tpe", optuna.samplers.TPESampler),
        ("gp", optuna.samplers.GPSampler),
        ("cmaes", optuna.samplers.CmaEsSampler),
        ("random", optuna.samplers.RandomSampler),
    ],
)
def test_the_sampler_option_picks_the_sampler(sampler, cls):
    assert type(OptunaStrategy(SPACE, budget=3, sampler=sampler).study.sampler) is cls


def test_tpe_runs_with_a_constant_liar_and_grouped_multivariate_model():
    sampler = OptunaStrategy(SPACE, budget=3).study.sampler
    assert sampler._constant_liar and sampler._multivariate and sampler._group
    assert OptunaStrategy(SPACE, budget=3, n_startup_trials=2).study.sampler._n_startup_trials == 2


def test_tpe_learns_after_its_startup_trials():
    strategy = OptunaStrategy(SPACE, budget=40, seed=0, mode="min", n_startup_trials=8)
    values = []
    while (spec := strategy.ask()) is not None:
        value = (math.log10(spec.config["lr"]) + 3) ** 2 + spec.config["depth"]
        values.append(value)
        strategy.tell(spec.trial_id, TrialResult(value))
    random_phase, model_phase = values[:8], values[-8:]
    assert sum(model_phase) / 8 < sum(random_phase) / 8


def test_gp_gives_valid_configs_and_takes_failures():
    # GP costs about a second per ask on a small CPU, so one short run.
    strategy = OptunaStrategy(SPACE, budget=4, seed=0, sampler="gp", n_startup_trials=2)
    for i in range(4):
        spec = strategy.ask()
        SPACE.validate(spec.config)
        result = TrialResult(None, TrialState.FAILED) if i == 1 else TrialResult(spec.config["lr"])
        strategy.tell(spec.trial_id, result)
    assert strategy.finished and len(strategy.study.trials) == 4


def test_unknown_sampler_lists_the_allowed_ones():
    with pytest.raises(
        StrategyError,
        match=r"`sampler` must be one of \['tpe', 'gp', 'cmaes', "
        r"'random', 'nsga2', 'nsga3'\], but got sampler='bayes'",
    ):
        OptunaStrategy(SPACE, budget=3, sampler="bayes")
    assert SAMPLERS == ("tpe", "gp", "cmaes", "random", "nsga2", "nsga3")


@pytest.mark.parametrize("bad", [-1, 2.0, "10", True])
def test_bad_n_startup_trials_are_rejected(bad):
    with pytest.raises(StrategyError, match="n_startup_trials"):
        OptunaStrategy(SPACE, budget=3, n_startup_trials=bad)


def test_n_startup_trials_does_not_apply_to_the_random_sampler():
    with pytest.raises(StrategyError, match="does not apply to sampler='random'"):
        OptunaStrategy(SPACE, budget=3, sampler="random", n_startup_trials=3)


# --- any Optuna sampler by its class name (issue 20, part 4) -------------------------------
def drive_named(sampler, options=None, seed=0, budget=6):
    strategy = OptunaStrategy(SPACE, budget=budget, seed=seed, sampler=sampler, options=options)
    asked = []
    while (spec := strategy.ask()) is not None:
        asked.append(spec.config)
        strategy.tell(spec.trial_id, TrialResult(value=float(len(asked))))
    return strategy, asked


def test_a_sampler_named_by_its_class_gets_its_options_and_the_campaign_s_seed():
    strategy, asked = drive_named("optuna.samplers.QMCSampler", {"qmc_type": "halton"})
    assert isinstance(strategy.study.sampler, optuna.samplers.QMCSampler)
    assert asked == drive_named("optuna.samplers.QMCSampler", {"qmc_type": "halton"})[1]
    assert asked != drive_named("optuna.samplers.QMCSampler", {"qmc_type": "sobol"})[1]
    assert asked != drive_named("optuna.samplers.QMCSampler", {"qmc_type": "halton"}, seed=1)[1]
    tpe, _ = drive_named("optuna.samplers.TPESampler", {"n_startup_trials": 2})
    assert isinstance(tpe.study.sampler, optuna.samplers.TPESampler)


@pytest.mark.parametrize(
    ("sampler", "options", "message"),
    [
        ("optuna.samplers.Nope", None, ("'optuna.samplers.Nope' is not an Optuna sampler class; "
                                        "Optuna's are \\['optuna.samplers.BruteForceSampler'")),
        ("optuna.samplers.BaseSampler", None, "is not an Optuna sampler class"),
        ("os.system", None, "sampler='os.system' is not one of Optuna's classes"),
        ("optuna.samplers.QMCSampler", {"scrambled": True},
         "QMCSampler has no option 'scrambled'; it takes \\['independent_sampler', 'qmc_type'"),
        ("optuna.samplers.QMCSampler", {"seed": 3}, "options.seed: the sampler is seeded with"),
        ("optuna.samplers.QMCSampler", {"qmc_type": "bogus"},
         "QMCSampler\\(.*\\) refused its options: .*qmc_type='bogus'"),
        ("optuna.samplers.QMCSampler", [1], "option `options` must be a mapping"),
        ("tpe", {"gamma": None}, "`options` applies to a sampler named by its class"),
    ],
)
def test_a_bad_sampler_class_or_option_is_named(sampler, options, message):
    with pytest.raises(StrategyError, match=message):
        OptunaStrategy(SPACE, budget=3, sampler=sampler, options=options)
