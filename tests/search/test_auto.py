"""The ``auto`` strategy: its choice of model by space and budget, its determinism and replay."""

from __future__ import annotations

import math

import pytest

from sweepforge.search.state.journal import Journal, read_journal, replay
from sweepforge.search.strategies.auto import AutoStrategy
from sweepforge.search.strategies.base import StrategyError, TrialResult, TrialState
from sweepforge.search.strategies.registry import make_strategy
from sweepforge.spaces import Space

NUMERIC = Space.from_dict({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0} for i in range(3)})
WIDE = Space.from_dict({
    "x": {"type": "float", "low": 0.0, "high": 1.0},
    "a": {"type": "categorical", "choices": ["p", "q"]},
    "b": {"type": "categorical", "choices": ["p", "q"]},
})
CONDITIONAL = Space.from_dict({
    "opt": {"type": "categorical", "choices": ["sgd", "momentum"]},
    "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"opt": ["momentum"]}},
    "lr": {"type": "float", "low": 1e-4, "high": 0.1, "log": True},
})


def bowl(config):
    return sum((v - 0.3) ** 2 for k, v in config.items() if isinstance(v, float))


def drive(strategy, n=None):
    asked = []
    while (spec := strategy.ask()) is not None and (n is None or len(asked) < n):
        asked.append(spec.config)
        strategy.tell(spec.trial_id, TrialResult(bowl(spec.config)))
    return asked


def models(strategy):
    return [(d.first, d.model) for d in strategy.decisions]


def test_a_small_numeric_space_gets_sobol_then_a_gp_then_tpe_past_gp_max_trials():
    strategy = AutoStrategy(NUMERIC, budget=300, seed=0, mode="min")
    assert models(strategy) == [(0, "sobol"), (10, "gp"), (100, "tpe")]
    assert strategy.model_at(9) == "sobol" and strategy.model_at(10) == "gp"
    assert strategy.model_at(250) == "tpe"
    assert "GP's ask grows" in strategy.decisions[-1].why
    assert models(AutoStrategy(NUMERIC, budget=8, seed=0)) == [(0, "sobol"), (2, "gp")]


@pytest.mark.parametrize(
    ("space", "directions", "why"),
    [
        (WIDE, None, "2 of 3 parameters are categorical"),
        (CONDITIONAL, None, "conditional parameters (momentum)"),
        (NUMERIC, ("min", "max"), "several objectives"),
    ],
)
def test_wide_conditional_or_multi_objective_searches_get_tpe_and_say_why(space, directions, why):
    strategy = make_strategy("auto", space, budget=40, seed=0, mode="min", directions=directions)
    assert models(strategy) == [(0, "sobol"), (10, "tpe")]
    assert why in strategy.decisions[-1].why


def test_the_gp_and_the_sobol_design_do_the_asking():
    """Sobol's first points are the scrambled sequence (not TPE's random start), and the GP's
    asks after them close in on the bowl's bottom faster than the design."""
    strategy = AutoStrategy(NUMERIC, budget=24, seed=0, mode="min")
    asked = drive(strategy)
    design, model = asked[:10], asked[10:]
    assert min(map(bowl, model)) < min(map(bowl, design))
    assert strategy.best_value < 0.01


def test_same_seed_same_asks():
    first = drive(AutoStrategy(NUMERIC, budget=8, seed=3))
    assert first == drive(AutoStrategy(NUMERIC, budget=8, seed=3))
    assert first != drive(AutoStrategy(NUMERIC, budget=8, seed=4))


def journal_then_replay(tmp_path, make, result_of, told):
    """Drives ``make()`` for ``told`` trials with a journal, replays the journal into a fresh
    ``make()``, and returns both (the replay must leave nothing pending)."""
    original = make()
    journal = Journal.create(tmp_path, campaign_id="c", name="auto", config={}, strategies=["a"])
    for _ in range(told):
        spec = original.ask()
        journal.ask("a", spec.trial_id, spec.config)
        result = result_of(spec)
        original.tell(spec.trial_id, result)
        journal.tell("a", spec.trial_id, result)
    journal.close()
    rebuilt = make()
    assert replay(read_journal(tmp_path)[1], {"a": rebuilt}) == {}
    return original, rebuilt


def test_resume_replays_an_auto_strategy(tmp_path):
    original, rebuilt = journal_then_replay(
        tmp_path, lambda: AutoStrategy(CONDITIONAL, budget=20, seed=1, mode="min"),
        lambda spec: TrialResult(math.log10(spec.config["lr"]) ** 2), told=14)
    assert [rebuilt.ask().config for _ in range(4)] == [original.ask().config for _ in range(4)]


def stopped(config):
    """A trial a scheduler stopped after its first epoch."""
    return TrialResult(bowl(config) + 1.0, TrialState.PRUNED, step=1)


