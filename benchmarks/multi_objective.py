"""Multi-objective search efficiency on LCBench: how much of the accuracy/time front each finds.

The multi-objective counterpart of ``benchmarks/search_efficiency.py``. Every sweepforge
strategy runs through its ask/tell interface (``make_strategy`` with
``directions=("max", "min")``, told ``TrialResult(value=acc, values=(acc, time))``), no Ray, on
the LCBench surrogate (``benchmarks/lcbench.py``) at full fidelity (epoch 52), with two
objectives: maximise validation accuracy, minimise the surrogate's training time at that epoch.
Plain Optuna, written the usual way (``create_study(directions=["maximize", "minimize"])`` with
``NSGAIISampler(seed=seed)`` or ``TPESampler(seed=seed)``, defaults otherwise, ``study.optimize``),
runs on the same tasks and seeds as the tool a user would otherwise pick.

Score: hypervolume regret per task and seed, ``(HV best known - HV found) / HV best known``,
where the best known front is that of a seeded uniform random sample of the surrogate
(``--reference-size`` configs per task) and the reference point of the hypervolume is the worst
value of each objective over that sample (lowest accuracy, longest time). Both, with the best
known hypervolume, are cached per task in ``benchmarks/results/lcbench_mo_reference.csv``.
Hypervolumes come from ``sweepforge.search.strategies.pareto`` (moocore); a front that beats
the sample's scores 0. Reported at budgets 100 and 200 as the mean over tasks and seeds, and
each contestant's mean rank across tasks (per task, contestants ranked by their mean regret over
seeds).

Grid and evolutionary plan by their budget (grid levels; the evolutionary population is
``max(8, min(32, budget // 4))``), so they run once per budget; the others' first 100
evaluations do not depend on the budget, so their 200-evaluation run is also scored after 100.
Optuna's GP sampler costs minutes per run; it runs on the first ``--gp-tasks`` tasks and
``--gp-seeds`` seeds up to ``--gp-budget`` evaluations, and is compared with the others on that
subset in a table of its own.

    python benchmarks/multi_objective.py                  # 34 tasks x 5 seeds x 100 and 200
    python benchmarks/multi_objective.py --tasks 10 --seeds 2 --jobs 2
    python benchmarks/multi_objective.py --quick          # 2 tasks x 1 seed x 25, no GP
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from collections.abc import Callable, Sequence
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks.lcbench import LCBench, shared_lcbench
from benchmarks.search_efficiency import RESULTS, mean_ranks, random_configs, suggest_lcbench
from sweepforge.search.strategies.pareto import (
    hypervolume,
    hypervolume_history,
    pareto_mask,
    reference_point,
)

REFERENCE = RESULTS / "lcbench_mo_reference.csv"
RUNS = RESULTS / "lcbench_mo_runs.csv"
BUDGETS = (100, 200)
OBJECTIVES = ("val_accuracy", "time")
DIRECTIONS = ("max", "min")
STRATEGIES: dict[str, tuple[str, dict]] = {
    "random": ("random", {}),
    "grid": ("grid", {}),
    "optuna_nsga2": ("optuna", {"sampler": "nsga2"}),
    "optuna_tpe": ("optuna", {"sampler": "tpe"}),
    "optuna_gp": ("optuna", {"sampler": "gp"}),
    "evolutionary": ("evolutionary", {}),
}
PLAIN_OPTUNA = ("plain_optuna_nsga2", "plain_optuna_tpe")
PER_BUDGET = frozenset({"grid", "evolutionary"})
"""Contestants whose plan depends on the budget: one run per budget, not one scored at prefixes."""
GP = "optuna_gp"


# --- reference: the best known front per task ------------------------------------------------

def reference(tasks: list[str], size: int, seed: int = 12345, cache: bool = True
              ) -> dict[str, tuple[np.ndarray, float]]:
    """Per task, the reference point (worst accuracy, worst time) and the hypervolume of ``size``
    uniform random configs (cached in :data:`REFERENCE` unless ``cache`` is false)."""
    cached = _read_reference(size) if cache else {}
    missing = [t for t in tasks if t not in cached]
    if missing:
        bench, configs = shared_lcbench(), random_configs(size, seed)
        for task in missing:
            out = bench.evaluate(task, configs)
            points = np.column_stack([out[k] for k in OBJECTIVES])
            ref = reference_point(points, DIRECTIONS)
            front = int(pareto_mask(points, DIRECTIONS).sum())
            cached[task] = (ref, hypervolume(points, DIRECTIONS, ref), front)
        if cache:
            _write_reference(cached, size)
    return {t: cached[t][:2] for t in tasks}


def _read_reference(size: int) -> dict[str, tuple[np.ndarray, float, int]]:
    if not REFERENCE.is_file():
        return {}
    with REFERENCE.open() as f:
        rows = list(csv.DictReader(f))
    return {r["task"]: (np.array([float(r["ref_val_accuracy"]), float(r["ref_time"])]),
                        float(r["hypervolume"]), int(r["front_size"]))
            for r in rows if int(r["size"]) == size}


def _write_reference(table: dict[str, tuple[np.ndarray, float, int]], size: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    with REFERENCE.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "size", "ref_val_accuracy", "ref_time", "hypervolume",
                         "front_size"])
        for task, (ref, volume, front) in sorted(table.items(), key=lambda kv: int(kv[0])):
            writer.writerow([task, size, f"{ref[0]:.7f}", f"{ref[1]:.5f}", f"{volume:.7f}", front])


# --- one run: a contestant on a task with a seed ---------------------------------------------

def sweepforge_points(name: str, task: str, seed: int, budget: int) -> np.ndarray:
    """(accuracy, time) of each evaluation, in order (``budget`` rows, fewer if grid runs out)."""
    from sweepforge.search.strategies.base import TrialResult
    from sweepforge.search.strategies.registry import make_strategy

    kind, options = STRATEGIES[name]
    bench = shared_lcbench()
    strategy = make_strategy(kind, LCBench.space(), budget=budget, seed=seed, mode="max",
                             directions=DIRECTIONS, options=options)
    points = []
    while (spec := strategy.ask()) is not None:
        out = bench.evaluate(task, [spec.config])
        acc, spent = float(out["val_accuracy"][0]), float(out["time"][0])
        strategy.tell(spec.trial_id, TrialResult(value=acc, values=(acc, spent)))
        points.append((acc, spent))
    return np.asarray(points, dtype=np.float64).reshape(-1, 2)


def plain_optuna_points(name: str, task: str, seed: int, budget: int) -> np.ndarray:
    """Plain Optuna, written the usual way: a two-objective study with NSGAIISampler(seed) or
    TPESampler(seed), defaults otherwise."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = shared_lcbench()

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        config = suggest_lcbench(trial)
        out = bench.evaluate(task, [config])
        return float(out["val_accuracy"][0]), float(out["time"][0])

    sampler = (optuna.samplers.NSGAIISampler(seed=seed) if name == "plain_optuna_nsga2"
               else optuna.samplers.TPESampler(seed=seed))
    study = optuna.create_study(directions=["maximize", "minimize"], sampler=sampler)
    study.optimize(objective, n_trials=budget)
    return np.asarray([t.values for t in study.trials], dtype=np.float64).reshape(-1, 2)


