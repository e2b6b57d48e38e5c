"""The issue's "done when", on a tracking server: a campaign with ``final: {refit, register}``
against a real ``mlflow server`` on 127.0.0.1 (SQLite backend, artifacts proxied by the server);
then, in a fresh Python process that knows only the server's address,
``mlflow.pyfunc.load_model("models:/NAME/latest").predict(raw_rows)`` returns the digits the
refit predicted on its test split."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.search import Campaign
from tests.conftest import small_campaign

REPO = Path(__file__).resolve().parents[2]

FRESH = """
import json, sys
import mlflow
import numpy as np
from sweepforge.trainables import load_dataset
mlflow.set_tracking_uri(sys.argv[1])
model = mlflow.pyfunc.load_model(sys.argv[2])
data = load_dataset("digits", seed=0)
labels = np.asarray(model.predict(data.X_test))  # raw pixel rows, 0..16
print(json.dumps({"accuracy": float((labels == data.y_test).mean()),
                  "labels": sorted(set(labels.tolist()))}))
"""


@pytest.mark.slow
def test_a_registered_refit_loads_from_the_server_in_a_fresh_process(ray_local, server, tmp_path):
    name = "server-digits-mlp"
    campaign = small_campaign(name=name, strategies={"random": {}, "optuna": {}},
                              final={"refit": "train+val", "register": name})
    result = Campaign.from_dict(campaign, tracking_uri=server.uri,
                                state_dir=tmp_path / "state").run()
    assert result.registered == f"{name}/1"
    refit = result.trials[result.trials.strategy == "final"].iloc[0]
    assert refit.state == "COMPLETE" and refit.epochs == 2  # the best config's own epochs

    loaded = subprocess.run([sys.executable, "-c", FRESH, server.uri, f"models:/{name}/latest"],
                            cwd=tmp_path, capture_output=True, text=True, check=False)
    assert loaded.returncode == 0, loaded.stderr
    got = json.loads(loaded.stdout.strip().splitlines()[-1])
    assert got["accuracy"] == pytest.approx(refit.test_value, abs=1e-6)  # the refit's own model
    assert set(got["labels"]) <= set(range(10))

    client = MlflowClient(server.uri)
    (version,) = client.search_model_versions(f"name = '{name}'")
    assert version.tags["sweepforge.campaign_id"] == result.campaign_id
    assert version.tags["sweepforge.strategy"] == "final"
    campaign_run = client.get_run(result.campaign_run_id)
    assert campaign_run.data.tags["sweepforge.model_uri"] == result.final_model
    assert campaign_run.data.tags["sweepforge.registered"] == f"{name}/1"
    assert campaign_run.data.metrics["final.test_value"] == pytest.approx(refit.test_value)
    assert not list((tmp_path / "state").rglob("best"))  # the kept checkpoints went with the logs
