"""make_strategy: names, options and their errors, checked before anything runs."""

from __future__ import annotations

import pytest

from sweepforge.search.strategies.auto import AutoStrategy
from sweepforge.search.strategies.base import Strategy, StrategyError
from sweepforge.search.strategies.bohb import BohbStrategy
from sweepforge.search.strategies.dehb import DehbStrategy
from sweepforge.search.strategies.evolutionary import EvolutionaryStrategy
from sweepforge.search.strategies.grid import GridStrategy
from sweepforge.search.strategies.optuna_study import OptunaStrategy
from sweepforge.search.strategies.random_search import RandomStrategy
from sweepforge.search.strategies.registry import (
    STRATEGIES,
    make_strategy,
    register_strategy,
    strategy_options,
)
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
    assert {
        "grid": GridStrategy,
        "random": RandomStrategy,
        "optuna": OptunaStrategy,
        "evolutionary": EvolutionaryStrategy,
        "auto": AutoStrategy,
        "bohb": BohbStrategy,
        "dehb": DehbStrategy,
    } == STRATEGIES
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
    assert strategy_options(OptunaStrategy) == {"sampler": "tpe", "n_startup_trials": None,
                                                "options": None}
    assert set(strategy_options(EvolutionaryStrategy)) == {
        "population_size",
        "tournament_size",
        "crossover_prob",
        "crossover_eta",
        "mutation_prob",
        "mutation_eta",
        "n_elites",
        "crossover",
        "crossover_options",
        "mutation",
        "mutation_options",
    }


def test_an_unknown_kind_lists_the_valid_names_and_a_close_match():
    with pytest.raises(
        StrategyError,
        match=r"unknown strategy 'gird' \(did you mean 'grid'\?\); "
        r"valid strategies are \['auto', 'bohb', 'dehb', 'evolutionary', 'grid', "
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
            (r"`sampler` must be one of \['tpe', 'gp', 'cmaes', 'random', 'nsga2', 'nsga3'\], "
             r"but got sampler='bo'"),
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


# --- register_strategy: the registry is open ---------------------------------------------------

class LowCorner(Strategy):
    """A user's strategy: every trial at the low end of each range (tests only)."""

    name = "low_corner_test"

    def __init__(self, space, *, budget, seed=0, mode="max", shift: float = 0.0):
        super().__init__(space, budget=budget, seed=seed, mode=mode)
        self.shift = shift

    def _propose(self, trial_id):
        return {"x": 0.0 + self.shift}


@pytest.fixture
def low_corner():
    register_strategy(LowCorner)
    yield LowCorner
    del STRATEGIES[LowCorner.name]


def test_a_registered_strategy_is_made_by_name_with_its_options(low_corner):
    strategy = make("low_corner_test", {"shift": 0.25})
    assert isinstance(strategy, LowCorner) and strategy.ask().config == {"x": 0.25}
    with pytest.raises(StrategyError, match=r"its options are \['shift'\]"):
        make("low_corner_test", {"shfit": 1})


def test_a_registered_strategy_is_planned_from_a_campaign_file(low_corner):
    from sweepforge.search.config import parse_campaign_config
    from sweepforge.search.plan import plan_campaign
    from tests.conftest import small_campaign

    config = parse_campaign_config(small_campaign(strategies={"corner": {"kind": "low_corner_test"}}))
    assert isinstance(plan_campaign(config).new_strategy("corner"), LowCorner)


@pytest.mark.parametrize(("cls", "message"), [
    (type("Nameless", (RandomStrategy,), {"name": "Bad Name"}), "must be lower-case"),
    (type("Clash", (RandomStrategy,), {"name": "grid"}), "the name 'grid' is taken by"),
    (dict, "is not a subclass of Strategy"),
])
def test_register_strategy_refuses_a_bad_class(cls, message):
    with pytest.raises(StrategyError, match=message):
        register_strategy(cls)
    assert STRATEGIES["grid"] is GridStrategy
