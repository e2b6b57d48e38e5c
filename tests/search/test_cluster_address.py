"""Joining an existing Ray cluster with ``address`` (what ``--address`` / ``RAY_ADDRESS`` do)."""

from __future__ import annotations

import pytest
import ray

from sweepforge.search import Campaign
from sweepforge.search.config import CampaignError, parse_campaign_config
from tests.conftest import small_campaign

pytestmark = pytest.mark.slow


def test_a_campaign_joins_the_cluster_and_leaves_it_running(two_node_cluster, tmp_path):
    config = parse_campaign_config(small_campaign(strategies={"random": {}},
                                                  budget={"trials": 2, "max_epochs": 1}))
    result = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                      address=two_node_cluster.address).run()
    assert list(result.trials["state"]) == ["COMPLETE", "COMPLETE"]
    assert not ray.is_initialized()  # the campaign disconnected ...
    ray.init(address=two_node_cluster.address)
    try:
        assert ray.cluster_resources()["CPU"] == 2  # ... and the cluster is still there
    finally:
        ray.shutdown()


def test_gpus_are_checked_against_the_cluster_before_anything_is_written(two_node_cluster, tmp_path):
    config = parse_campaign_config(small_campaign(resources={"cpu": 1, "gpu": 1}))
    campaign = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                        address=two_node_cluster.address)  # the master has no GPU; the cluster decides
    with pytest.raises(CampaignError, match=r"resources\.gpu: .*cluster has 0"):
        campaign.run()
    assert not (tmp_path / "m.db").exists()
    assert not ray.is_initialized()
