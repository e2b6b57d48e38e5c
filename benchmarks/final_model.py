"""What the winning model costs a campaign: logging each strategy's best model, the final refit,
and the space the models take in the store.

Runs the quickstart campaign (``examples/quickstart.yaml``, 4 strategies x 20 trials of an MLP
on digits) ``--runs`` times in each of two ways, in this process, alternating:

* ``models``: ``final: {refit: none}``: each strategy's best trial logged as an MLflow Model (the
  cost is the model logging alone);
* ``refit``: the quickstart as shipped, ``final: {refit: train+val, register: quickstart-mlp}``
  (model logging, the refit trial and the Registry version).

For each run it times the whole ``Campaign.run()`` and, inside it, the model delivery
(``deliver_models``: building, saving and logging the models, registering) and the refit (the
wall time of its Ray trial). It then prints the medians, their ratios to the campaign's time, and
the size on disk of one logged model. ``--example`` measures the size of one model of another
example campaign (e.g. ``examples/resnet_mnist.yaml``) with a small budget.

Run:
    python benchmarks/final_model.py --runs 3
    python benchmarks/final_model.py --runs 1 --example examples/resnet_mnist.yaml --trials 2
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import mlflow
import yaml

from sweepforge.search import Campaign
from sweepforge.search import session as session_module

REPO = Path(__file__).resolve().parents[1]


class _Timed:
    """Wraps ``deliver_models`` (as the session calls it) to time it; the work is unchanged."""

    def __init__(self):
        self.seconds = 0.0
        self._real = session_module.deliver_models

    def __call__(self, *args, **kwargs):
        started = time.perf_counter()
        try:
            return self._real(*args, **kwargs)
        finally:
            self.seconds += time.perf_counter() - started


def run_once(campaign: dict, folder: Path) -> dict[str, float]:
    timed = _Timed()
    session_module.deliver_models = timed
    try:
        uri = f"sqlite:///{folder / 'mlflow.db'}"
        started = time.perf_counter()
        result = Campaign.from_dict(campaign, base_dir=REPO, tracking_uri=uri,
                                    state_dir=folder / "state").run()
        total = time.perf_counter() - started
    finally:
        session_module.deliver_models = timed._real
    refit = result.trials[result.trials.strategy == "final"]
    size = _model_bytes(uri, result.final_model) if result.final_model else 0
    return {"total": total, "models": timed.seconds,
            "refit": float(refit.duration_s.iloc[0]) if len(refit) else 0.0,
            "model_kb": size / 1024, "models_logged": len(result.models)}


def _model_bytes(uri: str, model_uri: str) -> int:
    client = mlflow.MlflowClient(uri)
    model = client.get_logged_model(model_uri.removeprefix("models:/"))
    root = Path(model.artifact_location.removeprefix("file://"))
    return sum(f.stat().st_size for f in root.rglob("*") if f.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--example", type=Path, default=None,
                        help="only measure one model's size for this campaign file")
    parser.add_argument("--trials", type=int, default=None, help="override budget.trials")
    args = parser.parse_args()
    if args.example is not None:
        campaign = yaml.safe_load((REPO / args.example).read_text())
        if args.trials:
            campaign["budget"]["trials"] = args.trials
        campaign["final"] = {"refit": "none"}
        with tempfile.TemporaryDirectory() as tmp:
            got = run_once(campaign, Path(tmp))
        print(f"{args.example}: one logged model = {got['model_kb']:.0f} KiB, "
              f"{got['models_logged']} models, campaign {got['total']:.1f} s, "
              f"models {got['models']:.1f} s")
        return
    shipped = yaml.safe_load((REPO / "examples/quickstart.yaml").read_text())
    if args.trials:
        shipped["budget"]["trials"] = args.trials
    ways = {"models": {**shipped, "final": {"refit": "none"}}, "refit": shipped}
    results: dict[str, list[dict[str, float]]] = {way: [] for way in ways}
    for i in range(args.runs):
        for way, campaign in ways.items():
            with tempfile.TemporaryDirectory() as tmp:
                got = run_once(campaign, Path(tmp))
            results[way].append(got)
            print(f"run {i + 1} {way}: " + ", ".join(f"{k} {v:.2f}" for k, v in got.items()),
                  flush=True)
    print("\nmedians")
    for way, rows in results.items():
        med = {k: statistics.median(r[k] for r in rows) for k in rows[0]}
        added = med["models"] + med["refit"]
        print(f"{way}: campaign {med['total']:.1f} s; model logging {med['models']:.2f} s; "
              f"refit {med['refit']:.2f} s; together {added:.2f} s = "
              f"{100 * added / med['total']:.1f}% of the campaign; one model "
              f"{med['model_kb']:.0f} KiB")


if __name__ == "__main__":
    main()
