"""What a resume costs: writing the journal while a campaign runs, and replaying it on resume.

For each strategy, a plain ask/tell loop (made-up results, no training) runs N trials while
journaling every ask and tell, then the journal is read back and replayed into a fresh strategy,
as ``sweepforge resume`` does. Prints the journal's cost per line and the replay time next to
the original loop's time (the strategy's own work, which a replay repeats). Median of ``--runs``.

Run:
    python benchmarks/resume_replay.py            # random/grid 10,000, evolutionary 2,000, optuna 300
    python benchmarks/resume_replay.py --quick    # a few hundred trials each
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import optuna

from sweepforge.search import TrialResult
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.plan import plan_campaign
from sweepforge.search.state.journal import Journal, read_journal, replay

SPACE = {
    "lr": {"type": "float", "low": 1.0e-4, "high": 0.3, "log": True},
    "batch_size": [32, 64, 128],
    "optimizer": ["sgd", "momentum", "adam"],
    "momentum": {"type": "float", "low": 0.5, "high": 0.99, "when": {"optimizer": ["momentum"]}},
    "dropout": {"type": "float", "low": 0.0, "high": 0.5},
    "depth": {"type": "int", "low": 1, "high": 3},
    "width": {"type": "int", "low": 16, "high": 256, "log": True},
}
CASES = {"random": ({}, 10000), "grid": ({}, 10000), "evolutionary": ({}, 2000),
         "optuna": ({"sampler": "tpe"}, 300)}


def measure(kind: str, options: dict, trials: int) -> tuple[float, float, float]:
    """(seconds of the original loop, microseconds per journal line, seconds to read+replay)."""
    plan = plan_campaign(parse_campaign_config({
        "name": "bench", "trainable": "mlp", "dataset": "digits", "metric": "val_accuracy",
        "budget": {"trials": trials}, "space": SPACE, "strategies": {kind: options},
    }))
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal.create(folder, campaign_id="0123456789ab", name="bench", config={},
                                 strategies=[kind])
        strategy, writing = plan.new_strategy(kind), 0.0
        start = time.perf_counter()
        while (spec := strategy.ask()) is not None:
            result = TrialResult(spec.config["lr"] * spec.config["depth"])
            strategy.tell(spec.trial_id, result)
            began = time.perf_counter()
            journal.ask(kind, spec.trial_id, spec.config, "tune-id", 1)
            journal.tell(kind, spec.trial_id, result)
            writing += time.perf_counter() - began
        original = time.perf_counter() - start
        journal.close()
        began = time.perf_counter()
        _, events = read_journal(Path(folder))
        replay(events, {kind: plan.new_strategy(kind)})
        replayed = time.perf_counter() - began
    return original, 1e6 * writing / (2 * trials), replayed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="a few hundred trials each")
    args = parser.parse_args(argv)
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    print("| strategy | trials | original ask/tell loop | journal per line | read + replay |")
    print("|---|---|---|---|---|")
    for kind, (options, trials) in CASES.items():
        trials = min(trials, 300 if kind != "optuna" else 50) if args.quick else trials
        runs = [measure(kind, options, trials) for _ in range(args.runs)]
        original, per_line, replayed = (statistics.median(r[i] for r in runs) for i in range(3))
        print(f"| {kind} | {trials:,} | {original:.2f} s | {per_line:.0f} µs | {replayed:.2f} s |")


if __name__ == "__main__":
    main()
