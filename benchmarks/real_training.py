"""The ``auto`` strategy against plain Optuna TPE on real training (issue 20), not a surrogate.

Two campaigns of the examples, trained in this process (no Ray, no MLflow) with the bundled
trainables (``get_trainable(...).train``), as a campaign's worker trains them:

* ``mlp``: the quickstart's space (``examples/quickstart.yaml``) on scikit-learn's digits,
  ``budget.max_epochs`` (15) epochs per trial;
* ``cnn``: the space of ``examples/cnn_digits.yaml`` on the 5,000-image MNIST subset
  (``dataset: mnist``), its ``max_epochs`` (8) epochs per trial.

Contestants, each given the same trial budget and seed:

* ``auto``: sweepforge's strategy, driven through ``make_strategy("auto", ...)`` and
  ``ask``/``tell`` as a campaign drives it;
* ``plain_optuna_tpe``: what a user writes with Optuna alone, ``TPESampler(seed=seed)`` with
  its defaults and ``study.optimize``, the config filled by ``Space.suggest(trial)``.

A trial's value is the last epoch's ``val_accuracy`` (what a campaign tells its strategy); its
``test_accuracy`` is from the same training run. Trial ``i`` of search seed ``s`` trains with
seed ``1000 * s + i`` under either contestant, so the two are paired on training noise; the
data split is the campaign's (``seed: 0``) for every run. Reported at 10, 25 and 50 trials: the
best validation accuracy so far (the first trial to reach it, as a campaign picks its best) and
that trial's test accuracy, as means over seeds, and per seed how often ``auto`` is >= or <
plain TPE. The best config of each run (at the full budget) is then trained ``--retrain``
more times with seeds that both contestants share (``100_000 + j``): its mean test accuracy
tells a good config from a lucky training seed.

Each (trainable, seed, contestant) run is written to the JSON file as soon as it ends, with
every trial's config, values and seconds; ``--resume`` keeps the runs a killed invocation
already wrote and trains only the others.

    python benchmarks/real_training.py                     # as recorded: mlp 10 seeds, cnn 2
    python benchmarks/real_training.py --trainables mlp --seeds 10 --trials 50
    python benchmarks/real_training.py --seeds mlp=10,cnn=10 --resume   # the issue's protocol
    python benchmarks/real_training.py --quick             # 1 seed x 4 trials x 1 epoch, both
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: one core per process

import argparse
import json
import math
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script: the repo root

RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_JSON = RESULTS / "real_training.json"
AUTO = "auto"
PLAIN = "plain_optuna_tpe"
CONTESTANTS = (AUTO, PLAIN)
BUDGETS = (10, 25, 50)
RETRAIN_SEED = 100_000  # retraining j of a run's best config trains with this seed + j


@dataclass(frozen=True)
class Case:
    """One campaign to search: the trainable, its dataset and the campaign file whose
    ``space:`` and ``budget.max_epochs`` it takes."""

    trainable: str
    dataset: str
    campaign: str
    seeds: int  # search seeds of the recorded run: what fits ~50 min of one core (a CNN
    #             trial on MNIST-5k takes 8-13 s there, an MLP trial on digits 0.5 s)

    def raw(self) -> dict[str, Any]:
        return yaml.safe_load((ROOT / self.campaign).read_text())

    def space_dict(self) -> dict[str, Any]:
        return self.raw()["space"]

    def max_epochs(self) -> int:
        return int(self.raw()["budget"]["max_epochs"])


CASES = {
    "mlp": Case("mlp", "digits", "examples/quickstart.yaml", seeds=10),
    "cnn": Case("cnn", "mnist", "examples/cnn_digits.yaml", seeds=2),
}


def training_seed(seed: int, trial: int) -> int:
    """The training seed of trial ``trial`` of search seed ``seed``: the same for either
    contestant, so they are paired on the trainable's noise."""
    return 1000 * seed + trial


# --- one trial, one run -------------------------------------------------------------------

