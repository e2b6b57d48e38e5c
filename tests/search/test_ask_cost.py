"""A strategy whose asks keep workers idle is named in a warning, once."""

from __future__ import annotations

import re
import time
import warnings

import pytest

from sweepforge.search.strategies.random_search import RandomStrategy
from sweepforge.search.tune.ask_cost import AskCost, StrategyBottleneckWarning
from sweepforge.search.tune.searcher import CampaignSearcher
from sweepforge.spaces import Space

SPACE = Space.from_dict({"x": {"type": "float", "low": 0.0, "high": 1.0}})


class SlowRandom(RandomStrategy):
    """Random search that takes 20 ms per ask (a stand-in for TPE after thousands of trials)."""

    def _propose(self, trial_id):
        time.sleep(0.02)
        return super()._propose(trial_id)


def drive(strategy, trial_s: float, workers: int) -> list[warnings.WarningMessage]:
    searcher = CampaignSearcher({"slow": strategy}, metric="v", mode="max",
                                ask_cost=AskCost(workers=workers))
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for n in range(30):
            searcher.suggest(f"t{n}")
            searcher.on_trial_complete(f"t{n}", {"v": 0.5, "time_total_s": trial_s,
                                                 "training_iteration": 1})
    return [w for w in caught if issubclass(w.category, StrategyBottleneckWarning)]


def test_a_slow_strategy_against_short_trials_is_named_once():
    caught = drive(SlowRandom(SPACE, budget=30, seed=0), trial_s=0.05, workers=4)
    assert len(caught) == 1
    # the measured ask time depends on the machine's load: its shape is checked, and that it
    # is at least the 20 ms each ask sleeps; the trial time is the one reported
    found = re.fullmatch(
        r"strategy 'slow' takes (\d+\.\d\d) s per ask after \d+ trials, and trials take 0\.05 s: "
        r"with 4 trials at once, workers wait for it\. .*`evolutionary`, `random` .*",
        str(caught[0].message),
    )
    assert found, str(caught[0].message)
    assert float(found[1]) >= 0.02


# the ask times 0.02 s: a warning would need it 1.25 s (4 workers) or 1 s (1 worker) per ask
@pytest.mark.parametrize(("trial_s", "workers"), [(10.0, 4), (2.0, 1)])
def test_no_warning_while_workers_stay_busy(trial_s, workers):
    assert drive(SlowRandom(SPACE, budget=30, seed=0), trial_s, workers) == []
