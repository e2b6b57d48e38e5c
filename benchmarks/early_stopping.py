"""Early stopping on LCBench: epochs each strategy + scheduler pair spends to reach a target.

The target, per task and seed, is the best validation accuracy random search finds with no early
stopping in 100 full trials (52 epochs each, 5,200 epochs). Every pair (grid, random, Optuna TPE,
evolutionary; each with no scheduler, ASHA and asynchronous Hyperband) then runs until the best
validation accuracy it has seen reaches that target, and we count the epochs it trained by then.
A run that has not reached it after 5,200 epochs stops there (counted as not reached).

The trials run on the LCBench surrogate (``benchmarks/lcbench.py``) in a simulated pool of
``--workers`` workers that each train one epoch per time step (the surrogate takes no time), so
thousands of runs fit in minutes. The decisions are not ours: each result goes to Ray Tune's own
``ASHAScheduler`` object (``brackets=1`` for ASHA, 3 for Hyperband; grace period 1 epoch,
reduction factor 3, the campaign defaults), exactly what a campaign's ``scheduler:`` builds, and
a trial it stops is told to the strategy as PRUNED at the epoch it reached, as a campaign does.

``--mnist`` runs one real campaign instead, twice: ``examples/asha_mnist.yaml`` (the MNIST-subset
MLP, random and TPE, 20 trials of up to 12 epochs each) with ASHA and without a scheduler, on Ray
workers with MLflow, and prints epochs trained, best validation accuracy, the test accuracy of
the best trial and wall time side by side.

    python benchmarks/early_stopping.py                          # 10 tasks x 5 seeds
    python benchmarks/early_stopping.py --tasks 2 --seeds 1      # a quick look
    python benchmarks/early_stopping.py --mnist                  # the real campaign (~10 min)
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import sys
import time
from contextlib import nullcontext
from multiprocessing import Pool
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from benchmarks.lcbench import MAX_EPOCH, LCBench, shared_lcbench

PUBLISHED_DEHB = {"screen": 1, "mutation_factor": 0.5, "crossover_prob": 0.5}
"""DEHB's own settings: model-free DE (the ``dehb`` strategy screens its children by default)."""
STRATEGIES: dict[str, tuple[str, dict]] = {
    "grid": ("grid", {}),
    "random": ("random", {}),
    "optuna_tpe": ("optuna", {"sampler": "tpe"}),
    "evolutionary": ("evolutionary", {}),
    "auto": ("auto", {}),
    # auto's rules against a model that repeats stopped configs (BENCHMARKS.md, "`auto` with a
    # scheduler"): the default is rule 4 (no repeats, repeat_tolerance 0.01), no hold
    "auto_hold": ("auto", {"min_complete": 5, "repeat_tolerance": None}),  # the old default
    "auto_neither": ("auto", {"repeat_tolerance": None}),
    "auto_both": ("auto", {"min_complete": 5}),
    "auto_repeat_tol001": ("auto", {"repeat_tolerance": 0.001}),
    "auto_repeat_tol05": ("auto", {"repeat_tolerance": 0.05}),
    # bohb's default random_fraction is 1/3 (the *_random_third rows); 0 is the model always
    "bohb": ("bohb", {"model": "tpe", "random_fraction": 0}),
    "bohb_random_third": ("bohb", {"model": "tpe", "random_fraction": 1 / 3}),
    "bohb_auto": ("bohb", {"random_fraction": 0}),
    "bohb_auto_random_third": ("bohb", {"random_fraction": 1 / 3}),
    "bohb_auto_exact_ints": ("bohb", {"random_fraction": 1 / 3, "relax_ints_wider_than": None}),
    # no blind repeats (auto's rule 4) in bohb and dehb: opt-in, it did not pay on LCBench
    "bohb_auto_no_repeats": ("bohb", {"random_fraction": 1 / 3, "repeat_tolerance": 0.01}),
    "dehb": ("dehb", {}),
    "dehb_no_repeats": ("dehb", {"repeat_tolerance": 0.01}),
    "dehb_published": ("dehb", PUBLISHED_DEHB),
    "dehb_wide": ("dehb", {"screen": 1}),  # the defaults' mutation, unscreened
    **{f"dehb_screen{n}": ("dehb", {**PUBLISHED_DEHB, "screen": n}) for n in (8, 16, 64)},
    **{f"dehb_screen{n}_wide": ("dehb", {"screen": n}) for n in (8, 128)},
}
DEFAULT_STRATEGIES = ("grid", "random", "optuna_tpe", "evolutionary", "auto",
                      "bohb_random_third", "bohb_auto_random_third", "dehb")