def one_finished_then_stopped(strategy, n=19):
    """Trial 0 finishes; a scheduler stops every later one. Returns the configs asked after it."""
    first = strategy.ask()
    strategy.tell(first.trial_id, TrialResult(bowl(first.config)))
    asked = []
    for _ in range(n):
        spec = strategy.ask()
        asked.append(tuple(spec.config.values()))
        strategy.tell(spec.trial_id, stopped(spec.config))
    return asked


@pytest.mark.parametrize(("options", "distinct"), [
    ({}, 10),  # rule 4 (the default): each repeat goes to the design
    ({"min_complete": 5, "repeat_tolerance": None}, 10),  # rule 5: the design goes on
    ({"repeat_tolerance": None}, 1),  # neither: the loop
])
def test_with_one_finished_trial_the_gp_does_not_ask_a_stopped_config_again(options, distinct):
    """A scheduler stops all but the first trial. A GP asking at once, with no rule against
    it, sees one point and asks one config over and over, each stopped and so never seen by it
    (on LCBench with ASHA: one corner of the box about 90 times). Rule 4 (the default) sends
    each repeat to the design; rule 5 waits for 5 finished trials (the design goes on)."""
    strategy = AutoStrategy(NUMERIC, budget=40, seed=0, mode="min", **options)
    asked = one_finished_then_stopped(strategy)
    assert len(set(asked[9:])) == distinct  # trials 10 to 19, where the plan starts the GP


def test_a_repeat_of_a_stopped_config_goes_to_the_design_and_the_decisions_say_so():
    strategy = AutoStrategy(NUMERIC, budget=40, seed=0, mode="min")
    one_finished_then_stopped(strategy)
    replaced = strategy._auto.replaced
    assert replaced and replaced[0] > 10  # trial 10 is the GP's own first proposal
    assert strategy.model_at(10) == "gp"
    assert {strategy.model_at(n) for n in replaced} == {"sobol"}
    assert models(strategy) == [(0, "sobol"), (10, "gp"), (replaced[0], "sobol")]
    assert f"{len(replaced)} trial(s) so far" in strategy.decisions[-1].why


def test_only_trials_that_ended_without_a_value_are_remembered_as_repeats():
    strategy = AutoStrategy(NUMERIC, budget=40, seed=0, mode="min")
    finished, pruned, failed = (strategy.ask() for _ in range(3))
    strategy.tell(finished.trial_id, TrialResult(bowl(finished.config)))
    assert strategy._auto._failed == []
    strategy.tell(pruned.trial_id, stopped(pruned.config))
    strategy.tell(failed.trial_id, TrialResult(None, TrialState.FAILED))
    assert strategy._auto._failed == [pruned.config, failed.config]


