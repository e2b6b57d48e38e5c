"""Load: a campaign of many trivial trials through the whole stack (Ray Tune workers, a random
strategy, the MLflow callback on a SQLite store), recording the master's memory over time.

The trainable (``faulty`` with no fault, from tests/search/faulty_trainables.py) reports one
epoch and returns at once, so what is measured is sweepforge + Ray Tune + MLflow per trial.
The master's resident memory (and that of its Ray child processes) is sampled every second
together with the number of finished trials; the output shows whether it levels off.

    python benchmarks/scale.py --trials 10000 --out scale-10000.json

Prints one line per tenth of the campaign (trials done, elapsed, master RSS, Ray processes'
RSS), then the totals: wall time, peak master RSS, MLflow rows, and the checks (every trial in
MLflow exactly once, none left RUNNING).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_mb(pid: int) -> float:
    """Resident memory of process ``pid`` in MiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (Ray's raylet, GCS and workers for a local Ray)."""
    children: dict[int, list[int]] = collections.defaultdict(list)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            children[int(fields[1])].append(int(entry.name))
        except (OSError, IndexError, ValueError):
            continue
    out, todo = [], list(children[pid])
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children[child])
    return out


class Sampler(threading.Thread):
    """Samples (elapsed s, trials done, master RSS MiB, Ray processes' RSS MiB) every second."""

    def __init__(self, done: list[int]):
        super().__init__(daemon=True)
        self.done, self.samples, self.stop = done, [], threading.Event()
        self.started = time.monotonic()

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            ray_rss = sum(rss_mb(p) for p in descendants(me))
            self.samples.append((round(time.monotonic() - self.started, 1), self.done[0],
                                 round(rss_mb(me), 1), round(ray_rss, 1)))
            self.stop.wait(1.0)


def mlflow_rows(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as con:
        return {table: con.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
                for table in ("runs", "metrics", "latest_metrics", "params", "tags")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=10_000)
    parser.add_argument("--out", type=Path, help="write the samples and totals as JSON here")
    parser.add_argument("--workdir", type=Path, help="where the SQLite store goes (default: a temp dir)")
    args = parser.parse_args()

    # Ray workers import the trainable's module by name: let them find tests/ from the root.
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    import tests.search.faulty_trainables  # noqa: F401  (registers `faulty`)
    from sweepforge.search import Campaign, _progress
    from sweepforge.search.config import parse_campaign_config

    done = [0]
    original = _progress.CampaignProgress.on_event

    def count(self, strategy, record):  # instrumentation only: counts finished trials
        original(self, strategy, record)
        if record is not None:
            done[0] += 1

    _progress.CampaignProgress.on_event = count
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="sweepforge-scale-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db = workdir / "mlflow.db"
    os.environ["SWEEPFORGE_STATE_DIR"] = str(workdir / "state")
    campaign = parse_campaign_config({
        "name": f"scale-{args.trials}", "trainable": "faulty", "dataset": "digits",
        "metric": "val_accuracy", "budget": {"trials": args.trials, "max_epochs": 1},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}},
        "strategies": {"random": {}},
    })
    sampler = Sampler(done)
    sampler.start()
    started = time.monotonic()
    result = Campaign(campaign, tracking_uri=f"sqlite:///{db}").run()
    wall = time.monotonic() - started
    sampler.stop.set()
    sampler.join()

    rows = mlflow_rows(db)
    with sqlite3.connect(db) as con:
        trial_ids = [r[0] for r in con.execute(
            "SELECT value FROM tags WHERE key = 'sweepforge.trial_id'")]
        running = con.execute("SELECT count(*) FROM runs WHERE status = 'RUNNING'").fetchone()[0]
        finished = con.execute("SELECT count(*) FROM runs WHERE status = 'FINISHED'").fetchone()[0]
    checks = {
        "trial_runs": len(trial_ids),
        "distinct_trial_ids": len(set(trial_ids)),
        "running_left": running,
        "finished_runs": finished,
        "complete_in_result": int((result.trials["state"] == "COMPLETE").sum()),
    }
    samples = sampler.samples
    print(f"{'elapsed_s':>9} {'trials':>7} {'master_MiB':>10} {'ray_MiB':>8}")
    step = max(1, args.trials // 10)
    shown = -1
    for elapsed, trials, master, ray_rss in samples:
        if trials // step != shown or (elapsed, trials, master, ray_rss) == samples[-1]:
            shown = trials // step
            print(f"{elapsed:9.1f} {trials:7d} {master:10.1f} {ray_rss:8.1f}")
    totals = {
        "trials": args.trials, "wall_s": round(wall, 1),
        "trials_per_s": round(args.trials / wall, 2),
        "peak_master_mib": max(s[2] for s in samples),
        "peak_ray_mib": max(s[3] for s in samples),
        "mlflow_rows": rows, "checks": checks,
    }
    print(json.dumps(totals, indent=2))
    if args.out:
        args.out.write_text(json.dumps({**totals, "samples": samples}))
    ok = (checks["trial_runs"] == checks["distinct_trial_ids"] == args.trials
          and checks["running_left"] == 0 and checks["complete_in_result"] == args.trials)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