"""What a run measures when ``--strategies`` is not given; the other entries of STRATEGIES are
the option variants BENCHMARKS.md reports, run by name."""
SCHEDULERS = ("none", "asha", "hyperband")
BASELINE_TRIALS = 100
CAP = BASELINE_TRIALS * MAX_EPOCH  # 5,200 epochs: what the baseline spends
TASKS = ("3945", "7593", "34539", "126025", "126026", "126029", "146212", "167104", "167149",
         "167152")
"""The first ten tasks of the shared surrogate's space, in its order."""


class _Trial:
    """What Ray Tune's scheduler reads of a trial: its id."""

    def __init__(self, trial_id: str):
        self.trial_id = trial_id


GRACE_PERIOD = 1
"""Epochs before ASHA or Hyperband may stop a trial (``--grace-period``; the campaign default)."""


def make_tune_scheduler(kind: str, seed: int, grace_period: int = GRACE_PERIOD):
    """Ray Tune's scheduler for ``kind``, as ``scheduler: {type: kind, grace_period: ...}``
    builds it."""
    if kind == "none":
        return None
    from sweepforge.search.config import SchedulerConfig
    from sweepforge.search.tune.schedulers import make_scheduler

    np.random.seed(seed)  # Tune draws each trial's Hyperband bracket from numpy's global RNG
    options = {"type": kind, "grace_period": grace_period} if kind == "asha" else \
        {"type": kind}
    scheduler = SchedulerConfig.model_validate(options)
    if kind == "hyperband":  # grace_period is an asha option in campaign files; same scheduler
        scheduler = scheduler.model_copy(update={"grace_period": grace_period})
    return make_scheduler(scheduler, space=None, metric="val_accuracy", mode="max",
                          max_epochs=MAX_EPOCH)


def run_pair(strategy_name: str, scheduler_kind: str, task: str, seed: int, *,
             target: float = math.inf, cap: int = CAP, max_trials: int | None = None,
             workers: int = 2, grace_period: int = GRACE_PERIOD) -> dict:
    """One strategy + scheduler pair on one task: returns the epochs trained when the best
    validation accuracy seen first reached ``target`` (``None`` if not within ``cap`` epochs),
    the best seen, the epochs and the trials run."""
    from ray.tune.schedulers import TrialScheduler

    from sweepforge.search import TrialResult, TrialState, make_strategy

    kind, options = STRATEGIES[strategy_name]
    bench = shared_lcbench()
    budget = max_trials or cap  # every trial trains at least one epoch
    strategy = make_strategy(kind, LCBench.space(), budget=budget, seed=seed, mode="max",
                             options=options)
    scheduler = make_tune_scheduler(scheduler_kind, seed, grace_period)
    running: dict[int, dict] = {}  # worker -> trial
    spent, best, reached, trials, done = 0, -math.inf, None, 0, False
    while not done:
        for worker in range(workers):  # idle workers take a new trial
            if worker in running:
                continue
            spec = strategy.ask()
            if spec is None:
                continue
            curve = bench.evaluate(task, [spec.config] * MAX_EPOCH, np.arange(1, MAX_EPOCH + 1))
            trial = {"id": spec.trial_id, "tune": _Trial(str(spec.trial_id)), "epoch": 0,
                     "curve": curve["val_accuracy"]}
            if scheduler is not None:
                scheduler.on_trial_add(None, trial["tune"])
            running[worker] = trial
            trials += 1
        if not running:
            break
        for worker in sorted(running):  # each worker trains one epoch per time step
            trial = running[worker]
            trial["epoch"] += 1
            spent += 1
            value = float(trial["curve"][trial["epoch"] - 1])
            best = max(best, value)
            if reached is None and best >= target:
                reached = spent
            result = {"epoch": trial["epoch"], "val_accuracy": value}
            action = TrialScheduler.CONTINUE
            if scheduler is not None:
                action = scheduler.on_trial_result(None, trial["tune"], result)
            finished = trial["epoch"] >= MAX_EPOCH
            if finished or action == TrialScheduler.STOP:
                if scheduler is not None:
                    scheduler.on_trial_complete(None, trial["tune"], result)
                state = TrialState.COMPLETE if finished else TrialState.PRUNED
                curve = tuple((e + 1, float(v)) for e, v in enumerate(trial["curve"][:trial["epoch"]]))
                strategy.tell(trial["id"], TrialResult(value, state, step=trial["epoch"], curve=curve))
                del running[worker]
            if reached is not None or spent >= cap:
                done = True
                break
    return {"strategy": strategy_name, "scheduler": scheduler_kind, "task": task, "seed": seed,
            "epochs_to_target": reached, "best": best, "epochs": spent, "trials": trials}


