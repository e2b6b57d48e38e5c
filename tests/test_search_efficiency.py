"""The search-efficiency benchmark runs end to end in its quick mode and scores sensibly."""

from __future__ import annotations

import numpy as np

from benchmarks import search_efficiency as bench


def test_quick_mode_gives_a_regret_curve_per_strategy_in_0_1():
    regrets = bench.main(["--quick"])
    assert set(regrets) == {*bench.DEFAULT_STRATEGIES, bench.PLAIN_OPTUNA}
    for values in regrets.values():
        assert values.shape == (2, 1, 25)  # tasks x seeds x evaluations
        assert ((values >= 0) & (values <= 1)).all()
        assert (np.diff(values, axis=2) <= 1e-12).all()  # best so far only improves
    # the same sampler with the same seed: sweepforge's Optuna strategy is plain Optuna
    assert np.allclose(regrets["optuna_tpe"], regrets[bench.PLAIN_OPTUNA])


def test_regret_and_ranks():
    curve = np.array([0.5, 0.7, 0.9, 0.9])
    assert np.allclose(bench.regret(curve, best=0.9, worst=0.5), [1.0, 0.5, 0.0, 0.0])
    regrets = {"a": np.zeros((2, 1, 3)), "b": np.ones((2, 1, 3)), "c": np.zeros((2, 1, 3))}
    assert bench.mean_ranks(regrets, at=3) == {"a": 1.5, "b": 3.0, "c": 1.5}
    assert bench.evals_to_reach({"a": np.array([[[0.5, 0.2, 0.1]]])}, 0.2) == {"a": 2}


def test_the_interior_grid_never_takes_a_range_end_and_is_undone_after():
    from benchmarks import grid_interior
    from sweepforge.spaces import Space

    space = Space.from_dict({
        "lr": {"type": "float", "low": 1e-4, "high": 1e-1, "log": True},
        "dropout": {"type": "float", "low": 0.0, "high": 1.0},
        "units": {"type": "int", "low": 64, "high": 1024, "log": True},
    })
    ends = [space.grid_point(i, 3) for i in range(space.grid_size(3))]
    with grid_interior.interior_grid():
        inside = [space.grid_point(i, 3) for i in range(space.grid_size(3))]
    assert {p["dropout"] for p in ends} == {0.0, 0.5, 1.0}
    assert np.allclose(sorted({p["dropout"] for p in inside}), [1 / 6, 0.5, 5 / 6])
    assert np.allclose(sorted({p["lr"] for p in inside}), [10**-3.5, 10**-2.5, 10**-1.5])
    assert {p["units"] for p in inside} == {102, 256, 645}  # nearest ints to the midpoints
    assert [space.grid_point(i, 3) for i in range(space.grid_size(3))] == ends  # undone


def test_saved_runs_score_the_same_when_read_back(tmp_path):
    """--runs writes each run's curve as it ends; --from-runs scores them without running, so
    the full protocol can run in batches (seeds 0-2, then 3-4) and be scored as one."""
    runs = tmp_path / "runs.json"
    common = ["--tasks", "1", "--budget", "8", "--strategies", "random",
              "--reference-size", "500", "--plot", str(tmp_path / "p.png")]
    first = bench.main([*common, "--seeds", "1", "--runs", str(runs)])
    second = bench.main([*common, "--seeds", "1", "--first-seed", "1",
                         "--runs", str(tmp_path / "more.json")])
    merged = bench.main([*common, "--from-runs", str(runs), str(tmp_path / "more.json")])
    assert merged["random"].shape == (1, 2, 8)
    assert np.allclose(merged["random"][:, :1], first["random"])
    assert np.allclose(merged["random"][:, 1:], second["random"])


def test_an_empty_plot_path_means_no_plot(tmp_path, monkeypatch):
    """`--plot ""` draws nothing (it once wrote `.png` into the working directory)."""
    monkeypatch.chdir(tmp_path)
    regrets = bench.main(["--tasks", "1", "--seeds", "1", "--budget", "4", "--strategies",
                          "random", "--reference-size", "200", "--plot", ""])
    assert regrets["random"].shape == (1, 1, 4)
    assert list(tmp_path.iterdir()) == []
