"""EvolutionaryStrategy: steady-state breeding, a capped population with elites, reproducibility."""

from __future__ import annotations

import math
import random
import statistics

import numpy as np
import pytest

from sweepforge.search.strategies.base import StrategyError, TrialResult, TrialState
from sweepforge.search.strategies.evolutionary import EvolutionaryStrategy
from sweepforge.search.strategies.random_search import RandomStrategy
from sweepforge.spaces import Categorical, Float, Int, Space

CUBE = Space([Float(f"x{i}", 0.0, 1.0) for i in range(4)])
MIXED = Space(
    [Float("lr", 1e-4, 1e-1, log=True), Int("depth", 1, 6), Categorical("act", ("a", "b"))]
)


def sphere(config: dict) -> float:
    return sum((value - 0.3) ** 2 for value in config.values())


def minimise(strategy, objective=sphere) -> list[float]:
    values = []
    while (spec := strategy.ask()) is not None:
        values.append(objective(spec.config))
        strategy.tell(spec.trial_id, TrialResult(values[-1]))
    return values


def test_default_population_size_follows_the_budget():
    sizes = [EvolutionaryStrategy(CUBE, budget=b).population_size for b in (10, 60, 100, 400)]
    assert sizes == [8, 15, 25, 32]


def test_the_first_population_is_random_and_later_asks_are_bred_children():
    strategy = EvolutionaryStrategy(CUBE, budget=40, seed=0, mode="min", population_size=8)
    minimise(strategy)
    generations = [strategy.generation_of(i) for i in range(40)]
    assert generations[:8] == [0] * 8
    assert all(g >= 1 for g in generations[8:])
    assert statistics.mean(generations[-8:]) > statistics.mean(generations[8:16])
    assert max(generations) >= 3


def test_with_fewer_than_two_evaluated_individuals_it_keeps_asking_random_ones():
    strategy = EvolutionaryStrategy(CUBE, budget=20, seed=0, population_size=4)
    specs = [strategy.ask() for _ in range(10)]  # nothing told yet: all random
    assert [strategy.generation_of(s.trial_id) for s in specs] == [0] * 10
    for spec in specs[:2]:
        strategy.tell(spec.trial_id, TrialResult(1.0))
    assert strategy.generation_of(strategy.ask().trial_id) == 1


def test_the_population_is_capped_and_keeps_the_hall_of_fame():
    strategy = EvolutionaryStrategy(
        CUBE, budget=60, seed=0, mode="min", population_size=6, n_elites=2
    )
    while (spec := strategy.ask()) is not None:
        strategy.tell(spec.trial_id, TrialResult(sphere(spec.config)))
        assert len(strategy.population) <= 6
        population_ids = {ind.trial_id for ind in strategy.population}
        assert {elite.trial_id for elite in strategy.hall_of_fame} <= population_ids
    best = strategy.hall_of_fame[0]
    assert best.fitness.values == (1.0, strategy.best_value)
    assert CUBE.decode(best) == strategy.best_config
    assert min(ind.fitness.values[1] for ind in strategy.population) == strategy.best_value


def test_failed_and_nan_individuals_never_enter_the_population():
    strategy = EvolutionaryStrategy(CUBE, budget=30, seed=0, population_size=8)
    bad = set()
    while (spec := strategy.ask()) is not None:
        if spec.trial_id % 3 == 0:
            bad.add(spec.trial_id)
            result = (
                TrialResult(None, TrialState.FAILED) if spec.trial_id % 2 else TrialResult(math.nan)
            )
        else:
            result = TrialResult(sphere(spec.config))
        strategy.tell(spec.trial_id, result)
    assert not bad & {ind.trial_id for ind in strategy.population}


def test_pruned_individuals_rank_below_every_complete_one_and_never_become_elites():
    strategy = EvolutionaryStrategy(CUBE, budget=12, seed=0, mode="max", population_size=4)
    pruned = set()
    while (spec := strategy.ask()) is not None:
        if spec.trial_id % 2:
            pruned.add(spec.trial_id)  # a pruned value that would otherwise be the best
            strategy.tell(spec.trial_id, TrialResult(100.0, TrialState.PRUNED))
        else:
            strategy.tell(spec.trial_id, TrialResult(sphere(spec.config)))
    assert not pruned & {ind.trial_id for ind in strategy.population}
    assert not pruned & {elite.trial_id for elite in strategy.hall_of_fame}
    assert strategy.best_value < 100.0


def test_it_beats_random_search_on_a_sphere_with_60_evaluations():
    evolved, drawn = [], []
    for seed in range(10):
        evolved.append(min(minimise(EvolutionaryStrategy(CUBE, budget=60, seed=seed, mode="min"))))
        drawn.append(min(minimise(RandomStrategy(CUBE, budget=60, seed=seed, mode="min"))))
    assert statistics.mean(evolved) < 0.6 * statistics.mean(drawn)
    assert sum(e < d for e, d in zip(evolved, drawn, strict=True)) >= 7