class Trainer:
    """Trains one config of ``case`` on its data (loaded once) and times it."""

    def __init__(self, case: Case, epochs: int):
        from sweepforge.trainables import get_trainable, load_dataset

        self.case, self.epochs = case, epochs
        self.spec = get_trainable(case.trainable)
        self.data = load_dataset(case.dataset, seed=0)  # the campaign's split (seed: 0)

    def __call__(self, config: dict[str, Any], seed: int) -> dict[str, Any]:
        started = time.perf_counter()
        metrics = self.spec.train({**config, "epochs": self.epochs}, self.data, report=None,
                                  device="cpu", seed=seed)
        return {
            "config": config,
            "train_seed": seed,
            "val_accuracy": _number(metrics.get("val_accuracy")),
            "test_accuracy": _number(metrics.get("test_accuracy")),
            "seconds": time.perf_counter() - started,
        }


def _number(value: Any) -> float | None:
    """A finite float, or ``None`` (a diverged trial's NaN; JSON has no NaN)."""
    return float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None


def run_auto(space: Any, train: Callable[[dict, int], dict], trials: int, seed: int
             ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """``trials`` trials of sweepforge's ``auto``, asked and told one at a time; its trials
    and the plan it chose (which model from which trial, and why)."""
    from sweepforge.search import TrialResult, make_strategy

    strategy = make_strategy(AUTO, space, budget=trials, seed=seed, mode="max")
    plan = [{"first": d.first, "model": d.model, "why": d.why} for d in strategy.decisions]
    records = []
    while True:
        started = time.perf_counter()
        spec = strategy.ask()
        asked = time.perf_counter() - started
        if spec is None:
            break
        record = train(spec.config, training_seed(seed, spec.trial_id))
        record["ask_seconds"] = asked
        value = record["val_accuracy"]
        strategy.tell(spec.trial_id, TrialResult(value=math.nan if value is None else value))
        records.append(record)
    return records, plan


def run_plain_tpe(space: Any, train: Callable[[dict, int], dict], trials: int, seed: int
                  ) -> list[dict[str, Any]]:
    """``trials`` trials of plain Optuna: ``TPESampler(seed=seed)``, defaults, ``optimize``."""
    import optuna

    records: list[dict[str, Any]] = []

    def objective(trial: optuna.Trial) -> float:
        record = train(space.suggest(trial), training_seed(seed, trial.number))
        records.append(record)
        value = record["val_accuracy"]
        return math.nan if value is None else value  # Optuna counts a NaN trial as failed

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=trials)
    return records


def retrain_best(run: dict[str, Any], train: Callable[[dict, int], dict], budget: int,
                 count: int) -> None:
    """Trains the run's best config (of its first ``budget`` trials) ``count`` times more, with
    seeds ``RETRAIN_SEED + j`` whichever contestant found it: how good the config is, apart
    from the lucky training seed that made it the best (kept in ``run["retrained"]``)."""
    best = best_trial(run["trials"], budget)
    done = run.setdefault("retrained", [])
    while best is not None and len(done) < count:
        record = train(best["config"], RETRAIN_SEED + len(done))
        done.append({k: v for k, v in record.items() if k != "config"})


# --- scoring ------------------------------------------------------------------------------

def best_trial(trials: Sequence[dict[str, Any]], budget: int) -> dict[str, Any] | None:
    """The first of the first ``budget`` trials with the best ``val_accuracy`` (a campaign's
    best: a later tie does not replace it), or ``None`` when none has a value."""
    best: dict[str, Any] | None = None
    for trial in trials[:budget]:
        value = trial["val_accuracy"]
        if value is not None and (best is None or value > best["val_accuracy"]):
            best = trial
    return best


def best_at(trials: Sequence[dict[str, Any]], budget: int) -> tuple[float, float]:
    """Best ``val_accuracy`` among the first ``budget`` trials and the ``test_accuracy`` of the
    first trial that reached it (NaN, NaN when none has a value)."""
    best = best_trial(trials, budget)
    if best is None:
        return math.nan, math.nan
    test = best["test_accuracy"]
    return float(best["val_accuracy"]), math.nan if test is None else float(test)