def test_a_repeat_is_near_in_every_parameter():
    """Within 1 % of each numeric range (log ranges on their log scale), equal categoricals."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    from sweepforge.search.strategies.auto import AutoSampler

    space = {"lr": FloatDistribution(1e-4, 1.0, log=True), "x": FloatDistribution(0.0, 10.0),
             "opt": CategoricalDistribution(["sgd", "adam"])}
    sampler = AutoSampler([(0, None)], repeat_tolerance=0.01)
    assert not sampler._repeats_a_failure({"lr": 1e-3, "x": 5.0, "opt": "sgd"}, space)
    sampler._failed.append({"lr": 1e-3, "x": 5.0, "opt": "sgd"})
    assert sampler._repeats_a_failure({"lr": 1.05e-3, "x": 5.09, "opt": "sgd"}, space)
    assert not sampler._repeats_a_failure({"lr": 1.05e-3, "x": 5.09, "opt": "adam"}, space)
    assert not sampler._repeats_a_failure({"lr": 1.05e-3, "x": 5.2, "opt": "sgd"}, space)
    assert not sampler._repeats_a_failure({"lr": 1.2e-3, "x": 5.0, "opt": "sgd"}, space)  # log
    sampler.repeat_tolerance = None
    assert not sampler._repeats_a_failure({"lr": 1e-3, "x": 5.0, "opt": "sgd"}, space)


def test_the_model_starts_once_enough_trials_have_finished_and_the_decisions_say_so():
    strategy = AutoStrategy(NUMERIC, budget=40, seed=0, mode="min", min_complete=5)
    finished = 0
    while finished < 5:  # every third trial finishes; the others are stopped early
        spec = strategy.ask()
        if spec.trial_id % 3 == 0:
            strategy.tell(spec.trial_id, TrialResult(bowl(spec.config)))
            finished += 1
        else:
            strategy.tell(spec.trial_id, stopped(spec.config))
    assert spec.trial_id == 12  # the 5th finished: trials 10 to 12 were the design's
    assert [strategy.model_at(n) for n in (9, 10, 12, 13)] == ["sobol"] * 3 + ["gp"]
    assert models(strategy) == [(0, "sobol"), (10, "gp"), (10, "sobol")]
    strategy.ask()
    assert models(strategy) == [(0, "sobol"), (10, "gp"), (10, "sobol"), (13, "gp")]
    assert "fewer than min_complete=5 trials have finished" in strategy.decisions[2].why
    assert strategy.decisions[3].why == "5 trials have finished"


def test_trials_still_running_do_not_hold_the_model_back():
    """8 workers: when trial 10 is asked only 3 have finished, and none has failed. The GP
    sees the 7 running ones (q-batch expected improvement) and will see their results."""
    strategy = AutoStrategy(NUMERIC, budget=40, seed=0, mode="min", min_complete=5)
    running = [strategy.ask() for _ in range(10)]
    for spec in running[:3]:
        strategy.tell(spec.trial_id, TrialResult(bowl(spec.config)))
    assert strategy.ask().trial_id == 10 and strategy.model_at(10) == "gp"
    assert models(strategy) == [(0, "sobol"), (10, "gp")]


def test_resume_replays_the_repeats_sent_to_the_design(tmp_path):
    original, rebuilt = journal_then_replay(
        tmp_path, lambda: AutoStrategy(NUMERIC, budget=40, seed=2, mode="min"),
        lambda spec: (TrialResult(bowl(spec.config)) if spec.trial_id == 0
                      else stopped(spec.config)), told=20)
    assert original._auto.replaced  # a replacement was replayed
    assert rebuilt._auto.replaced == original._auto.replaced
    assert rebuilt.decisions == original.decisions
    assert [rebuilt.ask().config for _ in range(4)] == [original.ask().config for _ in range(4)]


def test_resume_replays_the_wait_for_finished_trials(tmp_path):
    original, rebuilt = journal_then_replay(
        tmp_path, lambda: AutoStrategy(NUMERIC, budget=40, seed=2, mode="min", min_complete=5),
        lambda spec: (TrialResult(bowl(spec.config)) if spec.trial_id % 3 == 0
                      else stopped(spec.config)), told=16)
    assert [rebuilt.ask().config for _ in range(4)] == [original.ask().config for _ in range(4)]
    assert rebuilt.decisions == original.decisions
    assert any("the design goes on" in d.why for d in original.decisions)  # a hold was replayed


@pytest.mark.parametrize(
    ("options", "message"),
    [({"n_initial": -1}, "`n_initial` must be an int >= 0"),
     ({"gp_max_trials": 1.5}, "`gp_max_trials` must be an int >= 0"),
     ({"min_complete": -1}, "`min_complete` must be an int >= 0"),
     ({"relax_ints_wider_than": 1.5}, "`relax_ints_wider_than` must be an int >= 0 or null"),
     ({"repeat_tolerance": 1.5}, r"`repeat_tolerance` must be a number in \[0, 1\) or null"),
     ({"sampler": "tpe"}, "strategy 'auto' has no option 'sampler'")],
)
def test_bad_options_are_named(options, message):
    with pytest.raises(StrategyError, match=message):
        make_strategy("auto", NUMERIC, budget=10, seed=0, mode="max", options=options)


WIDE_INTS = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0},
                             "batch": {"type": "int", "low": 16, "high": 512, "log": True},
                             "layers": {"type": "int", "low": 1, "high": 5}})


@pytest.mark.parametrize(("space", "options", "relaxed"), [
    (WIDE_INTS, {}, True),
    (WIDE_INTS, {"relax_ints_wider_than": None}, False),
    (WIDE_INTS, {"gp_max_params": 1}, False),  # TPE's plan: nothing to relax for
])
def test_a_gp_plan_asks_wide_ints_as_floats_in_every_trial_and_configs_hold_ints(
        space, options, relaxed):
    """Sobol, GP and TPE trials alike hold a wide int as a float when the plan has a GP (a
    parameter whose distribution changed between trials would drop out of the models'
    search space), and the configs hold ints within the bounds; narrow ints stay ints."""
    strategy = make_strategy("auto", space, budget=14, seed=0, mode="min",
                             options={"n_initial": 4, "gp_max_trials": 9, **options})
    while (spec := strategy.ask()) is not None:
        assert type(spec.config["batch"]) is int and 16 <= spec.config["batch"] <= 512
        strategy.tell(spec.trial_id, TrialResult(spec.config["x"] + spec.config["batch"] / 512))
    assert {d.model for d in strategy.decisions} == (
        {"sobol", "gp", "tpe"} if "gp_max_params" not in options else {"sobol", "tpe"})
    for trial in strategy.study.trials:
        kinds = {name: type(d).__name__ for name, d in trial.distributions.items()}
        assert kinds["batch"] == ("FloatDistribution" if relaxed else "IntDistribution")
        assert kinds["layers"] == "IntDistribution"
    assert strategy.best_value < 0.2  # the models still find the small batches
