"""Strategy cost: how long one ``ask()`` and one ``tell()`` take once a strategy has seen N trials.

Each strategy runs through sweepforge's own interface on the LCBench space (7 parameters) with a
cheap objective (the LCBench surrogate at epoch 52), so only the strategy's own work is timed.
To reach N trials quickly, Optuna strategies get N random trials added to their study
(``study.add_trials``: the same history a campaign would have after N trials, minus the time to
build it); grid, random and the evolutionary strategy are simply driven N times. Then
``--probes`` more asks and tells are timed one by one (at least 3, at most a minute's worth); the
table gives their median.

Where a strategy becomes the bottleneck: the master asks once per trial, so a strategy limits a
campaign once its ask takes about (trial duration / parallel trials). The script prints, per
strategy and N, the shortest trial that keeps 2 and 16 workers busy.

    python benchmarks/strategy_cost.py                       # N = 100, 1,000, 10,000
    python benchmarks/strategy_cost.py --sizes 100,1000 --strategies optuna_tpe
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks.lcbench import LCBench, shared_lcbench

STRATEGIES: dict[str, tuple[str, dict]] = {
    "grid": ("grid", {}),
    "random": ("random", {}),
    "evolutionary": ("evolutionary", {}),
    "optuna_tpe": ("optuna", {"sampler": "tpe"}),
    "optuna_cmaes": ("optuna", {"sampler": "cmaes"}),
    "optuna_gp": ("optuna", {"sampler": "gp"}),
    "auto": ("auto", {}),  # (its model is chosen by trial number: GP below 100 trials, then TPE)
    "auto_exact_ints": ("auto", {"relax_ints_wider_than": None}),  # as before wide ints relaxed
}
SIZES = (100, 1_000, 10_000)
SKIP = {("optuna_gp", 10_000): "not run: an ask already takes seconds at 1,000 (Optuna's GP "
                                "sampler is meant for hundreds of trials)"}
TASK = "3945"


def _objective(bench, config: dict) -> float:
    return float(bench.evaluate(TASK, [config])["val_accuracy"][0])


def measure(name: str, n: int, probes: int, seed: int = 0) -> dict[str, float]:
    """Median seconds per ask and per tell after ``n`` trials."""
    from sweepforge.search import TrialResult, make_strategy

    kind, options = STRATEGIES[name]
    bench = shared_lcbench()
    strategy = make_strategy(kind, LCBench.space(), budget=n + probes, seed=seed, mode="max",
                             options=options)
    fill_started = time.perf_counter()
    if kind in ("optuna", "auto"):
        # the history under the distributions the strategy asks with (wide ints relaxed or not)
        strategy.study.add_trials(history(n, seed, strategy.relax_ints_wider_than))
    else:
        for _ in range(n):
            spec = strategy.ask()
            strategy.tell(spec.trial_id, TrialResult(_objective(bench, spec.config)))
    fill_s = time.perf_counter() - fill_started
    asks, tells = [], []
    probing = time.perf_counter()
    for _ in range(probes):
        if len(asks) >= 3 and time.perf_counter() - probing > 60:
            break  # a slow strategy: the median of what was timed in a minute
        started = time.perf_counter()
        spec = strategy.ask()
        asks.append(time.perf_counter() - started)
        if spec is None:
            break
        value = _objective(bench, spec.config)
        started = time.perf_counter()
        strategy.tell(spec.trial_id, TrialResult(value))
        tells.append(time.perf_counter() - started)
    return {"ask_s": statistics.median(asks), "tell_s": statistics.median(tells), "fill_s": fill_s}


def history(n: int, seed: int, relax_ints_wider_than: int | None = None):
    """``n`` finished trials of the LCBench space for an Optuna study: random configs, their
    surrogate values, under the distributions :meth:`Space.suggest` uses (with
    ``relax_ints_wider_than``: a trial whose distributions differ from the strategy's would drop
    those parameters out of its model's search space)."""
    import optuna

    bench, space = shared_lcbench(), LCBench.space()
    rng = np.random.default_rng(seed + 1)
    configs = [space.sample(rng) for _ in range(n)]
    values = bench.evaluate(TASK, configs)["val_accuracy"]
    distributions = _distributions(space, relax_ints_wider_than)
    return [
        optuna.trial.create_trial(params=config, distributions=distributions, value=float(value))
        for config, value in zip(configs, values, strict=True)
    ]


def _distributions(space, relax_ints_wider_than: int | None = None) -> dict:
    import optuna

    recorder = optuna.create_study(sampler=optuna.samplers.RandomSampler(0)).ask()
    space.suggest(recorder, relax_ints_wider_than=relax_ints_wider_than)
    return dict(recorder.distributions)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)))
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--probes", type=int, default=21, help="asks and tells timed per cell")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sizes = [int(s) for s in args.sizes.split(",")]
    print(f"# strategy cost on the LCBench space; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, optuna {optuna.__version__}; median of "
          f"{args.probes} asks and tells after N trials")
    print("| strategy | N | ask | tell | shortest trial keeping 2 / 16 workers busy |")
    print("|---|---|---|---|---|")
    for name in args.strategies.split(","):
        for n in sizes:
            if (name, n) in SKIP:
                print(f"| {name} | {n:,} | not measured | | {SKIP[(name, n)]} |")
                continue
            cost = measure(name, n, args.probes)
            per_trial = cost["ask_s"] + cost["tell_s"]
            print(f"| {name} | {n:,} | {_ms(cost['ask_s'])} | {_ms(cost['tell_s'])} | "
                  f"{_ms(2 * per_trial)} / {_ms(16 * per_trial)} |", flush=True)
    return 0


def _ms(seconds: float) -> str:
    return f"{seconds * 1e3:.2f} ms" if seconds < 1 else f"{seconds:.2f} s"


if __name__ == "__main__":
    raise SystemExit(main())
