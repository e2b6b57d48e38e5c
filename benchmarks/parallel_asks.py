"""Parallel asks on LCBench: regret after the same number of evaluations with 1, 2 and 8 workers.

With N workers a model-based strategy proposes while N - 1 trials still run. Optuna's GP reads
the running trials' params (q-batch logEI, sequential greedy) and TPE's ``constant_liar``
counts them among the bad trials, so neither should propose the same config N times; what is
left is the cost of proposing from fewer results. This benchmark measures that cost.

**Simulation** (deterministic; no Ray, no sleeping): N trials are kept pending. Each step the
oldest pending trial completes (FIFO) and is told, then one more is asked, until ``--budget``
trials are told. With N = 1 this is the usual ask/tell loop; with N workers trial ``k`` is
asked when trials ``0 .. k - N`` are told. Evaluations are counted in the order they are told,
and regret after ``k`` evaluations is that of the best of the first ``k`` told.

Contestants, each on the same tasks and seeds (``search_efficiency.py``'s score: normalized
regret against 100,000 random configs per task, the surrogate's validation accuracy at
epoch 52, maximised):

* ``auto`` and ``optuna_tpe``: sweepforge's strategies (``make_strategy``), driven by the FIFO
  simulation through their ask/tell interface, as a campaign drives them;
* ``plain_optuna_tpe``: plain Optuna, ``TPESampler(seed=seed)`` with its defaults, driven by
  the same FIFO simulation through ``study.ask()`` / ``study.tell()``;
* ``plain_optuna_threads``: plain Optuna the way a user parallelises it,
  ``study.optimize(objective, n_trials=budget, n_jobs=N)`` with real threads; the objective
  sleeps ``--sleep`` seconds so that the N threads overlap. Not deterministic for N > 1 (thread
  timing, and Optuna reseeds the sampler in each thread).

Opt-in (``--contestants auto_wait``): ``auto`` with ``n_initial`` raised by ``workers - 1``, so
that its GP's first ask sees as many results as a 1-worker run's (10 at the default budget).

Reported: mean normalized regret at 25 / 50 / 100 evaluations per contestant and number of
workers, each contestant's ratio of its N-worker mean regret to its 1-worker one there (issue
20's target: ``auto`` with 8 workers within 1.2x of 1 worker after 100), and, since a ratio
of regrets near 0 says little, the paired per-run difference at the budget.

    python benchmarks/parallel_asks.py          # 8 tasks x 2 seeds x 100 (40-55 min, 1 core)
    python benchmarks/parallel_asks.py --quick  # 1 task x 1 seed x 12, workers 1,2,8 (~15 s)
    python benchmarks/parallel_asks.py --tasks 2 --seeds 1 --contestants auto --workers 1,8

The default protocol is sized by ``auto``: on a quiet 2-vCPU VM its GP costs about 30 s per
100-evaluation run with one worker and 50 s with pending trials (q-batch logEI), three such
runs per task and seed (on the first 8 tasks, the 1-worker runs repeat the ``auto`` probe of
BENCHMARKS.md exactly).
With 1 worker every contestant asks what ``search_efficiency.py`` asks for the same seed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from multiprocessing import Pool
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")  # the GP's torch: one thread per run

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks.lcbench import LCBench, shared_lcbench
from benchmarks.search_efficiency import _best_so_far, reference, regret, suggest_lcbench

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = (25, 50, 100)
WORKERS = (1, 2, 8)
SWEEPFORGE: dict[str, tuple[str, dict]] = {
    "auto": ("auto", {}),
    "optuna_tpe": ("optuna", {}),  # the optuna strategy's default: multivariate TPE, liar
}
AUTO_WAIT = "auto_wait"  # opt-in: auto with n_initial + workers - 1 Sobol trials
PLAIN_FIFO = "plain_optuna_tpe"
PLAIN_THREADS = "plain_optuna_threads"
CONTESTANTS = (*SWEEPFORGE, PLAIN_FIFO, PLAIN_THREADS)
OPT_IN = (AUTO_WAIT,)


# --- the FIFO simulation of N workers ---------------------------------------------------------

def fifo(ask: Callable[[], Any], tell: Callable[[Any], float], budget: int, workers: int
         ) -> tuple[list[float], float]:
    """Keeps ``workers`` asks pending; the oldest is told first. ``ask()`` returns a handle (or
    ``None`` when the strategy has no more), ``tell(handle)`` evaluates and tells it and returns
    the value. Returns the values in the order they were told, and the mean number of trials
    pending at each ask."""
    pending: deque = deque()
    values: list[float] = []
    seen: list[int] = []
    asked = 0
    while len(values) < budget:
        while len(pending) < workers and asked < budget:
            seen.append(len(pending))
            handle = ask()
            if handle is None:
                break
            pending.append(handle)
            asked += 1
        if not pending:
            break
        values.append(tell(pending.popleft()))
    return values, float(np.mean(seen))


def evaluate(task: str, config: dict[str, Any]) -> float:
    return float(shared_lcbench().evaluate(task, [config])["val_accuracy"][0])


def sweepforge_values(name: str, task: str, seed: int, budget: int, workers: int
                      ) -> tuple[list[float], float]:
    """A sweepforge strategy driven by the FIFO simulation."""
    import optuna

    from sweepforge.search import TrialResult, make_strategy

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if name == AUTO_WAIT:  # the GP's first ask sees the results a 1-worker run's first sees
        kind, options = "auto", {"n_initial": min(10, max(2, budget // 4)) + workers - 1}
    else:
        kind, options = SWEEPFORGE[name]
    strategy = make_strategy(kind, LCBench.space(), budget=budget, seed=seed, mode="max",
                             options=options)

    def tell(spec: Any) -> float:
        value = evaluate(task, spec.config)
        strategy.tell(spec.trial_id, TrialResult(value=value))
        return value

    return fifo(strategy.ask, tell, budget, workers)


def plain_fifo_values(task: str, seed: int, budget: int, workers: int
                      ) -> tuple[list[float], float]:
    """Plain Optuna's default TPE driven by the FIFO simulation (``study.ask`` / ``tell``); a
    trial's params are suggested when it is asked, as a worker starting it would."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))

    def ask() -> tuple[optuna.Trial, dict[str, Any]]:
        trial = study.ask()
        return trial, suggest_lcbench(trial)

    def tell(handle: tuple[optuna.Trial, dict[str, Any]]) -> float:
        trial, config = handle
        value = evaluate(task, config)
        study.tell(trial, value)
        return value

    return fifo(ask, tell, budget, workers)


