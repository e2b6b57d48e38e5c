"""make_strategy: names, options and their errors, checked before anything runs."""

from __future__ import annotations

import pytest
from sweepforge.search.strategies.evolutionary import EvolutionaryStrategy
from sweepforge.search.strategies.grid import GridStrategy
from sweepforge.search.strategies.optuna_study import OptunaStrategy
from sweepforge.search.strategies.random_search import RandomStrategy
from sweepforge.search.strategies.base import StrategyError
from sweepforge.search.strategies.registry import STRATEGIES, make_strategy, strategy_options
from sweepforge.spaces import Float, Space

SPACE = Space([Float("x", 0.0, 1.0)])


def make(kind, options=None, **kw):
    return make_strategy(
        kind,
        SPACE,
        budget=kw.get("budget", 10),
        seed=kw.get("seed", 3),
        mode=kw.get("mode", "min"),
        options=options,
    )


def test_every_strategy_is_registered_under_its_campaign_name():
    assert STRATEGIES == {
        "grid": GridStrategy,
        "random": RandomStrategy,
        "optuna": OptunaStrategy,
        "evolutionary": EvolutionaryStrategy,
    }
    for name, cls in STRATEGIES.items():
        assert cls.name == name


@pytest.mark.parametrize("kind", sorted(STRATEGIES))
def test_the_campaign_settings_reach_the_strategy(kind):
    strategy = make(kind, budget=7, seed=3, mode="min")
    assert (type(strategy), strategy.budget, strategy.seed, strategy.mode) == (
        STRATEGIES[kind],
        7,
        3,
        "min",
    )


def test_options_reach_the_strategy():
    assert make("grid", {"levels": 4}).levels == 4
    assert make("optuna", {"sampler": "random"}).sampler_name == "random"
    evolutionary = make("evolutionary", {"population_size": 5, "tournament_size": 2})
    assert (evolutionary.population_size, evolutionary.tournament_size) == (5, 2)


def test_options_are_the_keyword_parameters_with_their_defaults():
    assert strategy_options(RandomStrategy) == {}
    assert strategy_options(GridStrategy) == {"levels": None}
    assert strategy_options(OptunaStrategy) == {"sampler": "tpe", "n_startup_trials": None}
    assert set(strategy_options(EvolutionaryStrategy)) == {
        "population_size",
        "tournament_size",
        "crossover_prob",
        "crossover_eta",
        "mutation_prob",
        "mutation_eta",
        "n_elites",
    }


def test_an_unknown_kind_lists_the_valid_names_and_a_close_match():
    with pytest.raises(
        StrategyError,
        match=r"unknown strategy 'gird' \(did you mean 'grid'\?\); "
        r"valid strategies are \['evolutionary', 'grid', "
        r"'optuna', 'random'\]",
    ):
        make("gird")
    with pytest.raises(StrategyError, match=r"unknown strategy 'hyperband'; valid strategies"):
        make("hyperband")


def test_an_unknown_option_names_the_option_the_strategy_and_its_options():
    with pytest.raises(
        StrategyError,
        match=r"strategy 'grid' has no option 'level' \(did you mean "
        r"'levels'\?\); its options are \['levels'\]",
    ):
        make("grid", {"level": 3})
    with pytest.raises(StrategyError, match=r"strategy 'random' has no option 'seed'.*none"):
        make("random", {"seed": 1})  # the seed is the campaign's, not an option


@pytest.mark.parametrize(
    ("kind", "options", "message"),
    [
        ("grid", {"levels": 0}, r"`levels` must be an int >= 1 or None .*levels=0"),
        (
            "optuna",
            {"sampler": "bo"},
            r"`sampler` must be one of \['tpe', 'gp', 'cmaes', 'random'\], but got sampler='bo'",
        ),
        (
            "evolutionary",
            {"crossover_prob": 2},
            r"`crossover_prob` must be a number in \[0.0, 1.0\], but got crossover_prob=2",
        ),
    ],
)
def test_bad_option_values_name_the_option_the_value_and_what_is_allowed(kind, options, message):
    with pytest.raises(StrategyError, match=message):
        make(kind, options)
