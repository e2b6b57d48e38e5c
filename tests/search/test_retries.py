"""Retries (``max_failures``): a failed trial restarts from its last checkpoint, stays one MLflow
run with every epoch logged once, and is told to its strategy once."""

from __future__ import annotations

from collections import Counter

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.search.campaign import Campaign
from sweepforge.search.config import CampaignError, parse_campaign_config
from sweepforge.search.state.journal import Tell, read_journal
from tests.conftest import small_campaign
from tests.search import resume_trainables  # noqa: F401  (registers mlp_flaky)

EPOCHS = 4


def _campaign(**overrides):
    return small_campaign(
        name="retries", trainable="mlp_flaky", budget={"trials": 4, "max_epochs": EPOCHS},
        space={"lr": {"type": "float", "low": 1.0e-3, "high": 1.0e-2, "log": True},
               "batch_size": [32, 64]},
        strategies={"grid": {"levels": 2}}, max_failures=1, **overrides,
    )


@pytest.mark.parametrize("bad", [-1, 1.5, "twice", 101])
def test_max_failures_is_checked(bad):
    with pytest.raises(CampaignError, match="max_failures"):
        parse_campaign_config(small_campaign(max_failures=bad))


@pytest.mark.slow
def test_a_failed_trial_restarts_from_its_checkpoint_as_one_run(ray_local, tmp_path):
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    campaign = Campaign(parse_campaign_config(_campaign()), tracking_uri=uri,
                        state_dir=tmp_path / "state")
    result = campaign.run()

    client = MlflowClient(uri)
    runs = client.search_runs([result.experiment_id], "tags.`sweepforge.kind` = 'trial'")
    assert len(runs) == 4  # one run per trial, whatever the attempts
    by_batch = Counter((int(r.data.params["batch_size"]), r.info.status) for r in runs)
    assert by_batch == {(32, "FINISHED"): 2, (64, "FAILED"): 2}
    for run in runs:
        tags = run.data.tags
        assert tags["sweepforge.attempts"] == "2", tags
        assert int(tags["sweepforge.resumed_at_epoch"]) > 1  # from a checkpoint, not epoch 1
        artifacts = {a.path for a in client.list_artifacts(run.info.run_id)}
        assert "error-attempt-1.txt" in artifacts
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")]
        assert len(steps) == len(set(steps)), steps  # no epoch logged twice
        if run.info.status == "FINISHED":
            assert sorted(steps) == list(range(1, EPOCHS + 1))
        else:
            assert "error.txt" in artifacts and "injected fault" in tags["sweepforge.error"]

    # told to the strategy once per trial, with the final outcome
    folder = next((tmp_path / "state" / "campaigns" / "retries").iterdir())
    _, events = read_journal(folder)
    tells = Counter((e.trial, e.state) for e in events if isinstance(e, Tell))
    assert len(tells) == 4 and max(tells.values()) == 1
    assert sorted(s for _, s in tells) == ["COMPLETE", "COMPLETE", "FAILED", "FAILED"]
    assert list(result.trials["state"].value_counts().sort_index()) == [2, 2]
