"""The multi-objective benchmark runs end to end on a small case and scores sensibly."""

from __future__ import annotations

import numpy as np

from benchmarks import multi_objective as bench
from sweepforge.search.strategies.pareto import hypervolume


def test_a_small_run_gives_hypervolume_regrets_in_0_1_for_every_contestant():
    names = [n for n in [*bench.STRATEGIES, *bench.PLAIN_OPTUNA] if n != bench.GP]
    runs = bench.run(names, ["3945"], [0], [10, 20], reference_size=2000, cache=False)
    # grid and evolutionary run once per budget, the others once at the largest
    assert {(n, b) for n, _, _, b in runs} == {
        *((n, 20) for n in names), *((n, 10) for n in bench.PER_BUDGET)}
    for (_name, _task, _seed, budget), (curve, seconds) in runs.items():
        assert curve.shape == (budget,)
        assert ((curve >= 0) & (curve <= 1)).all()
        assert (np.diff(curve) <= 1e-12).all()  # a front only grows
        assert seconds > 0
    table = bench.summary(runs, names, ["3945"], [0], [10, 20])
    for name in ("optuna_nsga2", "plain_optuna_nsga2"):
        assert table[name]["regret"][20] < 1  # found some volume
    # the same sampler with the same seed: sweepforge's NSGA-II strategy is plain NSGA-II
    assert np.array_equal(runs["optuna_nsga2", "3945", 0, 20][0],
                          runs["plain_optuna_nsga2", "3945", 0, 20][0])
    assert bench.regret_at(runs, "optuna_nsga2", "3945", 0, 10) == \
        runs["optuna_nsga2", "3945", 0, 20][0][9]


def test_regret_curve_is_the_missing_share_of_the_best_known_hypervolume():
    ref = np.array([0.0, 10.0])  # accuracy (max), time (min)
    best = hypervolume([[1.0, 0.0]], bench.DIRECTIONS, ref)  # 10
    points = np.array([[0.5, 5.0], [0.2, 8.0], [1.0, 5.0], [2.0, 0.0]])
    curve = bench.regret_curve(points, ref, best, budget=5)
    # 2.5 of 10, still 2.5 (dominated), then 5 of 10, then beyond the best known (clipped)
    assert np.allclose(curve, [0.75, 0.75, 0.5, 0.0, 0.0])


def test_the_gp_subset_and_per_budget_plan():
    jobs = bench.plan(["optuna_gp", "random", "evolutionary"], ["1", "2"], [0, 1], [100, 200],
                      gp=(1, 1, 100))
    assert [j for j in jobs if j[0] == "optuna_gp"] == [("optuna_gp", "1", 0, 100)]
    assert jobs[0][0] == "optuna_gp"  # the slowest first
    assert sorted(j[3] for j in jobs if j[0] == "evolutionary") == [100] * 4 + [200] * 4
    assert {j[3] for j in jobs if j[0] == "random"} == {200}
