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


def census() -> dict[str, tuple[int, int]]:
    """Live Python objects tracked by the garbage collector: type name -> (count, bytes).

    Bytes are ``sys.getsizeof`` of each object alone (a dict's table, not what it points to),
    so summing over types does not count anything twice.
    """
    import gc

    counts: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for obj in gc.get_objects():
        kind = type(obj)
        entry = counts[f"{kind.__module__}.{kind.__qualname__}"]
        entry[0] += 1
        entry[1] += sys.getsizeof(obj)
    return {name: (n, size) for name, (n, size) in counts.items()}


def census_growth(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], trials: int, top: int = 12
) -> list[tuple[str, float, float]]:
    """The types whose bytes grew most between two censuses: (type, objects and bytes per trial)."""
    names = set(before) | set(after)
    growth = [(name, after.get(name, (0, 0))[0] - before.get(name, (0, 0))[0],
               after.get(name, (0, 0))[1] - before.get(name, (0, 0))[1]) for name in names]
    growth.sort(key=lambda row: row[2], reverse=True)
    return [(name, round(n / trials, 2), round(size / trials, 1)) for name, n, size in growth[:top]]


class Sampler(threading.Thread):
    """Samples (elapsed s, trials done, master RSS MiB, Ray processes' RSS MiB) every second.

    With ``census_at`` (two trial counts), it also takes a census of the master's Python objects
    when the campaign passes each, to tell what grows with the trials.
    """

    def __init__(self, done: list[int], census_at: tuple[int, int] | None = None):
        super().__init__(daemon=True)
        self.done, self.samples, self.stop = done, [], threading.Event()
        self.started = time.monotonic()
        self.census_at, self.censuses = list(census_at or ()), []

    def run(self) -> None:
        me = os.getpid()
        while not self.stop.is_set():
            ray_rss = sum(rss_mb(p) for p in descendants(me))
            self.samples.append((round(time.monotonic() - self.started, 1), self.done[0],
                                 round(rss_mb(me), 1), round(ray_rss, 1)))
            if self.census_at and self.done[0] >= self.census_at[0]:
                self.census_at.pop(0)
                self.censuses.append((self.done[0], census()))
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
    parser.add_argument("--census", action="store_true",
                        help="count the master's Python objects by type at 30%% and 90%% of the "
                        "trials and print the types that grew most per trial")
    args = parser.parse_args()

    # Ray workers import the trainable's module by name: let them find tests/ from the root.
    sys.path.insert(0, str(ROOT))
    os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    import tests.search.faulty_trainables  # noqa: F401  (registers `faulty`)
    from sweepforge.search import Campaign
    from sweepforge.search.config import parse_campaign_config
    from sweepforge.search.tracking import progress as _progress

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
    sampler = Sampler(done, (args.trials * 3 // 10, args.trials * 9 // 10) if args.census else None)
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
    if len(sampler.censuses) == 2:
        (first, before), (last, after) = sampler.censuses
        growth = census_growth(before, after, last - first)
        totals["census"] = {"between_trials": [first, last], "per_trial": growth}
        print(f"Python objects that grew most, per trial, between trials {first} and {last}:")
        for name, n, size in growth:
            print(f"  {name:60} {n:8.2f} objects {size:9.1f} B")
    print(json.dumps({k: v for k, v in totals.items() if k != "census"}, indent=2))
    if args.out:
        args.out.write_text(json.dumps({**totals, "samples": samples}))
    ok = (checks["trial_runs"] == checks["distinct_trial_ids"] == args.trials
          and checks["running_left"] == 0 and checks["complete_in_result"] == args.trials)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
