"""Reading campaigns from the real store: the direct database read agrees with the client."""

from __future__ import annotations

import sqlite3

import pandas as pd
import pytest

from sweepforge.dashboards import _sql
from sweepforge.dashboards._store import (
    KIND,
    list_campaigns,
    load_campaign,
    open_store,
    search_frame,
)
from tests.dashboards.conftest import FAILING, NAME

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("name", [NAME, FAILING])
def test_the_direct_read_gives_the_frame_the_client_gives(campaign_store, name):
    client = open_store(campaign_store.uri)
    experiment = client.get_experiment_by_name(name).experiment_id
    for campaign_id in {r.campaign_id for r in (campaign_store.latest, campaign_store.failing)}:
        query = f"tags.`{KIND}` = 'trial' and tags.`sweepforge.campaign_id` = '{campaign_id}'"
        slow = search_frame(client, [experiment], query)
        fast = _sql.trial_runs(campaign_store.uri, experiment, campaign_id)
        assert fast is not None
        if slow.empty:
            assert fast.empty
            continue
        fast, slow = fast.set_index("run_id").sort_index(), slow.set_index("run_id").sort_index()
        assert set(fast.columns) == set(slow.columns)
        pd.testing.assert_frame_equal(fast, slow[fast.columns], check_dtype=False)


def test_a_campaign_and_its_repeat_with_another_seed_are_loaded_together(campaign_store):
    rows = load_campaign(open_store(campaign_store.uri), NAME, campaign_store.uri)
    assert list(rows.campaigns["params.seed"]) == ["1", "0"]  # the chosen (latest) run first
    assert len(rows.trials) == 12 and rows.trials["tags.sweepforge.campaign_id"].nunique() == 2


def test_campaigns_are_listed_with_their_latest_run(campaign_store):
    listed = list_campaigns(open_store(campaign_store.uri))
    assert [(c.name, c.run_id) for c in listed] == [
        (FAILING, campaign_store.failing.campaign_run_id),
        (NAME, campaign_store.latest.campaign_run_id),
    ]


def test_other_stores_are_left_to_the_client(tmp_path):
    assert _sql.trial_runs("http://127.0.0.1:5000", "1", "c") is None
    assert _sql.trial_runs(f"file://{tmp_path}", "1", "c") is None
    not_mlflow = tmp_path / "other.db"
    sqlite3.connect(not_mlflow).close()  # a database without MLflow's tables
    assert _sql.trial_runs(f"sqlite:///{not_mlflow}", "1", "c") is None


def test_nan_metrics_and_open_runs_read_the_same_both_ways(tmp_path):
    """A diverged trial logs NaN (MLflow stores it as is_nan); a running one has no end time."""
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{tmp_path / 'nan.db'}"
    client = MlflowClient(uri)
    experiment = client.create_experiment("nan")
    tags = {KIND: "trial", "sweepforge.campaign_id": "c"}
    diverged = client.create_run(experiment, tags=tags).info.run_id
    client.log_batch(diverged, metrics=[Metric("val_loss", float("nan"), 0, 1)])
    client.set_terminated(diverged, "FAILED")
    client.create_run(experiment, tags=tags)  # still running
    slow = search_frame(client, [experiment], f"tags.`{KIND}` = 'trial'").set_index("run_id")
    fast = _sql.trial_runs(uri, experiment, "c").set_index("run_id")
    pd.testing.assert_frame_equal(
        fast.sort_index(), slow.sort_index()[fast.columns], check_dtype=False
    )
    assert fast["metrics.val_loss"].isna().all() and fast["end_time"].isna().sum() == 1