def plain_threads_values(task: str, seed: int, budget: int, workers: int, sleep: float
                         ) -> tuple[list[float], float]:
    """Plain Optuna's default TPE in ``study.optimize(n_jobs=workers)``: the values in the order
    the objectives finished, and the mean number of other trials RUNNING in the study when one
    was sampled. The objective sleeps ``sleep`` seconds when ``workers > 1`` (with one worker
    the sleep would change nothing but the wall time)."""
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    lock = threading.Lock()
    values: list[float] = []
    others: list[int] = []

    def objective(trial: optuna.Trial) -> float:
        running = trial.study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        others.append(len(running) - 1)  # (the trial itself is RUNNING)
        config = suggest_lcbench(trial)
        value = evaluate(task, config)
        if workers > 1:
            time.sleep(sleep)
        with lock:
            values.append(value)
        return value

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=budget, n_jobs=workers)
    return values, float(np.mean(others))


def _one(job: tuple[str, str, int, int, int, float]
         ) -> tuple[str, int, str, int, np.ndarray, float, float]:
    name, task, seed, budget, workers, sleep = job
    start = time.perf_counter()
    if name == PLAIN_THREADS:
        values, running = plain_threads_values(task, seed, budget, workers, sleep)
    elif name == PLAIN_FIFO:
        values, running = plain_fifo_values(task, seed, budget, workers)
    else:
        values, running = sweepforge_values(name, task, seed, budget, workers)
    return (name, workers, task, seed, _best_so_far(values, budget),
            time.perf_counter() - start, running)


