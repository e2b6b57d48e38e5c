"""How the campaign report scales: 10,000 trial runs across four strategies.

A synthetic campaign is written to a SQLite MLflow store in sweepforge's layout (campaign ->
strategy -> trial runs, the same tags, every knob as a param, per-epoch metrics with
step = epoch, about 4% failed trials). The store is built once (through the public MLflow client,
three writes per run: a few minutes) and reused by later runs of the script.

Measured, each the median of ``--runs`` runs:

* **build**: ``write_report`` end to end in a fresh Python process, imports included (read the
  store, compute every view, fANOVA importance, write the HTML); its CPU time (a figure that a
  busy shared machine disturbs less than wall time); and the whole process's wall time;
* **size**: the HTML file;
* **open**: headless Chromium (``/usr/bin/chromium`` + ``chromedriver``) loads the file until every
  plot holds its rendered SVG, one navigation per run in one browser (the first one is a cold
  start of plotly.js).

Usage:
    python benchmarks/report_scale.py                   # 10,000 trials, 3 runs
    python benchmarks/report_scale.py --trials 400 --runs 1   # a quick smoke run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script: the repo root

from mlflow.entities import Metric, Param, RunTag
from mlflow.tracking import MlflowClient

STRATEGIES = ("grid", "random", "optuna", "evolutionary")
EPOCHS = 5
NAME = "report-scale"


def build_store(uri: str, trials: int, seed: int = 0) -> float:
    """Writes the synthetic campaign (``trials`` in all, split over four strategies); seconds."""
    started = time.perf_counter()
    client = MlflowClient(uri)
    experiment = client.create_experiment(NAME)
    rng = random.Random(seed)
    t0 = 1_700_000_000_000  # ms
    campaign_id = "synthetic0001"
    campaign = client.create_run(
        experiment,
        start_time=t0,
        run_name=f"{NAME}-synthetic",
        tags={"sweepforge.kind": "campaign", "sweepforge.campaign_id": campaign_id},
    )
    settings = {
        "trainable": "mlp",
        "dataset": "digits",
        "metric": "val_accuracy",
        "mode": "max",
        "seed": seed,
        "budget.trials": trials // 4,
        "budget.max_epochs": EPOCHS,
        "resources.cpu": 1.0,
        "resources.gpu": 0.0,
        "strategies": ",".join(STRATEGIES),
    }
    client.log_batch(campaign.info.run_id, params=[Param(k, str(v)) for k, v in settings.items()])
    end = t0
    for index, strategy in enumerate(STRATEGIES):
        parent = client.create_run(
            experiment,
            start_time=t0,
            run_name=strategy,
            tags={
                "sweepforge.kind": "strategy",
                "sweepforge.campaign_id": campaign_id,
                "sweepforge.strategy": strategy,
                "mlflow.parentRunId": campaign.info.run_id,
            },
        )
        clock = t0
        for trial_id in range(trials // 4):
            progress = trial_id / max(1, trials // 4)
            config = _config(rng, strategy, progress)
            duration = rng.uniform(2_000, 12_000)
            clock += int(duration / 4 + rng.uniform(0, 500))  # four trials run at a time
            _write_trial(
                client,
                experiment,
                parent.info.run_id,
                campaign_id,
                strategy,
                trial_id,
                config,
                clock,
                duration,
                rng,
            )
            end = max(end, clock + int(duration))
        client.set_terminated(parent.info.run_id, "FINISHED", end_time=end)
        print(f"  wrote {strategy} ({index + 1}/4)", file=sys.stderr, flush=True)
    client.set_terminated(campaign.info.run_id, "FINISHED", end_time=end)
    return time.perf_counter() - started


def _config(rng: random.Random, strategy: str, progress: float) -> dict:
    """A config; model-based strategies drift towards the good region as they go."""
    focus = progress if strategy in ("optuna", "evolutionary") else 0.0
    optimizer = rng.choice(
        ["adam", "adamw"] if rng.random() < focus else ["sgd", "momentum", "adam", "adamw"]
    )
    config = {
        "lr": 10 ** rng.uniform(-4 + 1.5 * focus, -1 - 0.5 * focus),
        "batch_size": rng.choice([32, 64, 128, 256]),
        "optimizer": optimizer,
        "dropout": rng.uniform(0.0, 0.5),
        "init": rng.choice(["he_uniform", "he_normal", "xavier_uniform"]),
        "depth": rng.randint(1, 4),
        "width": int(2 ** rng.uniform(4, 8)),
    }
    if optimizer == "momentum":
        config["momentum"] = rng.uniform(0.5, 0.99)
    return config


def _score(config: dict, rng: random.Random) -> float:
    lr_term = -0.08 * (math.log10(config["lr"]) + 2.5) ** 2
    opt_term = {"sgd": -0.15, "momentum": -0.05, "adam": 0.0, "adamw": 0.01}[config["optimizer"]]
    return min(
        0.99,
        0.93
        + lr_term
        + opt_term
        - 0.1 * config["dropout"] ** 2
        + 0.01 * math.log2(config["width"]) / 8
        + rng.gauss(0, 0.01),
    )


def _write_trial(
    client: MlflowClient,
    experiment: str,
    parent: str,
    campaign_id: str,
    strategy: str,
    trial_id: int,
    config: dict,
    start: int,
    duration: float,
    rng: random.Random,
) -> None:
    run = client.create_run(
        experiment,
        start_time=start,
        run_name=f"{strategy}-{trial_id:04d}",
        tags={
            "sweepforge.kind": "trial",
            "sweepforge.campaign_id": campaign_id,
            "sweepforge.strategy": strategy,
            "sweepforge.trial_id": str(trial_id),
            "sweepforge.config": json.dumps(config, sort_keys=True),
            "mlflow.parentRunId": parent,
            "sweepforge.device": "cpu",
        },
    )
    failed = rng.random() < 0.04
    final = _score(config, rng)
    epochs = 1 if failed else EPOCHS
    metrics = []
    for epoch in range(1, epochs + 1):
        value = final - 0.3 * (EPOCHS - epoch) / EPOCHS * (1 - final)
        stamp = start + int(duration * epoch / EPOCHS)
        metrics += [
            Metric("val_accuracy", float("nan") if failed else value, stamp, epoch),
            Metric("val_loss", 2.0 * (1 - value), stamp, epoch),
            Metric("train_loss", 1.8 * (1 - value), stamp, epoch),
        ]
    if not failed:
        metrics.append(Metric("test_accuracy", final - 0.01, start + int(duration), EPOCHS))
    metrics += [
        Metric("duration_s", duration / 1000, start + int(duration), epochs),
        Metric("epochs_run", float(epochs), start + int(duration), epochs),
    ]
    knobs = {**config, "activation": "relu", "weight_decay": 0.0, "epochs": EPOCHS, "amp": False}
    tags = (
        [RunTag("sweepforge.error", "ValueError: metric 'val_accuracy' is nan")] if failed else []
    )
    client.log_batch(
        run.info.run_id,
        metrics=metrics,
        tags=tags,
        params=[Param(k, repr(v) if isinstance(v, float) else str(v)) for k, v in knobs.items()],
    )
    client.set_terminated(
        run.info.run_id, "FAILED" if failed else "FINISHED", end_time=start + int(duration)
    )


_TIMED_BUILD = """
import sys, time
started = time.perf_counter()
from sweepforge.dashboards import write_report
write_report(sys.argv[1], sys.argv[2], sys.argv[3])
print(time.perf_counter() - started, time.process_time())
"""


def time_build(uri: str, path: Path) -> tuple[float, float, float]:
    """Seconds of write_report (imports included), CPU seconds of that process, and the wall
    seconds of the whole fresh process."""
    started = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", _TIMED_BUILD, NAME, uri, str(path)],
        check=True,
        capture_output=True,
        text=True,
    )
    inside, cpu = (float(v) for v in out.stdout.strip().splitlines()[-1].split())
    return inside, cpu, time.perf_counter() - started


def time_open(paths: list[Path]) -> list[float]:
    """Seconds from navigation to every plot drawn, one navigation per file, one browser."""
    from benchmarks._browser import headless_chromium

    driver = headless_chromium()
    drawn = (
        "return [...document.querySelectorAll('.sf-plot')].length >= 6 && "
        "[...document.querySelectorAll('.sf-plot')].every(p => p.querySelector('svg.main-svg'))"
    )
    times = []
    try:
        for path in paths:
            driver.get("about:blank")
            started = time.perf_counter()
            driver.get(path.resolve().as_uri())
            while not driver.execute_script(drawn):
                if time.perf_counter() - started > 120:
                    raise TimeoutError("the report did not draw within 120 s")
                time.sleep(0.02)
            times.append(time.perf_counter() - started)
    finally:
        driver.quit()
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--store", default=None, help="SQLite file (default: in the temp dir, reused)"
    )
    args = parser.parse_args()
    store = Path(
        args.store or Path(tempfile.gettempdir()) / f"sweepforge-report-scale-{args.trials}.db"
    )
    uri = f"sqlite:///{store.resolve()}"
    if not store.exists():
        print(f"building the synthetic store {store} ({args.trials:,} trials) ...", file=sys.stderr)
        print(f"store built in {build_store(uri, args.trials):.0f} s", file=sys.stderr)
    out = Path(tempfile.mkdtemp(prefix="report-scale-"))
    builds, cpus, walls, paths = [], [], [], []
    for run in range(args.runs):
        path = out / f"report-{run}.html"
        inside, cpu, wall = time_build(uri, path)
        builds.append(inside)
        cpus.append(cpu)
        walls.append(wall)
        paths.append(path)
        print(
            f"run {run + 1}: write_report {inside:.2f} s (CPU {cpu:.2f} s, process {wall:.2f} s), "
            f"{path.stat().st_size / 1e6:.2f} MB",
            file=sys.stderr,
        )
    opens = time_open(paths)
    print(
        f"\nmachine: {platform.machine()}, {os.cpu_count()} CPUs, "
        f"Python {platform.python_version()}"
    )
    print(f"trials: {args.trials:,} over {len(STRATEGIES)} strategies; runs: {args.runs}")
    print(
        f"build (write_report, imports included), median: {statistics.median(builds):.2f} s "
        f"(all: {', '.join(f'{b:.2f}' for b in builds)})"
    )
    print(f"CPU time of that process, median: {statistics.median(cpus):.2f} s")
    print(f"fresh process wall, median: {statistics.median(walls):.2f} s")
    print(f"HTML size: {paths[0].stat().st_size / 1e6:.2f} MB")
    print(
        f"open in headless Chromium until drawn, median: {statistics.median(opens):.2f} s "
        f"(all: {', '.join(f'{o:.2f}' for o in opens)})"
    )


if __name__ == "__main__":
    main()
