"""A trial's resources are checked against the cluster's nodes before anything is written: a
request no node can hold is refused at once (Ray would wait for it forever)."""

from __future__ import annotations

import pytest
import ray
from typer.testing import CliRunner

from sweepforge.search import Campaign
from sweepforge.search.cli import app
from sweepforge.search.config import CampaignError, parse_campaign_config
from tests.conftest import small_campaign

pytestmark = pytest.mark.slow


def test_a_trial_bigger_than_every_node_is_refused_though_the_cluster_total_would_hold_it(two_node_cluster, tmp_path):
    config = parse_campaign_config(small_campaign(resources={"cpu": 2}))
    campaign = Campaign(config, tracking_uri=f"sqlite:///{tmp_path / 'm.db'}",
                        address=two_node_cluster.address, state_dir=tmp_path / "state")
    with pytest.raises(CampaignError, match=r"each trial asks for 2 CPU\(s\), but no node .* "
                                            r"the largest of its 2 node\(s\) has 1 CPU\(s\), 0 GPU"):
        campaign.run()
    assert not (tmp_path / "m.db").exists() and not (tmp_path / "state").exists()
    assert not ray.is_initialized()


def test_the_command_line_exits_2_and_writes_nothing(two_node_cluster, tmp_path, write_campaign):
    path = write_campaign(small_campaign(resources={"cpu": 64}))
    db = tmp_path / "m.db"
    result = CliRunner().invoke(app, ["run", str(path), "--address", two_node_cluster.address,
                                      "--tracking-uri", f"sqlite:///{db}", "--no-progress",
                                      "--state-dir", str(tmp_path / "state")])
    assert result.exit_code == 2, result.output
    assert "64 CPU(s)" in result.output and "`resources: {cpu: 1, gpu: 0}`" in result.output
    assert not db.exists()


def test_a_local_ray_refuses_it_too(two_node_cluster, tmp_path, write_campaign):
    """No address: the campaign's own local Ray has this machine's CPUs, far fewer."""
    path = write_campaign(small_campaign(resources={"cpu": 100_000}))
    db = tmp_path / "m.db"
    result = CliRunner().invoke(app, ["run", str(path), "--tracking-uri", f"sqlite:///{db}",
                                      "--no-progress", "--state-dir", str(tmp_path / "state")],
                                env={"RAY_ADDRESS": ""})
    assert result.exit_code == 2, result.output
    assert "100000 CPU(s)" in result.output and not db.exists()
    assert not ray.is_initialized()


def test_the_code_folder_goes_as_the_working_dir_without_the_campaign_state(tmp_path):
    from sweepforge.search.tune.ray_setup import SHIPPING_EXCLUDES, shipping_env
    from sweepforge.trainables.user_code import CodeFolder

    code = CodeFolder(str(tmp_path), "my_model:train")
    env = shipping_env(code, keep_out=[tmp_path / "runs" / "state", tmp_path.parent / "other"])
    assert env == {"working_dir": str(tmp_path.resolve()),
                   "excludes": [*SHIPPING_EXCLUDES, "/runs/state"]}
