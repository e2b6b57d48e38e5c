"""RandomStrategy: independent seeded draws from the space, results ignored."""

from __future__ import annotations

import numpy as np

from sweepforge.search.strategies.base import TrialResult
from sweepforge.search.strategies.random_search import RandomStrategy
from sweepforge.spaces import Categorical, Float, Int, Space

SPACE = Space(
    [Float("lr", 1e-4, 1e-1, log=True), Int("depth", 1, 4), Categorical("act", ("relu", "tanh"))]
)


def test_configs_are_the_space_samples_of_a_generator_seeded_with_seed():
    strategy = RandomStrategy(SPACE, budget=5, seed=7)
    rng = np.random.default_rng(7)
    for _ in range(5):
        assert strategy.ask().config == SPACE.sample(rng)


def test_results_do_not_change_what_comes_next():
    told, untold = RandomStrategy(SPACE, budget=6, seed=1), RandomStrategy(SPACE, budget=6, seed=1)
    for _ in range(6):
        spec = told.ask()
        told.tell(spec.trial_id, TrialResult(float(spec.trial_id)))
        assert spec.config == untold.ask().config


def test_draws_cover_every_value_and_the_log_range():
    strategy = RandomStrategy(SPACE, budget=200, seed=0)
    configs = [strategy.ask().config for _ in range(200)]
    assert {c["depth"] for c in configs} == {1, 2, 3, 4}
    assert {c["act"] for c in configs} == {"relu", "tanh"}
    decades = np.floor(np.log10([c["lr"] for c in configs]))
    assert set(decades) == {-4.0, -3.0, -2.0}  # log-uniform: each decade drawn
