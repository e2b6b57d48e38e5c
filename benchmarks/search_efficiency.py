"""Search efficiency on LCBench: how good a config each strategy finds for a given budget.

Every strategy runs through sweepforge's own ask/tell interface (``make_strategy``), no Ray, on
the LCBench surrogate (``benchmarks/lcbench.py``) at full fidelity (epoch 52), maximising
validation accuracy. Plain Optuna (``TPESampler()`` with its defaults, ``study.optimize``) runs
on the same tasks and seeds as the tool a user would otherwise pick.

Score: normalized regret per task, ``(best known - best found) / (best known - worst known)``,
where best and worst known come from a seeded uniform random sample of the surrogate
(``--reference-size`` configs per task, cached in ``benchmarks/results/lcbench_reference.csv``);
a strategy that beats the sample's best scores 0. Reported at budgets 25, 50, 100, 200 as the
mean over tasks and seeds, each strategy's mean rank across tasks (per task, strategies ranked
by their mean regret over seeds), and anytime curves (PNG).

    python benchmarks/search_efficiency.py                      # 34 tasks x 10 seeds x 200
    python benchmarks/search_efficiency.py --tasks 10 --seeds 3 --jobs 2
    python benchmarks/search_efficiency.py --quick              # 2 tasks x 1 seed x 25
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import time
from contextlib import nullcontext
from multiprocessing import Pool
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks.lcbench import HYPERPARAMETERS, LCBench, shared_lcbench

RESULTS = Path(__file__).resolve().parent / "results"
REFERENCE = RESULTS / "lcbench_reference.csv"
BUDGETS = (25, 50, 100, 200)
STRATEGIES: dict[str, tuple[str, dict]] = {
    "grid": ("grid", {}),
    "random": ("random", {}),
    "optuna_tpe": ("optuna", {"sampler": "tpe"}),
    "optuna_cmaes": ("optuna", {"sampler": "cmaes"}),
    "evolutionary": ("evolutionary", {}),
    "auto": ("auto", {}),
    # bohb's GP alone on final values, its wide ints relaxed (the default) or asked exactly
    "bohb_gp": ("bohb", {"model": "gp", "random_fraction": 0}),
    "bohb_gp_exact": ("bohb", {"model": "gp", "random_fraction": 0, "relax_ints_wider_than": None}),
}
DEFAULT_STRATEGIES = ("grid", "random", "optuna_tpe", "optuna_cmaes", "evolutionary", "auto")
"""What a run measures when ``--strategies`` is not given; the other entries of STRATEGIES are
option variants BENCHMARKS.md reports, run by name."""
PLAIN_OPTUNA = "plain_optuna_tpe"


# --- reference: best and worst known per task ------------------------------------------------

def suggest_lcbench(trial: Any) -> dict[str, Any]:
    """The LCBench space, suggested the way a plain-Optuna user writes it (define-by-run)."""
    return {
        "batch_size": trial.suggest_int("batch_size", 16, 512, log=True),
        "learning_rate": trial.suggest_float("learning_rate", 1e-4, 1e-1, log=True),
        "momentum": trial.suggest_float("momentum", 0.1, 0.99),
        "weight_decay": trial.suggest_float("weight_decay", 1e-5, 1e-1),
        "num_layers": trial.suggest_int("num_layers", 1, 5),
        "max_units": trial.suggest_int("max_units", 64, 1024, log=True),
        "max_dropout": trial.suggest_float("max_dropout", 0.0, 1.0),
    }


def random_configs(size: int, seed: int) -> np.ndarray:
    """``size`` seeded uniform random configs of the LCBench space, one row each, columns in
    the order of :data:`HYPERPARAMETERS` (what ``LCBench.evaluate`` takes)."""
    space, rng = LCBench.space(), np.random.default_rng(seed)
    return np.array([[c[h] for h in HYPERPARAMETERS]
                     for c in (space.sample(rng) for _ in range(size))], dtype=np.float64)


def reference(tasks: list[str], size: int, seed: int = 12345, cache: bool = True
              ) -> dict[str, tuple[float, float]]:
    """Best and worst validation accuracy of ``size`` uniform random configs per task (cached
    in :data:`REFERENCE` unless ``cache`` is false)."""
    cached = _read_reference(size) if cache else {}
    missing = [t for t in tasks if t not in cached]
    if missing:
        bench, configs = shared_lcbench(), random_configs(size, seed)
        for task in missing:
            values = bench.evaluate(task, configs)["val_accuracy"]
            cached[task] = (float(values.max()), float(values.min()))
        if cache:
            _write_reference(cached, size)
    return {t: cached[t] for t in tasks}


def _read_reference(size: int) -> dict[str, tuple[float, float]]:
    if not REFERENCE.is_file():
        return {}
    with REFERENCE.open() as f:
        rows = list(csv.DictReader(f))
    return {r["task"]: (float(r["best"]), float(r["worst"])) for r in rows if int(r["size"]) == size}


def _write_reference(table: dict[str, tuple[float, float]], size: int) -> None:
    RESULTS.mkdir(exist_ok=True)
    with REFERENCE.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["task", "size", "best", "worst"])
        for task, (best, worst) in sorted(table.items(), key=lambda kv: int(kv[0])):
            writer.writerow([task, size, f"{best:.7f}", f"{worst:.7f}"])


# --- one run: a strategy on a task with a seed -----------------------------------------------

def sweepforge_curve(name: str, task: str, seed: int, budget: int) -> np.ndarray:
    """Best validation accuracy so far after each evaluation (length ``budget``)."""
    from sweepforge.search import TrialResult, make_strategy

    kind, options = STRATEGIES[name]
    bench = shared_lcbench()
    strategy = make_strategy(kind, LCBench.space(), budget=budget, seed=seed, mode="max",
                             options=options)
    values = []
    while (spec := strategy.ask()) is not None:
        value = float(bench.evaluate(task, [spec.config])["val_accuracy"][0])
        strategy.tell(spec.trial_id, TrialResult(value=value))
        values.append(value)
    return _best_so_far(values, budget)


def plain_optuna_curve(task: str, seed: int, budget: int) -> np.ndarray:
    """Plain Optuna, written the usual way: TPESampler(seed) with its defaults."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bench = shared_lcbench()

    def objective(trial: optuna.Trial) -> float:
        config = suggest_lcbench(trial)
        return float(bench.evaluate(task, [config])["val_accuracy"][0])

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=budget)
    return _best_so_far([t.value for t in study.trials], budget)


