"""Example ask cost: does any strategy's ``ask()`` cost more than half a trial on the campaign
examples (issue 20)? The campaign's :class:`StrategyBottleneckWarning` must stay quiet on them.

For every campaign file ``examples/**/*.yaml``, planned as ``sweepforge run`` plans it, each
strategy is driven through the example's whole trial budget as the campaign's searcher asks it
(the strategy with the fewest asks goes next; as many trials in flight as the campaign runs at
once, the oldest told first; under PBT the whole population is asked before any tell). Each
trial is told a synthetic finite value per objective (a function of the config's numbers plus
a seeded random term), and every ``ask()`` is timed. One trial of the example's trainable is
then trained for real, in this process with one torch thread (no Ray: a lower bound on what a
worker's trial takes), with the first config ``random`` (else the first strategy) proposed;
it is trained twice and the second, warm, training is timed (see :func:`trial_seconds`).

The verdict is :class:`AskCost`'s rule, with its defaults (``share``, ``window``): it warns
once ``workers`` x the median of the last ``window`` asks exceeds ``share`` x the median trial,
judged after every ask, so ``ratio`` is workers x the worst such window's median / the trial
time (with fewer than ``window`` asks, where it cannot warn yet, the median of all asks), and
``quiet`` when ``ratio <= share``. The asks are also fed to an ``AskCost`` of the campaign's
workers that has seen that trial time: the JSON's ``askcost_warned`` is whether it warned.

    python benchmarks/example_ask_cost.py --json /tmp/example_ask_cost.json
    python benchmarks/example_ask_cost.py --examples quickstart --trials 5 --max-epochs 1
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # before torch is imported: one core per trial

import argparse
import inspect
import json
import math
import random
import statistics
import sys
import time
import warnings
from collections import deque
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from sweepforge.search.config import load_campaign_config
from sweepforge.search.plan import plan_campaign
from sweepforge.search.tune.ask_cost import AskCost
from sweepforge.search.tune.ray_setup import concurrency

ROOT = Path(__file__).resolve().parents[1]
SHARE = AskCost(workers=1).share
WINDOW = inspect.signature(AskCost).parameters["window"].default
EXAMPLES = ROOT / "examples"


def workers(config: Any) -> int:
    """Trials at once, by the campaign's own rule (:func:`concurrency`), on the local Ray a
    campaign on this machine starts: every CPU (and GPU) of it."""
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    gpus = 0
    if config.resources.gpu > 0:
        import torch

        gpus = torch.cuda.device_count()
    return concurrency(config, available={"CPU": cpus or 1, "GPU": gpus})


def synthetic(config: dict[str, Any], metric: int, rng: random.Random) -> float:
    """A finite value for objective number ``metric``: the config's numbers, plus noise."""
    numbers = [float(v) for v in config.values()
               if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return math.tanh(sum(math.log1p(abs(v)) for v in numbers) / (1 + metric)) + rng.gauss(0, 0.05)


def drive(planned: Any, at_once: int, cap: int | None) -> tuple[dict[str, list[float]], dict]:
    """Every strategy asked and told through its budget (its first ``cap`` asks with a cap),
    as the campaign's searcher does; each ask's seconds, and each strategy's first config."""
    strategies = {name: planned.new_strategy(name) for name in planned.strategies}
    objectives, rng = planned.objectives, random.Random(planned.config.seed)
    asks: dict[str, list[float]] = {name: [] for name in strategies}
    first: dict[str, dict[str, Any]] = {}
    in_flight: deque[tuple[str, int, dict[str, Any]]] = deque()
    done: set[str] = set()

    def tell_oldest() -> None:
        name, trial_id, config = in_flight.popleft()
        metrics = {m: synthetic(config, i, rng) for i, m in enumerate(objectives.metrics)}
        strategies[name].tell(trial_id, objectives.result(metrics))

    while len(done) < len(strategies):
        name = min((n for n in strategies if n not in done), key=lambda n: len(asks[n]))
        if len(in_flight) >= at_once:
            tell_oldest()
        started = time.perf_counter()
        spec = strategies[name].ask()
        seconds = time.perf_counter() - started
        if spec is None:
            done.add(name)
            continue
        asks[name].append(seconds)
        first.setdefault(name, spec.config)
        in_flight.append((name, spec.trial_id, spec.config))
        if cap is not None and len(asks[name]) >= cap:
            done.add(name)
    while in_flight:
        tell_oldest()
    return asks, first


def trial_seconds(planned: Any, config: dict[str, Any], max_epochs: int | None
                  ) -> tuple[float, int | None]:
    """Seconds to train ``config`` in this process, as a worker trains it, and the epochs it
    trained (``None``: the trainable has no ``epochs`` knob). Trained twice, the second timed:
    the first pays start-up costs (torch's, about 1 s in a fresh process) that a campaign's
    reused worker pays once, not in the median trial its warning compares with."""
    import torch

    torch.set_num_threads(1)
    values = {**planned.fixed, **config}
    if max_epochs is not None and isinstance(values.get("epochs"), int):
        values["epochs"] = min(values["epochs"], max_epochs)
    spec = planned.trainable
    trial_config = spec.make_config(values)
    for _ in range(2):
        started = time.perf_counter()
        spec.train(trial_config, planned.data, None, device="cpu", seed=planned.config.seed)
    epochs = getattr(trial_config, "epochs", None)
    return time.perf_counter() - started, epochs if isinstance(epochs, int) else None


def verdict(name: str, asks: list[float], at_once: int, trial_s: float | None) -> dict:
    """The row of strategy ``name``: its ask times and what :class:`AskCost` makes of them."""
    windows = [statistics.median(asks[i:i + WINDOW]) for i in range(len(asks) - WINDOW + 1)]
    worst = max(windows) if windows else statistics.median(asks)
    row = {"strategy": name, "asks": len(asks), "median_ask_ms": statistics.median(asks) * 1e3,
           "max_ask_ms": max(asks) * 1e3,
           "last_window_median_ms": statistics.median(asks[-WINDOW:]) * 1e3,
           "worst_window_median_ms": worst * 1e3, "trial_s": trial_s, "ratio": None,
           "quiet": None, "askcost_warned": None}
    if trial_s is not None:
        cost = AskCost(workers=at_once)  # the warning itself, after trials of ``trial_s``
        for _ in range(WINDOW):
            cost.trained(trial_s)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for n, seconds in enumerate(asks, 1):
                cost.asked(name, seconds, n)
        row["ratio"] = at_once * worst / trial_s
        row["quiet"], row["askcost_warned"] = row["ratio"] <= SHARE, name in cost.warned
    return row


def measure(path: Path, cap: int | None, max_epochs: int | None) -> tuple[list[dict], str]:
    """The rows of one campaign file, and a note (why its trial could not be trained)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # (plan warnings, Optuna's experimental ones)
        planned = plan_campaign(load_campaign_config(path))
        scheduler = planned.config.scheduler
        at_once = workers(planned.config)
        pbt = scheduler is not None and scheduler.type == "pbt"
        asks, first = drive(planned, 10**9 if pbt else at_once, cap)
    config = first.get("random", next(iter(first.values())))
    note, trial_s, epochs = "", None, None
    try:
        trial_s, epochs = trial_seconds(planned, config, max_epochs)
    except Exception as err:  # noqa: BLE001  (say why, never fake a trial time)
        note = f"{path.stem}: its trial could not be trained in-process: {err!r}"
    rows = [{"example": path.relative_to(EXAMPLES).with_suffix("").as_posix(),
             "trials_at_once": at_once, "epochs": epochs,
             **verdict(name, asks[name], at_once, trial_s)} for name in asks if asks[name]]
    return rows, note


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", default="",
                        help="comma-separated file stems (default: every examples/**/*.yaml)")
    parser.add_argument("--trials", type=int, default=None, help="at most N asks per strategy")
    parser.add_argument("--max-epochs", type=int, default=None,
                        help="at most N epochs for the trained trial")
    parser.add_argument("--json", type=Path, default=None, help="write the rows there")
    args = parser.parse_args(argv)
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    paths = sorted(EXAMPLES.rglob("*.yaml"))
    if args.examples:
        wanted = {s.strip() for s in args.examples.split(",") if s.strip()}
        paths = [p for p in paths if p.stem in wanted]
    wall = time.perf_counter()
    rows: list[dict] = []
    notes: list[str] = []
    print(f"| example | strategy | trials at once | asks | median ask (ms) | max ask (ms) | "
          f"last-{WINDOW} median (ms) | worst {WINDOW} median (ms) | trial time (s) | ratio | "
          "quiet |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for path in paths:
        try:
            found, note = measure(path, args.trials, args.max_epochs)
        except Exception as err:  # noqa: BLE001  (one example that does not plan: say so)
            found, note = [], f"{path.stem}: not measured: {err!r}"
        notes += [note] if note else []
        for r in found:
            epochs = r["epochs"] or "-"
            trial = "n/a" if r["trial_s"] is None else f"{r['trial_s']:.2f} ({epochs} ep)"
            ratio = "n/a" if r["ratio"] is None else f"{r['ratio']:.4f}"
            quiet = {None: "n/a", True: "yes", False: "**no**"}[r["quiet"]]
            print(f"| {r['example']} | {r['strategy']} | {r['trials_at_once']} | {r['asks']} | "
                  f"{r['median_ask_ms']:.2f} | {r['max_ask_ms']:.2f} | "
                  f"{r['last_window_median_ms']:.2f} | {r['worst_window_median_ms']:.2f} | "
                  f"{trial} | {ratio} | {quiet} |", flush=True)
        rows += found
    for note in notes:
        print(f"\n{note}")
    disagree = [f"{r['example']}/{r['strategy']}" for r in rows
                if r["quiet"] is not None and r["quiet"] == r["askcost_warned"]
                and r["asks"] >= WINDOW]
    print(f"\nquiet: ratio <= AskCost's share ({SHARE}), ratio = trials at once x the worst "
          f"median of {WINDOW} successive asks (of all, below {WINDOW}) / trial time; "
          f"AskCost itself disagrees on: {', '.join(disagree) or 'none'}. "
          f"Wall time {time.perf_counter() - wall:.0f} s.")
    if args.json is not None:
        args.json.write_text(json.dumps({"share": SHARE, "window": WINDOW, "rows": rows,
                                         "notes": notes}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