def summary(runs: dict[str, Any], trainable: str, seeds: Sequence[int], budgets: Sequence[int]
            ) -> dict[str, Any]:
    """Per budget: each contestant's mean and standard deviation over ``seeds`` of the best
    validation accuracy and of its test accuracy, and the paired count of seeds where ``auto``
    is >= / < plain TPE (on each), with the mean paired difference and its spread."""
    table: dict[str, Any] = {}
    for budget in budgets:
        scores = {name: np.array([best_at(runs[run_key(trainable, seed, name)]["trials"], budget)
                                  for seed in seeds]).reshape(len(seeds), 2)
                  for name in CONTESTANTS}
        row: dict[str, Any] = {}
        for name, values in scores.items():
            row[name] = {
                "val_mean": float(values[:, 0].mean()), "val_std": _std(values[:, 0]),
                "test_mean": float(values[:, 1].mean()), "test_std": _std(values[:, 1]),
            }
        for column, metric in ((0, "val"), (1, "test")):
            diff = scores[AUTO][:, column] - scores[PLAIN][:, column]
            row[f"auto_minus_plain_{metric}"] = {
                "mean": float(diff.mean()), "std": _std(diff),
                "auto_ge": int((diff >= -1e-12).sum()), "auto_lt": int((diff < -1e-12).sum()),
            }
        table[str(budget)] = row
    retrained = _retrained(runs, trainable, seeds)
    if retrained:
        table["retrained"] = retrained
    table["seconds"] = {}
    for name in CONTESTANTS:
        runs_of = [runs[run_key(trainable, seed, name)] for seed in seeds]
        n_trials = sum(len(run["trials"]) for run in runs_of)
        train_s = sum(run["train_seconds"] for run in runs_of)
        table["seconds"][name] = {"train_per_trial": train_s / n_trials,
                                  "other_per_trial": (sum(run["seconds"] for run in runs_of)
                                                      - train_s) / n_trials}
    return table


def _retrained(runs: dict[str, Any], trainable: str, seeds: Sequence[int]) -> dict[str, Any]:
    """The best configs (at the full budget) trained again: per contestant, the mean over seeds
    of each config's mean val / test accuracy over its retrainings, and the paired counts on
    the test accuracy; empty when some run has not been retrained."""
    counts = [len(runs[run_key(trainable, seed, name)].get("retrained", []))
              for seed in seeds for name in CONTESTANTS]
    if not counts or min(counts) == 0:
        return {}
    n = min(counts)

    def mean_of(seed: int, name: str, metric: str) -> float:
        values = [r[metric] for r in runs[run_key(trainable, seed, name)]["retrained"][:n]]
        return float(np.mean([math.nan if v is None else v for v in values]))

    table: dict[str, Any] = {"retrainings": n}
    for name in CONTESTANTS:
        test = np.array([mean_of(seed, name, "test_accuracy") for seed in seeds])
        val = np.array([mean_of(seed, name, "val_accuracy") for seed in seeds])
        table[name] = {"val_mean": float(val.mean()), "test_mean": float(test.mean()),
                       "test_std": _std(test)}
    diff = np.array([mean_of(seed, AUTO, "test_accuracy") - mean_of(seed, PLAIN, "test_accuracy")
                     for seed in seeds])
    table["auto_minus_plain_test"] = {"mean": float(diff.mean()), "std": _std(diff),
                                      "auto_ge": int((diff >= -1e-12).sum()),
                                      "auto_lt": int((diff < -1e-12).sum())}
    return table


def _std(values: np.ndarray) -> float:
    return float(values.std(ddof=1)) if len(values) > 1 else 0.0


def run_key(trainable: str, seed: int, contestant: str) -> str:
    return f"{trainable}/{seed}/{contestant}"


# --- the command --------------------------------------------------------------------------

def parse_counts(text: str | None, trainables: Sequence[str], defaults: dict[str, int],
                 option: str) -> dict[str, int]:
    """``--seeds`` / ``--epochs``: ``N`` for every trainable, or ``mlp=10,cnn=3`` (the others
    keep ``defaults``)."""
    counts = {name: defaults[name] for name in trainables}
    if not text:
        return counts
    if "=" not in text:
        return dict.fromkeys(trainables, int(text))
    for part in text.split(","):
        name, _, count = part.partition("=")
        if name.strip() not in counts:
            raise SystemExit(f"{option}: {name.strip()!r} is not one of {list(trainables)}")
        counts[name.strip()] = int(count)
    return counts