def test_children_of_a_discrete_space_are_not_repeats():
    strategy = EvolutionaryStrategy(MIXED, budget=40, seed=0, population_size=8)
    configs = []
    while (spec := strategy.ask()) is not None:
        configs.append(repr(spec.config))
        strategy.tell(spec.trial_id, TrialResult(-spec.config["depth"]))
    assert len(set(configs)) >= 36


def test_the_callers_global_random_state_is_untouched_and_the_run_reproducible():
    random.seed(123)
    before = random.getstate()
    first = minimise(
        EvolutionaryStrategy(MIXED, budget=30, seed=5, population_size=6),
        lambda c: c["depth"] + math.log(c["lr"]),
    )
    assert random.getstate() == before
    random.random()  # the caller's own draws must not matter either
    second = minimise(
        EvolutionaryStrategy(MIXED, budget=30, seed=5, population_size=6),
        lambda c: c["depth"] + math.log(c["lr"]),
    )
    assert first == second


def test_generation_of_an_unknown_trial_is_an_error():
    with pytest.raises(StrategyError, match="never asked"):
        EvolutionaryStrategy(CUBE, budget=4).generation_of(3)


@pytest.mark.parametrize(
    ("option", "value", "rule"),
    [
        ("population_size", 1, "an int >= 2"),
        ("tournament_size", 0, "an int >= 1"),
        ("n_elites", 9, r"an int in \[1, 8\]"),
        ("crossover_prob", 1.5, r"a number in \[0.0, 1.0\]"),
        ("mutation_prob", "high", r"a number in \[0.0, 1.0\]"),
        ("mutation_eta", 0, "a finite number > 0.0"),
        ("crossover_eta", np.inf, "a finite number > 0.0"),
    ],
)
def test_bad_options_name_the_option_the_rule_and_the_value(option, value, rule):
    options = {"population_size": 8, option: value} if option == "n_elites" else {option: value}
    with pytest.raises(StrategyError, match=rf"`{option}` must be {rule}, but got {option}="):
        EvolutionaryStrategy(CUBE, budget=20, **options)


def test_elites_survive_in_a_small_discrete_space_full_of_repeats():
    tiny = Space([Categorical("c", ("a", "b", "c")), Int("n", 1, 2)])
    strategy = EvolutionaryStrategy(tiny, budget=40, seed=0, population_size=3, n_elites=1)
    while (spec := strategy.ask()) is not None:
        value = "abc".index(spec.config["c"]) + spec.config["n"]
        strategy.tell(spec.trial_id, TrialResult(value))
        assert strategy.hall_of_fame[0].trial_id in {ind.trial_id for ind in strategy.population}
        assert len(strategy.population) <= 3
    assert strategy.best_value == 4


# --- DEAP operators named in the campaign file (issue 20, part 4) ---------------------------
OPERATOR_SPACE = Space([Float("x", 0.0, 1.0), Float("y", -1.0, 1.0)])


def run_with(seed=0, **options):
    strategy = EvolutionaryStrategy(OPERATOR_SPACE, budget=40, seed=seed, mode="min",
                                    population_size=6, **options)
    asked = []
    while (spec := strategy.ask()) is not None:
        asked.append(spec.config)
        strategy.tell(spec.trial_id,
                      TrialResult((spec.config["x"] - 0.3) ** 2 + spec.config["y"] ** 2))
    return strategy, asked


def test_named_deap_operators_breed_inside_the_cube_and_deterministically():
    options = {"crossover": "cxBlend", "crossover_options": {"alpha": 0.5},
               "mutation": "mutGaussian", "mutation_options": {"mu": 0.0, "sigma": 0.3}}
    strategy, asked = run_with(**options)
    assert asked == run_with(**options)[1]
    assert asked != run_with()[1]  # (the default operators breed other children)
    genomes = [ind for ind in strategy.population]
    assert all(0.0 <= v <= 1.0 for ind in genomes for v in ind)  # blend and noise are clipped
    assert strategy.best_value < 0.05


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"crossover": "cxOrdered"}, "`crossover` must be one of \\['cxBlend'"),
        ({"mutation": "mutFlipBit"}, "`mutation` must be one of \\['mutGaussian'"),
        ({"crossover": "cxBlend"}, "cxBlend needs \\['alpha'\\] in `crossover_options`"),
        ({"mutation": "mutGaussian", "mutation_options": {"mu": 0, "sigma": 0.1, "scale": 2}},
         "mutGaussian has no argument 'scale'; it takes \\['mu', 'sigma', 'indpb'\\]"),
        ({"mutation": "mutGaussian", "mutation_options": {"mu": 0, "sigma": "wide"}},
         "mutation_options.sigma must be a finite number, got 'wide'"),
        ({"crossover_options": {"alpha": 0.5}}, "`crossover_options` applies to an operator named"),
        ({"crossover": "cxUniform", "crossover_options": [0.5]}, "must be a mapping"),
    ],
)
def test_a_bad_operator_or_argument_is_named(options, message):
    with pytest.raises(StrategyError, match=message):
        EvolutionaryStrategy(OPERATOR_SPACE, budget=10, **options)