def _one(job: tuple[str, str, int, int]) -> tuple[str, str, int, int, np.ndarray, float]:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)  # (sweepforge's studies log at INFO)
    name, task, seed, budget = job
    start = time.perf_counter()
    points = (plain_optuna_points(name, task, seed, budget) if name in PLAIN_OPTUNA
              else sweepforge_points(name, task, seed, budget))
    return name, task, seed, budget, points, time.perf_counter() - start


# --- scoring ---------------------------------------------------------------------------------

def regret_curve(points: np.ndarray, ref: np.ndarray, best: float, budget: int) -> np.ndarray:
    """Hypervolume regret after each evaluation (length ``budget``), clipped to [0, 1]."""
    volumes = np.asarray(hypervolume_history(points, DIRECTIONS, ref), dtype=np.float64)
    if len(volumes) < budget:  # a strategy that ran out (grid): its front stays
        volumes = np.concatenate([volumes, np.full(budget - len(volumes),
                                                   volumes[-1] if len(volumes) else 0.0)])
    return np.clip((best - volumes) / best, 0.0, 1.0)


def plan(names: Sequence[str], tasks: Sequence[str], seeds: Sequence[int],
         budgets: Sequence[int], gp: tuple[int, int, int] | None = None
         ) -> list[tuple[str, str, int, int]]:
    """The runs ``(name, task, seed, budget)``: one per budget for :data:`PER_BUDGET`, one at the
    largest budget otherwise; ``gp``: (tasks, seeds, largest budget) for :data:`GP` (slowest
    first, so that a pool's last minutes are not one long run)."""
    jobs = []
    for name in names:
        run_tasks, run_seeds, run_budgets = tasks, seeds, budgets
        if name == GP and gp is not None:
            run_tasks, run_seeds = tasks[: gp[0]], seeds[: gp[1]]
            run_budgets = [b for b in budgets if b <= gp[2]] or [gp[2]]
        sizes = run_budgets if name in PER_BUDGET else [max(run_budgets)]
        jobs += [(name, t, s, b) for t in run_tasks for s in run_seeds for b in sizes]
    return sorted(jobs, key=lambda job: job[0] != GP)


