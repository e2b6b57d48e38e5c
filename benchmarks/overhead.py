"""Orchestration overhead: how much of the machine a search tool wastes around short trials.

Trials that only sleep, run on 2 CPUs (2 at a time), so the ideal wall time is
``trials * seconds / 2``; efficiency = ideal / measured wall time. In one process, one after
another, each repetition runs:

* ``sweepforge``: the full stack, a campaign with one random strategy on Ray workers, every trial
  logged to MLflow (a SQLite store in a temporary folder, its tables made before the clock
  starts: once per store, as a user's campaigns share one), its journal written;
* ``ray_tune``: a plain Ray Tune ``Tuner`` with its defaults (a new worker per trial);
* ``ray_tune_reuse``: the same with ``reuse_actors=True``;
* ``optuna``: a plain Optuna study, ``n_jobs=2`` (threads in this process).

Each run gets a fresh local Ray, started the way that tool's user would start it (plain
``ray.init`` for plain Ray Tune; sweepforge's own options for sweepforge, as ``sweepforge run``
does: Ray's idle workers import Ray Tune as they start) and left 5 s to finish starting before
the clock starts (on 2 CPUs, Ray's booting processes would slow the first trials). One Ray shared
by every run made the order matter: the first campaign in a Ray session takes Ray's idle worker
processes for its trials, and later ones find none. sweepforge also sets a few Ray Tune
environment variables (no result files, no Tune SIGINT handler); they are put back after each
sweepforge run so the plain Ray Tune runs keep Ray's defaults.

    python benchmarks/overhead.py                         # 100 trials of 1 s, 3 repetitions
    python benchmarks/overhead.py --trials 20 --seconds 10 --repeats 2
    python benchmarks/overhead.py --quick                 # a few short trials: checks it runs
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks import sleep_trainable  # noqa: F401  registers the "sleep" trainable

CPUS = 2
FRESH_STORE = False  # --fresh-store: time the creation of MLflow's tables too
TOOLS = ("sweepforge", "ray_tune", "ray_tune_reuse", "optuna")
SETTLE_S = 5.0  # after a fresh Ray starts, before the clock: its agents and idle workers boot


def sweepforge_campaign(trials: int, seconds: float, folder: str) -> float:
    """Wall seconds of a sweepforge campaign of ``trials`` sleeping trials."""
    from sweepforge.search import Campaign
    from sweepforge.search.config import parse_campaign_config

    config = parse_campaign_config({
        "name": "overhead", "trainable": "sleep", "dataset": "iris", "metric": "val_score",
        "budget": {"trials": trials, "max_epochs": 1}, "resources": {"cpu": 1},
        "fixed": {"seconds": seconds}, "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "strategies": {"random": {}},
    })
    uri = f"sqlite:///{folder}/mlflow.db"
    # The store is made first, untimed: MLflow creates its tables once per store (3-7 s here),
    # and a user's campaigns share one store. `--fresh-store` times it too.
    if not FRESH_STORE:
        from mlflow.tracking import MlflowClient

        MlflowClient(uri).search_experiments()
    campaign = Campaign(config, tracking_uri=uri, state_dir=f"{folder}/state")
    with _environment_restored():
        start = time.perf_counter()
        result = campaign.run()
        wall = time.perf_counter() - start
    assert (result.trials["state"] == "COMPLETE").all() and len(result.trials) == trials
    return wall


def ray_tune(trials: int, seconds: float, folder: str, *, reuse_actors: bool) -> float:
    """Wall seconds of a plain Ray Tune run, written the way its documentation shows."""
    from ray import tune

    def objective(config: dict) -> None:
        time.sleep(seconds)
        tune.report({"score": config["x"]})

    tuner = tune.Tuner(
        tune.with_resources(objective, {"cpu": 1}),
        param_space={"x": tune.uniform(0.0, 1.0)},
        tune_config=tune.TuneConfig(num_samples=trials, reuse_actors=reuse_actors,
                                    metric="score", mode="max"),
        run_config=tune.RunConfig(storage_path=folder, verbose=0),
    )
    start = time.perf_counter()
    results = tuner.fit()
    wall = time.perf_counter() - start
    assert len(results) == trials and not results.errors
    return wall


def optuna_threads(trials: int, seconds: float, folder: str) -> float:
    """Wall seconds of a plain Optuna study with two threads."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)

    def objective(trial: optuna.Trial) -> float:
        x = trial.suggest_float("x", 0.0, 1.0)
        time.sleep(seconds)
        return x

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=0))
    start = time.perf_counter()
    study.optimize(objective, n_trials=trials, n_jobs=CPUS)
    return time.perf_counter() - start


