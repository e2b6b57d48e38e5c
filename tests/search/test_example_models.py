"""The shipped examples end with a registered model (issue 18's "done when"): the quickstart
(refit on train+val, registered as quickstart-mlp) and the ASHA example (refit on train to the
full epochs, registered as asha-mnist-mlp), each with its file as shipped but a smaller budget.
A fresh Python process loads ``models:/NAME/latest`` and predicts raw digits."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from sweepforge.search import Campaign

REPO = Path(__file__).resolve().parents[2]

FRESH = """
import json, sys
import mlflow
import numpy as np
from sweepforge.trainables import load_dataset
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(f"models:/{sys.argv[2]}/latest")
data = load_dataset(sys.argv[3], seed=0)
labels = np.asarray(model.predict(data.X_test))
print(json.dumps({"accuracy": float((labels == data.y_test).mean())}))
"""


def _shipped(name: str, trials: int, max_epochs: int) -> dict:
    campaign = yaml.safe_load((REPO / "examples" / name).read_text())
    campaign["budget"] = {"trials": trials, "max_epochs": max_epochs}
    return campaign


def _fresh_accuracy(uri: str, registered: str, dataset: str, cwd: Path) -> float:
    loaded = subprocess.run([sys.executable, "-c", FRESH, uri, registered, dataset], cwd=cwd,
                            capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr
    return json.loads(loaded.stdout.strip().splitlines()[-1])["accuracy"]


@pytest.mark.slow
def test_the_quickstart_registers_quickstart_mlp(ray_local, tmp_path):
    campaign = _shipped("quickstart.yaml", trials=2, max_epochs=3)
    assert campaign["final"] == {"refit": "train+val", "register": "quickstart-mlp"}
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = Campaign.from_dict(campaign, base_dir=REPO / "examples", tracking_uri=uri,
                                state_dir=tmp_path / "state").run()
    assert result.registered == "quickstart-mlp/1"
    assert set(result.models) == set(campaign["strategies"])  # each strategy's best, too
    refit = result.trials[result.trials.strategy == "final"].iloc[0]
    accuracy = _fresh_accuracy(uri, "quickstart-mlp", "digits", tmp_path)
    assert accuracy == pytest.approx(refit.test_value, abs=1e-6)


@pytest.mark.slow
def test_the_asha_example_refits_its_best_to_full_length(ray_local, tmp_path):
    campaign = _shipped("asha_mnist.yaml", trials=4, max_epochs=4)
    campaign["scheduler"] = {"type": "asha", "grace_period": 1, "reduction_factor": 2}
    campaign["strategies"] = {"random": {}}
    campaign["max_concurrent_trials"] = 1  # (so that ASHA stops some: one rung at a time)
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = Campaign.from_dict(campaign, base_dir=REPO / "examples", tracking_uri=uri,
                                state_dir=tmp_path / "state").run()
    trials = result.trials
    assert (trials.state == "PRUNED").any(), trials[["state", "epochs"]]
    refit = trials[trials.strategy == "final"].iloc[0]
    assert refit.state == "COMPLETE" and refit.epochs == 4  # the full epochs, pruned or not
    assert refit.test_value is not None
    assert result.registered == "asha-mnist-mlp/1"
    accuracy = _fresh_accuracy(uri, "asha-mnist-mlp", "mnist", tmp_path)
    assert accuracy == pytest.approx(refit.test_value, abs=1e-6)