def _one(args: tuple) -> list[dict]:
    """The baseline for (task, seed), then every pair against its target."""
    task, seed, strategies, schedulers, workers, grace_period = args
    base = run_pair("random", "none", task, seed, max_trials=BASELINE_TRIALS, cap=CAP,
                    workers=workers)
    target = base["best"]
    # the baseline's own epochs to target: when it first saw the value it ends with
    base = run_pair("random", "none", task, seed, target=target, max_trials=BASELINE_TRIALS,
                    workers=workers)
    rows = [{**base, "target": target, "baseline": True}]
    for strategy in strategies:
        for scheduler in schedulers:
            if (strategy, scheduler) == ("random", "none"):
                continue
            started = time.perf_counter()
            row = run_pair(strategy, scheduler, task, seed, target=target, workers=workers,
                           grace_period=grace_period)
            rows.append({**row, "target": target, "baseline": False,
                         "seconds": round(time.perf_counter() - started, 2)})
    return rows


def summarise(rows: list[dict]) -> list[dict]:
    """Per pair: how often it reached the target within 5,200 epochs, the median epochs it
    took (runs that did not reach it count as 5,200), and the median speed-up against the
    baseline on the same task and seed (baseline epochs / pair epochs)."""
    baseline = {(r["task"], r["seed"]): r["epochs_to_target"] for r in rows if r["baseline"]}
    pairs: dict[tuple[str, str], list[dict]] = {}
    for row in rows:
        pairs.setdefault((row["strategy"], row["scheduler"]), []).append(row)
    table = []
    for (strategy, scheduler), own in pairs.items():
        epochs = [r["epochs_to_target"] or CAP for r in own]
        speedups = [baseline[(r["task"], r["seed"])] / (r["epochs_to_target"] or CAP) for r in own]
        table.append({
            "strategy": strategy, "scheduler": scheduler, "runs": len(own),
            "reached": sum(r["epochs_to_target"] is not None for r in own),
            "median_epochs": statistics.median(epochs),
            "median_speedup": statistics.median(speedups),
            "geomean_speedup": math.exp(statistics.fmean(math.log(s) for s in speedups)),
        })
    order = {name: i for i, name in enumerate(STRATEGIES)}
    table.sort(key=lambda r: (order[r["strategy"]], SCHEDULERS.index(r["scheduler"])))
    return table


def markdown(table: list[dict]) -> str:
    lines = ["| strategy | scheduler | reached target | median epochs to target | median speed-up | geometric-mean speed-up |",
             "|---|---|---|---|---|---|"]
    for r in table:
        lines.append(f"| {r['strategy']} | {r['scheduler']} | {r['reached']}/{r['runs']} | "
                     f"{r['median_epochs']:.0f} | {r['median_speedup']:.1f}x | {r['geomean_speedup']:.1f}x |")
    return "\n".join(lines)