RUNNERS: dict[str, Callable[[int, float, str], float]] = {
    "sweepforge": sweepforge_campaign,
    "ray_tune": lambda n, s, d: ray_tune(n, s, d, reuse_actors=False),
    "ray_tune_reuse": lambda n, s, d: ray_tune(n, s, d, reuse_actors=True),
    "optuna": optuna_threads,
}


@contextlib.contextmanager
def _environment_restored() -> Iterator[None]:
    saved = dict(os.environ)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def measure(trials: int, seconds: float, repeats: int, tools: tuple[str, ...]) -> dict[str, list[float]]:
    """Wall times per tool; the order of the tools rotates between repetitions."""
    import ray

    from sweepforge.search.tune.ray_setup import local_ray_options

    walls: dict[str, list[float]] = {tool: [] for tool in tools}
    try:
        for repeat in range(repeats):
            order = tools[repeat % len(tools):] + tools[:repeat % len(tools)]
            for tool in order:
                ray.shutdown()
                if tool != "optuna":  # a fresh Ray, as this tool's user would start it
                    ray.init(num_cpus=CPUS, include_dashboard=False, log_to_driver=False,
                             logging_level=logging.WARNING,
                             **(local_ray_options() if tool == "sweepforge" else {}))
                    time.sleep(SETTLE_S)  # Ray's own processes finish starting, off the clock
                with tempfile.TemporaryDirectory(prefix=f"overhead-{tool}-") as folder:
                    wall = RUNNERS[tool](trials, seconds, folder)
                walls[tool].append(wall)
                print(f"  repeat {repeat + 1}, {tool}: {wall:.1f} s "
                      f"(efficiency {ideal_wall(trials, seconds) / wall:.3f}; load {_load()})",
                      flush=True)
    finally:
        ray.shutdown()
    return walls


def ideal_wall(trials: int, seconds: float) -> float:
    """All trials back to back on the 2 CPUs, nothing lost."""
    return trials * seconds / CPUS


def table(walls: dict[str, list[float]], trials: int, seconds: float) -> str:
    ideal = ideal_wall(trials, seconds)
    lines = [f"{trials} trials of {seconds:g} s on {CPUS} CPUs: ideal wall time {ideal:.0f} s",
             "", "| tool | median wall (s) | efficiency (ideal / wall) | lost per trial (s) | runs |",
             "|---|---:|---:|---:|---:|"]
    for tool, values in walls.items():
        median = statistics.median(values)
        lost = (median - ideal) * CPUS / trials
        lines.append(f"| {tool} | {median:.1f} | {ideal / median:.3f} | {lost:.3f} | "
                     + ", ".join(f"{v:.1f}" for v in values) + " |")
    return "\n".join(lines)


def _load() -> str:
    return f"{os.getloadavg()[0]:.2f}"


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset")
    parser.add_argument("--quick", action="store_true", help="6 trials of 0.2 s, once")
    parser.add_argument("--fresh-store", action="store_true",
                        help="sweepforge starts on an empty MLflow store (it creates the tables)")
    args = parser.parse_args(argv)
    global FRESH_STORE
    FRESH_STORE = args.fresh_store
    if args.quick:
        args.trials, args.seconds, args.repeats = 6, 0.2, 1
    tools = tuple(t for t in args.tools.split(",") if t)
    unknown = set(tools) - set(TOOLS)
    if unknown:
        parser.error(f"--tools: unknown {sorted(unknown)}; choose from {', '.join(TOOLS)}")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load {_load()}", flush=True)
    walls = measure(args.trials, args.seconds, args.repeats, tools)
    print(table(walls, args.trials, args.seconds))
    return walls


if __name__ == "__main__":
    main()
