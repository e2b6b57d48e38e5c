"""A master killed during the final refit resumes it once: same config, from its checkpoint, in
the same MLflow run, one final model and one Registry version.

The master is a real subprocess (the `sweepforge` command line), SIGKILLed once the refit has
checkpointed two epochs; `sweepforge resume` finishes the campaign.
"""

from __future__ import annotations

import json

import pytest
import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import small_campaign
from tests.search.test_resume import _campaign_folder, _sigkill_once, _start

REFIT_EPOCHS = 120


def _refit_checkpoints(state_dir, name) -> int:
    folder = _campaign_folder(state_dir, name)
    if folder is None:
        return 0
    return len(list((folder / "tune").glob("session-1/refit/checkpoint_*")))


@pytest.mark.slow
def test_sigkill_during_the_refit_then_resume_refits_once(tmp_path):
    name = "killed-refit"
    campaign = small_campaign(
        name=name, strategies={"random": {}}, budget={"trials": 2, "max_epochs": 2},
        final={"refit": "train", "epochs": REFIT_EPOCHS, "register": name},
    )
    path = tmp_path / "campaign.yaml"
    path.write_text(yaml.safe_dump(campaign))
    uri, state_dir, log = f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path / "state", tmp_path / "log.txt"
    client = MlflowClient(uri)
    proc = _start(["run", str(path), "--tracking-uri", uri, "--no-progress", "--no-report"],
                  log, state_dir)
    _sigkill_once(proc, log, lambda: _refit_checkpoints(state_dir, name) >= 2, "two refit epochs",
                  timeout=240)
    folder = _campaign_folder(state_dir, name)
    chosen = json.loads((folder / "refit.json").read_text())["config"]
    checkpointed = _refit_checkpoints(state_dir, name)
    assert checkpointed < REFIT_EPOCHS, "the kill came after the refit had finished"

    resumed = _start(["resume", name, "--no-progress", "--no-report"], log, state_dir)
    assert resumed.wait(timeout=300) == 0, log.read_text()

    experiment = client.get_experiment_by_name(name)
    runs = client.search_runs([experiment.experiment_id], max_results=100)
    assert {r.info.status for r in runs} == {"FINISHED"}, [(r.info.run_name, r.info.status) for r in runs]
    refits = [r for r in runs if r.data.tags.get("sweepforge.strategy") == "final"
              and r.data.tags.get("sweepforge.kind") == "trial"]
    assert len(refits) == 1, [r.info.run_name for r in refits]  # one run, continued
    refit = refits[0]
    assert refit.data.tags["sweepforge.attempts"] == "2"
    assert int(refit.data.tags["sweepforge.resumed_at_epoch"]) >= 3  # from its checkpoint
    assert json.loads(refit.data.tags["sweepforge.config"]) == chosen  # the same config
    steps = [m.step for m in client.get_metric_history(refit.info.run_id, "val_accuracy")]
    # (epochs the killed master had not flushed to MLflow yet are missing, as for any trial)
    assert len(steps) == len(set(steps)) and max(steps) == REFIT_EPOCHS
    assert set(steps) <= set(range(1, REFIT_EPOCHS + 1))
    assert "test_accuracy" in refit.data.metrics

    (campaign_run,) = [r for r in runs if r.data.tags.get("sweepforge.kind") == "campaign"]
    finals = [m for m in client.search_logged_models(
        experiment_ids=[experiment.experiment_id],
        filter_string=f"source_run_id = '{campaign_run.info.run_id}'")
        if m.tags.get("sweepforge.model_role") == "final"]
    assert len(finals) == 1
    assert campaign_run.data.tags["sweepforge.model_uri"] == f"models:/{finals[0].model_id}"
    versions = client.search_model_versions(f"name = '{name}'")
    assert len(versions) == 1 and finals[0].model_id in versions[0].source, versions
    assert campaign_run.data.metrics["final.test_value"] == refit.data.metrics["test_accuracy"]