# --- scoring and output -----------------------------------------------------------------------

def ratios(regrets: dict[tuple[str, int], np.ndarray], at: int, base: int = 1
           ) -> dict[tuple[str, int], float | None]:
    """Each (contestant, workers)'s mean regret at ``at`` over its ``base``-worker one (``None``
    where that is 0)."""
    out = {}
    for (name, workers), values in regrets.items():
        if (name, base) in regrets:
            one = regrets[name, base][:, :, at - 1].mean()
            out[name, workers] = float(values[:, :, at - 1].mean() / one) if one > 0 else None
    return out


def paired(many: np.ndarray, one: np.ndarray, draws: int = 2000) -> dict[str, float]:
    """Paired comparison of per-run regrets with N workers (``many``) and with 1 (``one``),
    runs in the same order: how many runs are worse, better, tied, and the mean difference
    (N - 1 worker) with a seeded bootstrap 90% interval (runs resampled). A difference, not a
    ratio: regret is clipped at 0, and a 1-worker mean near 0 makes any ratio huge."""
    many, one = np.ravel(many), np.ravel(one)
    picks = np.random.default_rng(0).integers(0, len(one), size=(draws, len(one)))
    low, high = np.percentile((many - one)[picks].mean(axis=1), [5, 95])
    return {"worse": int((many > one).sum()), "better": int((many < one).sum()),
            "tied": int((many == one).sum()), "difference": float((many - one).mean()),
            "difference_p5": float(low), "difference_p95": float(high)}