def versions() -> dict[str, str]:
    import optuna
    import torch

    return {"python": platform.python_version(), "torch": torch.__version__,
            "optuna": optuna.__version__, "numpy": np.__version__,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {_cpu_name()}"}


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def save(path: Path | None, payload: dict[str, Any]) -> None:
    """Writes ``payload`` to ``path`` whole or not at all (a kill mid-write keeps the last)."""
    if path is None:
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(json.dumps(payload, indent=1))
    os.replace(partial, path)


def print_table(trainable: str, table: dict[str, Any], n_seeds: int) -> None:
    print(f"\n{trainable} ({n_seeds} seeds): best val accuracy (mean ± sd over seeds) and the "
          "test accuracy of that config")
    print("| budget | contestant | best val | its test | seeds auto >= / < plain (val) "
          "| (test) |")
    print("|---:|---|---:|---:|---:|---:|")
    for budget, row in table.items():
        if not budget.isdigit():
            continue
        for name in CONTESTANTS:
            cell = row[name]
            counts = ["", ""]
            if name == AUTO:
                counts = [f"{row[f'auto_minus_plain_{m}']['auto_ge']} / "
                          f"{row[f'auto_minus_plain_{m}']['auto_lt']}" for m in ("val", "test")]
            print(f"| {budget} | {name} | {cell['val_mean']:.4f} ± {cell['val_std']:.4f} "
                  f"| {cell['test_mean']:.4f} ± {cell['test_std']:.4f} | {counts[0]} "
                  f"| {counts[1]} |")
    retrained = table.get("retrained")
    if retrained:
        diff = retrained["auto_minus_plain_test"]
        full = max(int(budget) for budget in table if budget.isdigit())
        print(f"best configs at {full} trials trained {retrained['retrainings']} times "
              "more: " + ", ".join(
                  f"{name} val {retrained[name]['val_mean']:.4f}, test "
                  f"{retrained[name]['test_mean']:.4f} ± {retrained[name]['test_std']:.4f}"
                  for name in CONTESTANTS)
              + f"; seeds auto >= / < plain (test): {diff['auto_ge']} / {diff['auto_lt']}")
    for name, cost in table["seconds"].items():
        print(f"{name}: {cost['train_per_trial']:.2f} s training and "
              f"{cost['other_per_trial']:.3f} s else (asks, tells) per trial")


def resumed(old: dict[str, Any], new: dict[str, Any], trainables: Sequence[str]
            ) -> dict[str, Any]:
    """``new``'s payload with ``old``'s runs: those of other trainables as they were (with
    their protocol and summary), those of ``trainables`` when they have ``new``'s trials and
    epochs (and are among its seeds)."""
    merged = {**new, "runs": {}, "summary": dict(old.get("summary", {})),
              "protocol": {**new["protocol"]}}
    old_protocol = old.get("protocol", {})
    for field in ("seeds", "epochs", "cases"):
        merged["protocol"][field] = {**old_protocol.get(field, {}), **new["protocol"][field]}
    merged["started"] = old.get("started", new["started"])
    if "finished" in old:
        merged["finished"] = old["finished"]
    protocol = new["protocol"]
    for key, run in old.get("runs", {}).items():
        name = run["trainable"]
        same = name in trainables and len(run["trials"]) == protocol["trials"] \
            and run["epochs"] == protocol["epochs"][name] and run["seed"] in protocol["seeds"][name]
        if name not in trainables or same:
            merged["runs"][key] = run
    for name in trainables:
        merged["summary"].pop(name, None)
    return merged


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trainables", default="mlp,cnn",
                        help=f"comma-separated, of {list(CASES)} (default: both)")
    parser.add_argument("--seeds", default=None,
                        help="N (seeds 0..N-1 for each) or mlp=10,cnn=10 (default: "
                             + ", ".join(f"{n}={c.seeds}" for n, c in CASES.items()) + ")")
    parser.add_argument("--trials", type=int, default=50, help="trials per run (default 50)")
    parser.add_argument("--epochs", default=None,
                        help="epochs per trial, N or mlp=15,cnn=8 (default: the campaign's "
                             "max_epochs)")
    parser.add_argument("--json", type=Path, default=None,
                        help=f"results file (default {DEFAULT_JSON.relative_to(ROOT)}; none "
                             "with --quick)")
    parser.add_argument("--resume", action="store_true",
                        help="keep the runs the JSON file already holds (same settings)")
    parser.add_argument("--retrain", type=int, default=3,
                        help="train each run's best config this many times more, with other "
                             "seeds (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true",
                        help="1 seed x 4 trials x 1 epoch, 1 retraining")
    args = parser.parse_args(argv)

    import optuna
    import torch

    torch.set_num_threads(1)
    optuna.logging.set_verbosity(optuna.logging.WARNING)  # (a line per trial otherwise)
    trainables = [t.strip() for t in args.trainables.split(",") if t.strip()]
    unknown = [t for t in trainables if t not in CASES]
    if unknown:
        parser.error(f"unknown trainables {unknown}; known: {list(CASES)}")
    if args.quick:
        seeds = dict.fromkeys(trainables, [0])
        trials = 4
        epochs = dict.fromkeys(trainables, 1)
        args.retrain = min(args.retrain, 1)
    else:
        counts = parse_counts(args.seeds, trainables, {n: CASES[n].seeds for n in trainables},
                              "--seeds")
        seeds = {name: list(range(count)) for name, count in counts.items()}
        trials = args.trials
        epochs = parse_counts(args.epochs, trainables,
                              {n: CASES[n].max_epochs() for n in trainables}, "--epochs")
    path = args.json if args.json is not None else (None if args.quick else DEFAULT_JSON)
    budgets = sorted({b for b in BUDGETS if b <= trials} | {trials})

    payload: dict[str, Any] = {
        "protocol": {"trials": trials, "seeds": seeds, "epochs": epochs, "budgets": budgets,
                     "training_seed": "1000 * seed + trial", "data_split_seed": 0,
                     "retrain": args.retrain, "retrain_seed": f"{RETRAIN_SEED} + j",
                     "cases": {n: {"trainable": CASES[n].trainable, "dataset": CASES[n].dataset,
                                   "campaign": CASES[n].campaign} for n in trainables}},
        "versions": versions(),
        "started": time.strftime("%Y-%m-%d %H:%M:%S"),
        "runs": {},
        "summary": {},
    }
    if args.resume and path is not None and path.exists():
        payload = resumed(json.loads(path.read_text()), payload, trainables)
        kept = sum(key.split("/")[0] in trainables for key in payload["runs"])
        print(f"resuming: {kept} runs kept from {path}", flush=True)

    from sweepforge.spaces import Space

    wall = time.perf_counter()
    for name in trainables:
        case = CASES[name]
        space = Space.from_dict(case.space_dict())
        train = Trainer(case, epochs[name])
        for seed in seeds[name]:
            for contestant in CONTESTANTS:  # paired, back to back: the same load on both
                key = run_key(name, seed, contestant)
                if key in payload["runs"]:
                    continue
                started = time.perf_counter()
                plan = None
                if contestant == AUTO:
                    records, plan = run_auto(space, train, trials, seed)
                else:
                    records = run_plain_tpe(space, train, trials, seed)
                seconds = time.perf_counter() - started
                payload["runs"][key] = {"trainable": name, "seed": seed, "contestant": contestant,
                                        "epochs": epochs[name], "seconds": seconds,
                                        "train_seconds": sum(r["seconds"] for r in records),
                                        "plan": plan, "trials": records}
                best = best_at(records, trials)
                print(f"{key}: best val {best[0]:.4f} (test {best[1]:.4f}) in {seconds:.0f} s",
                      flush=True)
                payload["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
                save(path, payload)
        for seed in seeds[name]:
            for contestant in CONTESTANTS:
                run = payload["runs"][run_key(name, seed, contestant)]
                if len(run.get("retrained", [])) < args.retrain:
                    retrain_best(run, train, trials, args.retrain)
                    payload["finished"] = time.strftime("%Y-%m-%d %H:%M:%S")
                    save(path, payload)
        payload["summary"][name] = summary(payload["runs"], name, seeds[name], budgets)
        save(path, payload)
        print_table(name, payload["summary"][name], len(seeds[name]))
    print(f"\nwall time {time.perf_counter() - wall:.0f} s", flush=True)
    return payload


if __name__ == "__main__":
    main()
