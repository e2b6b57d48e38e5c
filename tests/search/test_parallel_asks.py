"""Asks that know about running trials (issue 20): with N workers a model-based strategy asks
while N - 1 trials still run, and should not propose the same config N times.

The check: after some told trials, 8 asks in a row without a tell (8 trials running at once).
Their smallest pairwise distance in the unit box is compared with that of the same strategy
where each ask's trial is told FAILED before the next ask. Optuna's GP and TPE ignore FAILED
trials, so that twin proposes as if running trials were invisible: the GP then asks the very
same config 8 times, and TPE draws its 8 configs near one another. (Checked by hand: with the
strategies changed to hide running trials from the sampler, these tests fail.) ``auto``'s rule
against repeating a failed trial's config is off in both (``repeat_tolerance: null``): here it
would mend the twin's repeats, which are what this check looks for.

The benchmark's smoke test runs ``benchmarks/parallel_asks.py`` in a tiny protocol.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sweepforge.search import TrialResult, TrialState, make_strategy
from sweepforge.spaces import Space

DIMS = 3
SPACE = Space.from_dict({f"x{i}": {"type": "float", "low": 0.0, "high": 1.0}
                         for i in range(DIMS)})
BUDGET = 40  # auto: 10 Sobol trials, then the GP


def bowl(config: dict) -> float:
    return sum((config[f"x{i}"] - 0.3) ** 2 for i in range(DIMS))


def asks_at_once(kind: str, seed: int, told: int, *, hide_running: bool, n: int = 8
                 ) -> np.ndarray:
    """``n`` asks after ``told`` told trials, none told in between (``hide_running``: each
    told FAILED right after it is asked); one row per ask, in the unit box."""
    options = {"repeat_tolerance": None} if kind == "auto" else None
    strategy = make_strategy(kind, SPACE, budget=BUDGET, seed=seed, mode="min", options=options)
    for _ in range(told):
        spec = strategy.ask()
        strategy.tell(spec.trial_id, TrialResult(value=bowl(spec.config)))
    points = []
    for _ in range(n):
        spec = strategy.ask()
        points.append([spec.config[f"x{i}"] for i in range(DIMS)])
        if hide_running:
            strategy.tell(spec.trial_id, TrialResult(value=None, state=TrialState.FAILED))
    return np.array(points)


def closest(points: np.ndarray) -> float:
    """The smallest distance between two of ``points``."""
    return min(float(np.linalg.norm(a - b)) for a, b in itertools.combinations(points, 2))


@pytest.mark.parametrize("seed", [0, 1])
def test_auto_gp_spreads_asks_made_while_trials_run(seed):
    # 15 told: the Sobol design (10 trials) and 5 GP trials; then 8 GP asks
    strategy = make_strategy("auto", SPACE, budget=BUDGET, seed=seed, mode="min")
    assert strategy.model_at(9) == "sobol" and strategy.model_at(15) == "gp"
    running = asks_at_once("auto", seed, told=15, hide_running=False)
    hidden = asks_at_once("auto", seed, told=15, hide_running=True)
    assert closest(hidden) < 0.001  # a GP blind to running trials asks one config 8 times
    assert closest(running) > 0.02  # q-batch logEI: 8 different configs (0.05 to 0.10 here)


def test_optuna_tpe_constant_liar_spreads_asks_made_while_trials_run():
    # 20 told (10 random startup trials, 10 TPE); TPE's draws differ anyway, so the liar's effect
    # is measured over 5 seeds: the closest two of 8 asks are about 3x farther apart with it
    running = [closest(asks_at_once("optuna", s, told=20, hide_running=False)) for s in range(5)]
    hidden = [closest(asks_at_once("optuna", s, told=20, hide_running=True)) for s in range(5)]
    assert np.mean(running) > 2 * np.mean(hidden)
    assert min(running) > 0.1


def test_the_benchmark_runs_end_to_end_in_a_tiny_protocol():
    from benchmarks import parallel_asks as bench
    from benchmarks import search_efficiency

    regrets = bench.main(["--quick", "--workers", "1,8"])
    assert set(regrets) == {(n, w) for n in bench.CONTESTANTS for w in (1, 8)}
    for values in regrets.values():
        assert values.shape == (1, 1, 12)  # tasks x seeds x evaluations
        assert ((values >= 0) & (values <= 1)).all()
        assert (np.diff(values, axis=2) <= 1e-12).all()  # best so far only improves
    # one worker is the plain ask/tell loop: the FIFO simulation, Optuna's own loop and
    # search_efficiency.py ask the same configs
    task = bench.shared_lcbench().tasks[0]
    assert np.array_equal(regrets[bench.PLAIN_FIFO, 1], regrets[bench.PLAIN_THREADS, 1])
    tpe, _ = bench.sweepforge_values("optuna_tpe", task, 0, 12, workers=1)
    assert np.array_equal(search_efficiency._best_so_far(tpe, 12),
                          search_efficiency.sweepforge_curve("optuna_tpe", task, 0, 12))


def test_fifo_keeps_n_trials_pending_and_tells_the_oldest_first():
    from benchmarks.parallel_asks import fifo

    asked, told = [], []

    def ask():
        asked.append(len(asked))
        return asked[-1]

    def tell(handle):
        told.append((handle, len(asked)))
        return float(handle)

    values, running = fifo(ask, tell, budget=6, workers=3)
    assert values == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    # trial k is told once k + 3 are asked (or all 6): 3 pending until the budget runs out
    assert told == [(0, 3), (1, 4), (2, 5), (3, 6), (4, 6), (5, 6)]
    assert running == pytest.approx((0 + 1 + 2 + 2 + 2 + 2) / 6)