def _best_so_far(values: list[float], budget: int) -> np.ndarray:
    curve = np.maximum.accumulate(np.asarray(values, dtype=np.float64))
    if len(curve) < budget:  # a strategy that ran out (grid): its best stays
        curve = np.concatenate([curve, np.full(budget - len(curve), curve[-1])])
    return curve


def _one(job: tuple[str, str, int, int]) -> tuple[str, str, int, np.ndarray, float]:
    name, task, seed, budget = job
    start = time.perf_counter()
    curve = (plain_optuna_curve(task, seed, budget) if name == PLAIN_OPTUNA
             else sweepforge_curve(name, task, seed, budget))
    return name, task, seed, curve, time.perf_counter() - start


# --- scoring ---------------------------------------------------------------------------------

def regret(curve: np.ndarray, best: float, worst: float) -> np.ndarray:
    """Normalized regret of a best-so-far curve, clipped to [0, 1]."""
    return np.clip((best - curve) / (best - worst), 0.0, 1.0)


def score(curves: dict[tuple[str, str, int], np.ndarray], ref: dict[str, tuple[float, float]]):
    """``{strategy: (tasks x seeds x budget) regret array}`` for the strategies run."""
    names = sorted({k[0] for k in curves}, key=_order)
    tasks = sorted({k[1] for k in curves}, key=int)
    seeds = sorted({k[2] for k in curves})
    out = {}
    for name in names:
        out[name] = np.stack([
            np.stack([regret(curves[name, t, s], *ref[t]) for s in seeds]) for t in tasks
        ])
    return out


def mean_ranks(regrets: dict[str, np.ndarray], at: int) -> dict[str, float]:
    """Mean rank (1 = best) across tasks of each strategy's mean regret over seeds at ``at``."""
    names = list(regrets)
    per_task = np.stack([regrets[n][:, :, at - 1].mean(axis=1) for n in names], axis=1)
    ranks = np.apply_along_axis(_rank, 1, per_task)
    return {n: float(ranks[:, i].mean()) for i, n in enumerate(names)}


def _rank(row: np.ndarray) -> np.ndarray:
    """Ranks with ties sharing their mean rank."""
    order = np.argsort(row, kind="stable")
    ranks = np.empty(len(row))
    ranks[order] = np.arange(1, len(row) + 1)
    for value in np.unique(row):
        tied = row == value
        ranks[tied] = ranks[tied].mean()
    return ranks


def evals_to_reach(regrets: dict[str, np.ndarray], target: float) -> dict[str, int | None]:
    """The first evaluation count at which each strategy's mean regret is at most ``target``."""
    out: dict[str, int | None] = {}
    for name, values in regrets.items():
        mean = values.mean(axis=(0, 1))
        hit = np.nonzero(mean <= target)[0]
        out[name] = int(hit[0]) + 1 if len(hit) else None
    return out


def _order(name: str) -> int:
    names = [*STRATEGIES, PLAIN_OPTUNA]
    return names.index(name) if name in names else len(names)


# --- output ----------------------------------------------------------------------------------