def report(regrets: dict[tuple[str, int], np.ndarray], budgets: tuple[int, ...],
           seconds: dict[tuple[str, int], float], overlap: dict[tuple[str, int], float]) -> str:
    at = max(budgets)
    ratio = {b: ratios(regrets, b) for b in budgets}
    lines = ["| contestant | workers | " + " | ".join(f"regret @{b}" for b in budgets)
             + " | " + " | ".join(f"ratio to 1 worker @{b}" for b in budgets)
             + " | running at each ask | s per run |",
             "|---|---:|" + "---:|" * (2 * len(budgets) + 2)]
    for (name, workers), values in regrets.items():
        means = [values[:, :, b - 1].mean() for b in budgets]
        lines.append(f"| {name} | {workers} | " + " | ".join(f"{m:.4f}" for m in means) + " | "
                     + " | ".join(_ratio(ratio[b].get((name, workers))) for b in budgets)
                     + f" | {overlap[name, workers]:.2f} | {seconds[name, workers]:.1f} |")
    lines += ["", (f"Paired over the runs, N workers against 1 at {at} evaluations: runs "
                   "worse / better / tied, mean regret difference (bootstrap 90% interval):"),
              ""]
    for (name, workers), values in regrets.items():
        if workers != 1 and (name, 1) in regrets:
            p = paired(values[:, :, at - 1], regrets[name, 1][:, :, at - 1])
            lines.append(f"- {name}, {workers} workers: {p['worse']} / {p['better']} / "
                         f"{p['tied']}; {p['difference']:+.4f} ({p['difference_p5']:+.4f} to "
                         f"{p['difference_p95']:+.4f})")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[tuple[str, int], np.ndarray]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=8, help="the first N of the 34 tasks")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--budget", type=int, default=max(BUDGETS))
    parser.add_argument("--workers", default=",".join(map(str, WORKERS)),
                        help="simulated workers, comma-separated")
    parser.add_argument("--contestants", default=",".join(CONTESTANTS))
    parser.add_argument("--sleep", type=float, default=0.05,
                        help=f"seconds each {PLAIN_THREADS} objective sleeps")
    parser.add_argument("--reference-size", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--json", type=Path, default=None, help="write the results here")
    parser.add_argument("--quick", action="store_true", help="1 task x 1 seed x 12")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.seeds, args.budget = 1, 1, 12
        args.reference_size = min(args.reference_size, 2000)
    names = [n for n in args.contestants.split(",") if n]
    unknown = set(names) - {*CONTESTANTS, *OPT_IN}
    if unknown:
        parser.error(f"--contestants: unknown {sorted(unknown)}")
    try:
        workers = [int(w) for w in args.workers.split(",") if w]
    except ValueError:
        parser.error(f"--workers: integers, comma-separated, not {args.workers!r}")
    if not workers or min(workers) < 1:
        parser.error("--workers: at least one number of workers, each >= 1")
    budgets = tuple(b for b in BUDGETS if b < args.budget) + (args.budget,)
    tasks = shared_lcbench().tasks[: args.tasks]
    started, clock = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    ref = reference(tasks, args.reference_size,  # (only the full reference is cached)
                    cache=not args.quick and args.reference_size == 100_000)
    jobs = [(n, t, s, args.budget, w, args.sleep)
            for t in tasks for s in range(args.seeds) for w in workers for n in names]
    curves: dict[tuple[str, int, str, int], np.ndarray] = {}
    spent: dict[tuple[str, int], list[float]] = {}
    seen: dict[tuple[str, int], list[float]] = {}
    run: Callable = Pool(args.jobs).imap_unordered if args.jobs > 1 else map
    for done, (name, w, task, seed, curve, seconds, running) in enumerate(run(_one, jobs), 1):
        curves[name, w, task, seed] = curve
        spent.setdefault((name, w), []).append(seconds)
        seen.setdefault((name, w), []).append(running)
        if done % max(1, len(jobs) // 20) == 0:
            print(f"  {done}/{len(jobs)} runs, {time.perf_counter() - clock:.0f} s", flush=True)
    seeds = range(args.seeds)
    regrets = {(n, w): np.stack([np.stack([regret(curves[n, w, t, s], *ref[t]) for s in seeds])
                                 for t in tasks])
               for n in names for w in workers}
    seconds = {k: float(np.median(v)) for k, v in spent.items()}
    overlap = {k: float(np.mean(v)) for k, v in seen.items()}
    wall = time.perf_counter() - clock
    print(f"{len(tasks)} tasks x {args.seeds} seeds, budget {args.budget}, workers {workers}; "
          f"reference: {args.reference_size} random configs per task; {started}; "
          f"{wall / 60:.1f} min; {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}, Optuna {_optuna_version()}")
    print(report(regrets, budgets, seconds, overlap))
    if args.json:
        at = args.budget
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "started": started, "wall_s": round(wall, 1), "tasks": tasks,
            "seeds": list(seeds), "budget": args.budget, "workers": workers,
            "sleep_s": args.sleep, "reference_size": args.reference_size,
            "python": platform.python_version(), "optuna": _optuna_version(),
            "results": [{
                "contestant": n, "workers": w,
                "mean_regret": {str(b): float(v[:, :, b - 1].mean()) for b in budgets},
                "ratio_to_1_worker": {str(b): ratios(regrets, b).get((n, w)) for b in budgets},
                "paired_to_1_worker": paired(v[:, :, at - 1], regrets[n, 1][:, :, at - 1])
                if w != 1 and (n, 1) in regrets else None,
                "running_at_each_ask": overlap[n, w], "median_s_per_run": seconds[n, w],
                "mean_curve": [round(float(x), 6) for x in v.mean(axis=(0, 1))],
                "regret_at_budget": [[round(float(x), 6) for x in row]
                                     for row in v[:, :, at - 1]],  # tasks x seeds
            } for (n, w), v in regrets.items()],
        }, indent=1))
        print(f"results: {args.json}")
    return regrets


def _ratio(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _optuna_version() -> str:
    import optuna

    return optuna.__version__


if __name__ == "__main__":
    main()
