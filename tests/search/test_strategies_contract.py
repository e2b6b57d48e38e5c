"""The contract every strategy keeps, run against each of them (and each Optuna sampler).

A strategy is driven by a plain Python loop on a synthetic objective, over a space with a log
float, a log int, a stepped int, a categorical and a conditional parameter.
"""

from __future__ import annotations

import math
from typing import Any

import pytest

from sweepforge.search.strategies.base import Strategy, StrategyError, TrialResult, TrialState
from sweepforge.search.strategies.registry import make_strategy
from sweepforge.spaces import Space

SPACE = Space.from_dict(
    {
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "width": {"type": "int", "low": 8, "high": 256, "log": True},
        "depth": {"type": "int", "low": 1, "high": 9, "step": 2},
        "optimizer": ["sgd", "momentum", "adam"],
        "momentum": {
            "type": "float",
            "low": 0.5,
            "high": 0.99,
            "when": {"optimizer": ["momentum"]},
        },
        "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    }
)

BUDGET = 16

# (kind, options): every strategy and the cheap Optuna samplers; model-based ones start early.
# GP costs about a second per ask here, so test_optuna.py checks it on one short run instead.
CASES = {
    "grid": ("grid", {}),
    "random": ("random", {}),
    "optuna-tpe": ("optuna", {"sampler": "tpe", "n_startup_trials": 4}),
    "optuna-random": ("optuna", {"sampler": "random"}),
    "optuna-cmaes": ("optuna", {"sampler": "cmaes", "n_startup_trials": 2}),
    "evolutionary": ("evolutionary", {"population_size": 6}),
    "auto": ("auto", {"n_initial": 4}),  # (this space is conditional: Sobol, then TPE)
    "bohb": ("bohb", {"n_initial": 4, "min_points": 4}),
    "dehb": ("dehb", {"n_initial": 4}),
    "dehb-unscreened": ("dehb", {"n_initial": 4, "screen": 1}),
}


@pytest.fixture(params=list(CASES))
def case(request: pytest.FixtureRequest) -> tuple[str, dict[str, Any]]:
    return CASES[request.param]


def build(
    case: tuple[str, dict[str, Any]], *, seed: int = 0, budget: int = BUDGET, mode: str = "min"
) -> Strategy:
    kind, options = case
    return make_strategy(kind, SPACE, budget=budget, seed=seed, mode=mode, options=options)  # type: ignore[arg-type]


def objective(config: dict[str, Any]) -> float:
    """Deterministic and smooth enough to learn from; lower is better."""
    value = (math.log10(config["lr"]) + 2.5) ** 2 + (config["depth"] - 5) ** 2 / 16
    value += abs(math.log2(config["width"]) - 6) / 4 + config["dropout"]
    value += {"sgd": 0.3, "momentum": 0.0, "adam": 0.1}[config["optimizer"]]
    return value + (1 - config["momentum"] if "momentum" in config else 0.0)


def run(
    strategy: Strategy, result_for=lambda i, config: TrialResult(objective(config))
) -> list[dict]:
    configs = []
    while (spec := strategy.ask()) is not None:
        configs.append(spec.config)
        strategy.tell(spec.trial_id, result_for(spec.trial_id, spec.config))
    return configs


def test_every_config_is_valid_and_the_budget_is_exact(case):
    strategy = build(case)
    configs = run(strategy)
    for config in configs:
        SPACE.validate(config)
    assert len(configs) == BUDGET
    assert strategy.n_asked == BUDGET and strategy.finished
    assert strategy.ask() is None


def test_best_value_is_the_best_complete_result(case):
    strategy = build(case)
    configs = run(strategy)
    assert strategy.best_value == min(objective(c) for c in configs)
    assert (
        strategy.best_config is not None and objective(strategy.best_config) == strategy.best_value
    )


def test_same_seed_gives_the_same_configs(case):
    assert run(build(case, seed=3)) == run(build(case, seed=3))


def test_different_seeds_give_different_configs(case):
    assert run(build(case, seed=1)) != run(build(case, seed=2))


def test_failed_nan_and_inf_results_never_become_best_and_do_not_stop_the_search(case):
    def result_for(trial_id: int, config: dict[str, Any]) -> TrialResult:
        kind = trial_id % 4
        if kind == 0:
            return TrialResult(value=None, state=TrialState.FAILED)
        if kind == 1:
            return TrialResult(value=math.nan)
        if kind == 2:
            return TrialResult(value=-math.inf)  # would be "best" when minimising
        return TrialResult(value=objective(config))

    strategy = build(case)
    configs = run(strategy, result_for)
    for config in configs:
        SPACE.validate(config)
    assert len(configs) == BUDGET and strategy.finished
    complete = [objective(c) for i, c in enumerate(configs) if i % 4 == 3]
    assert strategy.best_value == min(complete)


def test_all_trials_failing_leaves_no_best(case):
    strategy = build(case)
    configs = run(strategy, lambda i, c: TrialResult(value=None, state=TrialState.FAILED))
    assert len(configs) == BUDGET and strategy.finished
    assert strategy.best_value is None and strategy.best_config is None


def test_pruned_results_are_accepted(case):
    def result_for(trial_id: int, config: dict[str, Any]) -> TrialResult:
        if trial_id % 2:
            return TrialResult(value=objective(config) + 1.0, state=TrialState.PRUNED)
        if trial_id % 3 == 0:
            return TrialResult(value=None, state=TrialState.PRUNED)
        return TrialResult(value=objective(config))

    strategy = build(case)
    configs = run(strategy, result_for)
    assert len(configs) == BUDGET and strategy.finished
    assert strategy.best_value == min(
        objective(c) for i, c in enumerate(configs) if i % 2 == 0 and i % 3 != 0
    )


def test_interleaved_asks_as_with_parallel_workers(case):
    strategy = build(case)
    configs, told = [], 0
    while True:
        batch = [spec for spec in (strategy.ask() for _ in range(4)) if spec is not None]
        if not batch:
            break
        assert strategy.n_pending == len(batch)
        for spec in reversed(batch):  # finish in another order than asked
            SPACE.validate(spec.config)
            configs.append(spec.config)
            strategy.tell(spec.trial_id, TrialResult(objective(spec.config)))
            told += 1
    assert told == BUDGET and strategy.finished


def test_pending_trials_may_outnumber_a_population_or_startup_phase(case):
    strategy = build(case)
    specs = [strategy.ask() for _ in range(BUDGET)]
    assert all(spec is not None for spec in specs) and strategy.ask() is None
    assert not strategy.finished
    for spec in specs:
        SPACE.validate(spec.config)
        strategy.tell(spec.trial_id, TrialResult(objective(spec.config)))
    assert strategy.finished


def test_unknown_and_repeated_trial_ids_are_rejected(case):
    strategy = build(case)
    spec = strategy.ask()
    with pytest.raises(StrategyError, match="never asked"):
        strategy.tell(spec.trial_id + 100, TrialResult(1.0))
    strategy.tell(spec.trial_id, TrialResult(1.0))
    with pytest.raises(StrategyError, match="already told"):
        strategy.tell(spec.trial_id, TrialResult(1.0))
    assert strategy.ask() is not None  # still usable


def test_maximising_keeps_the_largest_value(case):
    strategy = build(case, mode="max")
    configs = run(strategy)
    assert strategy.best_value == max(objective(c) for c in configs)