def mnist_campaigns(example: Path, store: str) -> list[dict]:
    """The example campaign with its scheduler, without, and with its scheduler and a budget of
    as many epochs as the campaign without (``budget: {epochs: trials x max_epochs}``): one row
    per (variant, strategy)."""
    import yaml

    from sweepforge.search import Campaign
    from sweepforge.search.config import parse_campaign_config

    raw = yaml.safe_load(example.read_text())
    budget = raw["budget"]
    same_epochs = {"epochs": budget["trials"] * budget["max_epochs"],
                   "max_epochs": budget["max_epochs"]}
    variants = [("asha", raw["scheduler"], budget), ("none", None, budget),
                ("asha, same epochs", raw["scheduler"], same_epochs)]
    rows = []
    for label, scheduler, variant_budget in variants:
        variant = {**raw, "name": f"{raw['name']}-{label.replace(', ', '-').replace(' ', '-')}",
                   "scheduler": scheduler, "budget": variant_budget}
        started = time.perf_counter()
        result = Campaign(parse_campaign_config(variant), tracking_uri=store).run()
        seconds = time.perf_counter() - started
        for row in result.summary.to_dict("records"):
            rows.append({"scheduler": label,
                         "strategy": row["strategy"], "trials": row["trials"],
                         "pruned": row["pruned"], "epochs": row["epochs"],
                         "best_val": row["best_value"], "test_of_best": row["test_value"],
                         "campaign_s": round(seconds, 1)})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=10, help="the first N of TASKS")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--strategies", default=",".join(DEFAULT_STRATEGIES),
                        help=f"of {', '.join(STRATEGIES)}")
    parser.add_argument("--schedulers", default=",".join(SCHEDULERS))
    parser.add_argument("--workers", type=int, default=2, help="simulated parallel trials")
    parser.add_argument("--grace-period", type=int, default=GRACE_PERIOD)
    parser.add_argument("--jobs", type=int, default=1, help="processes")
    parser.add_argument("--json", type=Path, default=None, help="write every run here")
    parser.add_argument("--mnist", action="store_true", help="the real MNIST campaign instead")
    parser.add_argument("--store", default="sqlite:///early-stopping-mlflow.db")
    args = parser.parse_args(argv)

    if args.mnist:
        example = Path(__file__).resolve().parents[1] / "examples" / "asha_mnist.yaml"
        rows = mnist_campaigns(example, args.store)
        print("| scheduler | strategy | trials | pruned | epochs trained | best val accuracy "
              "| test accuracy of best | campaign wall time |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            test = "-" if r["test_of_best"] is None or r["test_of_best"] != r["test_of_best"] \
                else f"{r['test_of_best']:.4f}"
            print(f"| {r['scheduler']} | {r['strategy']} | {r['trials']} | {r['pruned']} | "
                  f"{r['epochs']} | {r['best_val']:.4f} | {test} | {r['campaign_s']:.0f} s |")
        return 0

    strategies = args.strategies.split(",")
    schedulers = args.schedulers.split(",")
    jobs = [(task, seed, strategies, schedulers, args.workers, args.grace_period)
            for task in TASKS[: args.tasks] for seed in range(args.seeds)]
    started = time.perf_counter()
    rows: list[dict] = []
    with Pool(args.jobs) if args.jobs > 1 else nullcontext() as pool:
        for done, part in enumerate(pool.imap_unordered(_one, jobs) if pool else map(_one, jobs), 1):
            rows += part
            print(f"  {done}/{len(jobs)} task/seed pairs", flush=True)
            if args.json:  # after every pair: a kill loses one pair, not all
                args.json.write_text(json.dumps({"rows": rows, "table": summarise(rows)}, indent=1))
    table = summarise(rows)
    print(f"# {args.tasks} tasks x {args.seeds} seeds, {args.workers} workers, grace period "
          f"{args.grace_period}; "
          f"{platform.processor() or platform.machine()}, {time.perf_counter() - started:.0f} s")
    print(markdown(table))
    if args.json:
        args.json.write_text(json.dumps({"rows": rows, "table": table}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