Runs = dict[tuple[str, str, int, int], tuple[np.ndarray, float]]
"""``(name, task, seed, run budget) -> (regret after each evaluation, seconds)``."""


def run(names: Sequence[str], tasks: Sequence[str], seeds: Sequence[int],
        budgets: Sequence[int], *, reference_size: int, jobs: int = 1, cache: bool = True,
        gp: tuple[int, int, int] | None = None, progress: bool = False) -> Runs:
    """Runs every contestant of ``names`` on ``tasks`` x ``seeds`` (see :func:`plan`) and
    returns each run's hypervolume-regret curve and its seconds."""
    ref = reference(list(tasks), reference_size, cache=cache)
    todo = plan(names, tasks, seeds, budgets, gp)
    runs: Runs = {}
    pool = Pool(jobs) if jobs > 1 else None
    mapper: Callable = pool.imap_unordered if pool is not None else map
    try:
        for done, (name, task, seed, budget, points, seconds) in enumerate(mapper(_one, todo), 1):
            runs[name, task, seed, budget] = (regret_curve(points, *ref[task], budget), seconds)
            if progress and done % max(1, len(todo) // 20) == 0:
                print(f"  {done}/{len(todo)} runs", flush=True)
    finally:
        if pool is not None:
            pool.close()
            pool.join()
    return runs


def regret_at(runs: Runs, name: str, task: str, seed: int, budget: int) -> float:
    """A contestant's regret after ``budget`` evaluations: its run at that budget, or the prefix
    of its longest run."""
    if (name, task, seed, budget) in runs:
        return float(runs[name, task, seed, budget][0][-1])
    longest = max(b for (n, t, s, b) in runs if (n, t, s) == (name, task, seed))
    return float(runs[name, task, seed, longest][0][budget - 1])


def summary(runs: Runs, names: Sequence[str], tasks: Sequence[str], seeds: Sequence[int],
            budgets: Sequence[int]) -> dict[str, dict]:
    """Per contestant: mean regret and mean rank at each budget, over ``tasks`` x ``seeds``, and
    the median seconds of its longest runs there (``regrets``: tasks x seeds x budgets)."""
    regrets = {n: np.array([[[regret_at(runs, n, t, s, b) for b in budgets] for s in seeds]
                            for t in tasks]) for n in names}
    ranks = {b: mean_ranks(regrets, at=i + 1) for i, b in enumerate(budgets)}
    out = {}
    for name in names:
        ran = [(b, sec) for (n, t, s, b), (_, sec) in runs.items()
               if n == name and t in tasks and s in seeds]
        longest = max(b for b, _ in ran)
        out[name] = {"regret": {b: float(regrets[name][:, :, i].mean())
                                for i, b in enumerate(budgets)},
                     "rank": {b: ranks[b][name] for b in budgets},
                     "seconds": float(np.median([sec for b, sec in ran if b == longest])),
                     "seconds_budget": longest,
                     "regrets": regrets[name]}
    return out


def targets(table: dict[str, dict], budgets: Sequence[int]) -> list[str]:
    """The issue's targets: the best sweepforge strategy at or below plain Optuna's best at every
    budget, and the evolutionary strategy within 1.5x of plain Optuna's best."""
    ours = [n for n in table if n in STRATEGIES]
    plain = [n for n in table if n in PLAIN_OPTUNA]
    if not ours or not plain:
        return []
    lines = []
    for b in budgets:
        best_ours = min(ours, key=lambda n: table[n]["regret"][b])
        best_plain = min(plain, key=lambda n: table[n]["regret"][b])
        ours_v, plain_v = table[best_ours]["regret"][b], table[best_plain]["regret"][b]
        lines.append(f"- @{b}: best sweepforge {best_ours} {ours_v:.4f} vs plain best "
                     f"{best_plain} {plain_v:.4f}: {'met' if ours_v <= plain_v else 'NOT met'}")
        if "evolutionary" in table:
            evo = table["evolutionary"]["regret"][b]
            ratio = evo / plain_v if plain_v > 0 else float("inf")
            lines.append(f"  evolutionary {evo:.4f} = {ratio:.2f}x plain best: "
                         f"{'met' if ratio <= 1.5 else 'NOT met'} (within 1.5x)")
    return lines


# --- output ----------------------------------------------------------------------------------

def report(table: dict[str, dict], budgets: Sequence[int]) -> str:
    lines = ["| contestant | " + " | ".join(f"HV regret @{b}" for b in budgets)
             + " | " + " | ".join(f"rank @{b}" for b in budgets)
             + f" | s per run ({max(budgets)} evals) |",
             "|---|" + "---:|" * (2 * len(budgets) + 1)]
    for name, row in table.items():
        lines.append(f"| {name} | " + " | ".join(f"{row['regret'][b]:.4f}" for b in budgets)
                     + " | " + " | ".join(f"{row['rank'][b]:.2f}" for b in budgets)
                     + f" | {row['seconds']:.2f}"
                     + (f" ({row['seconds_budget']} evals)"
                        if row["seconds_budget"] != max(budgets) else "") + " |")
    return "\n".join(lines)


def _write_runs(runs: Runs, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["contestant", "task", "seed", "budget", "regret_at_100", "regret",
                         "seconds"])
        for (name, task, seed, budget), (curve, seconds) in sorted(
                runs.items(), key=lambda kv: (_order(kv[0][0]), int(kv[0][1]), *kv[0][2:])):
            at_100 = f"{curve[99]:.6f}" if len(curve) >= 100 else ""
            writer.writerow([name, task, seed, budget, at_100, f"{curve[-1]:.6f}",
                             f"{seconds:.3f}"])


def _order(name: str) -> int:
    names = [*STRATEGIES, *PLAIN_OPTUNA]
    return names.index(name) if name in names else len(names)


def main(argv: list[str] | None = None) -> dict[str, dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=34, help="the first N of the 34 tasks")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--budgets", default=",".join(map(str, BUDGETS)))
    parser.add_argument("--strategies", default=None,
                        help=f"comma-separated (default: all; --quick: all but {GP})")
    parser.add_argument("--gp-tasks", type=int, default=3, help="optuna_gp: the first N tasks")
    parser.add_argument("--gp-seeds", type=int, default=1, help="optuna_gp: the first N seeds")
    parser.add_argument("--gp-budget", type=int, default=100, help="optuna_gp: largest budget")
    parser.add_argument("--reference-size", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--csv", type=Path, default=RUNS, help="every run's regret and seconds")
    parser.add_argument("--quick", action="store_true",
                        help=f"2 tasks x 1 seed x 25, no {GP} (minutes), no CSV")
    args = parser.parse_args(argv)
    budgets = sorted({int(b) for b in args.budgets.split(",") if b})
    if args.quick:
        args.tasks, args.seeds, budgets, args.csv = 2, 1, [25], None
        args.gp_tasks, args.gp_seeds, args.gp_budget = 1, 1, 25
        args.reference_size = min(args.reference_size, 2000)
    if args.strategies is None:
        everything = [*STRATEGIES, *PLAIN_OPTUNA]
        args.strategies = ",".join(n for n in everything if not (args.quick and n == GP))
    names = sorted((n for n in args.strategies.split(",") if n), key=_order)
    unknown = set(names) - {*STRATEGIES, *PLAIN_OPTUNA}
    if unknown:
        parser.error(f"--strategies: unknown {sorted(unknown)}")
    tasks, seeds = shared_lcbench().tasks[: args.tasks], list(range(args.seeds))
    gp = (args.gp_tasks, args.gp_seeds, args.gp_budget)
    started, clock = time.strftime("%Y-%m-%d %H:%M"), time.perf_counter()
    runs = run(names, tasks, seeds, budgets, reference_size=args.reference_size, jobs=args.jobs,
               cache=not args.quick, gp=gp, progress=True)
    wall = time.perf_counter() - clock
    print(f"{len(tasks)} tasks x {len(seeds)} seeds, budgets {budgets}; reference: "
          f"{args.reference_size} random configs per task; {started}, {wall / 60:.1f} min; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    main_names = [n for n in names if n != GP]
    table = summary(runs, main_names, tasks, seeds, budgets) if main_names else {}
    if table:
        print(report(table, budgets))
        print("\nTargets (plain Optuna's best; the evolutionary strategy within 1.5x of it):")
        print("\n".join(targets(table, budgets)))
    if GP in names:
        gp_tasks, gp_seeds = tasks[: args.gp_tasks], seeds[: args.gp_seeds]
        gp_budgets = [b for b in budgets if b <= args.gp_budget] or [args.gp_budget]
        gp_table = summary(runs, names, gp_tasks, gp_seeds, gp_budgets)
        print(f"\n{GP} beside the others on its subset: {len(gp_tasks)} tasks x "
              f"{len(gp_seeds)} seeds, budgets {gp_budgets}")
        print(report(gp_table, gp_budgets))
        table[GP] = gp_table[GP]
    if args.csv:
        _write_runs(runs, args.csv)
        print(f"runs: {args.csv}")
    return table


if __name__ == "__main__":
    main()