def report(regrets: dict[str, np.ndarray], budgets: tuple[int, ...], seconds: dict[str, float]) -> str:
    lines = ["| strategy | " + " | ".join(f"regret @{b}" for b in budgets)
             + " | " + " | ".join(f"rank @{b}" for b in budgets) + " | s per run |",
             "|---|" + "---:|" * (2 * len(budgets) + 1)]
    ranks = {b: mean_ranks(regrets, b) for b in budgets}
    for name, values in regrets.items():
        means = [values[:, :, b - 1].mean() for b in budgets]
        lines.append(f"| {name} | " + " | ".join(f"{m:.4f}" for m in means) + " | "
                     + " | ".join(f"{ranks[b][name]:.2f}" for b in budgets)
                     + f" | {seconds.get(name, float('nan')):.2f} |")
    if "random" in regrets and max(budgets) <= regrets["random"].shape[2]:
        target = float(regrets["random"][:, :, max(budgets) - 1].mean())
        reach = evals_to_reach(regrets, target)
        lines += ["", (f"Evaluations to reach random search's mean regret at {max(budgets)} "
                       f"({target:.4f}):"), ""]
        lines += [f"- {n}: {reach[n] if reach[n] is not None else 'not within the budget'}"
                  for n in regrets]
    return "\n".join(lines)


def plot(regrets: dict[str, np.ndarray], path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=120)
    for name, values in regrets.items():
        mean = values.mean(axis=(0, 1))
        x = np.arange(1, len(mean) + 1)
        ax.plot(x, mean, label=name, linestyle="--" if name == PLAIN_OPTUNA else "-")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("evaluations (full-fidelity trials)")
    ax.set_ylabel("mean normalized regret")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)


def main(argv: list[str] | None = None) -> dict[str, np.ndarray]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=34, help="the first N of the 34 tasks")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--budget", type=int, default=max(BUDGETS))
    parser.add_argument("--strategies", default=",".join([*DEFAULT_STRATEGIES, PLAIN_OPTUNA]),
                        help=f"of {', '.join([*STRATEGIES, PLAIN_OPTUNA])}")
    parser.add_argument("--reference-size", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=1, help="worker processes")
    parser.add_argument("--plot", type=lambda text: Path(text) if text else None,
                        default=RESULTS / "search_efficiency.png", help='"": no plot')
    parser.add_argument("--json", type=Path, default=None, help="write the mean curves here")
    parser.add_argument("--quick", action="store_true", help="2 tasks x 1 seed x 25, no plot")
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed, +1, ...")
    parser.add_argument("--first-task", type=int, default=0,
                        help="run tasks first-task .. tasks-1 only (a second batch beside a first)")
    parser.add_argument("--runs", type=Path, default=None,
                        help="write every run's best-so-far curve here (JSON), to merge later")
    parser.add_argument("--from-runs", type=Path, nargs="+", default=None,
                        help="score the runs saved by --runs instead of running anything")
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks, args.seeds, args.budget, args.plot = 2, 1, 25, None
        args.reference_size = min(args.reference_size, 2000)
    names = [n for n in args.strategies.split(",") if n]
    unknown = set(names) - {*STRATEGIES, PLAIN_OPTUNA}
    if unknown:
        parser.error(f"--strategies: unknown {sorted(unknown)}")
    budgets = tuple(b for b in BUDGETS if b <= args.budget) or (args.budget,)
    tasks = shared_lcbench().tasks[: args.tasks]
    started = time.strftime("%Y-%m-%d %H:%M")
    # only the full reference is cached: a smaller one (tests, quick looks) never overwrites it
    ref = reference(tasks, args.reference_size,
                    cache=not args.quick and args.reference_size == 100_000)
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    jobs = [(n, t, s, args.budget) for t in tasks[args.first_task:] for s in seeds for n in names]
    curves, took = {}, {}
    for path in args.from_runs or ():
        for key, saved in json.loads(path.read_text()).items():
            name, task, seed = key.split("|")
            if name in names and task in tasks:
                curves[name, task, int(seed)] = np.asarray(saved["curve"])[: args.budget]
                took[name, task, int(seed)] = saved["seconds"]
    if args.from_runs:
        jobs = []
    with Pool(args.jobs) if args.jobs > 1 and jobs else nullcontext() as pool:  # closed here
        for done, (name, task, seed, curve, seconds) in enumerate(
                pool.imap_unordered(_one, jobs) if pool else map(_one, jobs), 1):
            curves[name, task, seed], took[name, task, seed] = curve, seconds
            if done % max(1, len(jobs) // 20) == 0:
                print(f"  {done}/{len(jobs)} runs", flush=True)
            if args.runs:  # after every run: a kill loses one run, not all
                args.runs.write_text(json.dumps({
                    "|".join(map(str, key)): {"curve": [float(x) for x in c], "seconds": took[key]}
                    for key, c in curves.items()}))
    spent = {n: [t for key, t in took.items() if key[0] == n] for n in names}
    regrets = score(curves, ref)
    seconds = {n: float(np.median(v)) for n, v in spent.items()}
    print(f"{len(tasks)} tasks x {args.seeds} seeds, budget {args.budget}; reference: "
          f"{args.reference_size} random configs per task; {started}; "
          f"{platform.processor() or platform.machine()}, Python {platform.python_version()}")
    print(report(regrets, budgets, seconds))
    if args.plot:
        plot(regrets, args.plot, f"LCBench surrogate, {len(tasks)} tasks x {args.seeds} seeds")
        print(f"plot: {args.plot}")
    if args.json:
        args.json.write_text(json.dumps({n: v.mean(axis=(0, 1)).tolist() for n, v in regrets.items()}))
    return regrets


if __name__ == "__main__":
    main()
