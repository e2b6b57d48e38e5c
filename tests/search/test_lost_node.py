"""A lost worker node: the trial on it resumes on another node from its checkpoint, one run.

The Ray cluster is simulated by ``ray.cluster_utils.Cluster`` (as Ray's own Tune cluster tests
do): a head with no CPUs, so every trial runs on a worker node, and two worker nodes of 1 CPU.
While a trial is between two epochs, its node is removed; Ray Tune restarts the trial
(``max_failures``) on the other node from the checkpoint in the campaign's storage (a local
folder, which every simulated node reaches). This module starts its own cluster instead of the
``ray_local`` fixture.
"""

from __future__ import annotations

import logging
import threading
import time

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.search.campaign import Campaign
from sweepforge.search.config import parse_campaign_config
from tests.conftest import small_campaign
from tests.search import resume_trainables  # noqa: F401  (registers mlp_slow)

EPOCHS = 6


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    workers = [cluster.add_node(num_cpus=1) for _ in range(2)]
    cluster.wait_for_nodes()
    ray.init(address=cluster.address, logging_level=logging.WARNING, log_to_driver=False)
    try:
        yield cluster, workers
    finally:
        ray.shutdown()
        cluster.shutdown()


def _remove_the_node_of_a_trial_mid_way(cluster, workers, client, experiment_name, folder, done):
    """Waits for a trial with a checkpoint and epochs still to go, then removes its node;
    returns what it removed through ``done``."""
    by_id = {node.node_id: node for node in workers}
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not done.get("stop"):
        time.sleep(0.05)
        experiment = client.get_experiment_by_name(experiment_name)
        if experiment is None:
            continue
        for run in client.search_runs([experiment.experiment_id],
                                      "tags.`sweepforge.kind` = 'trial' and attributes.status = 'RUNNING'"):
            node = run.data.tags.get("sweepforge.nodes", "").split(",")[-1]
            checkpoints = sorted(folder().glob("tune/session-1/trial-*/checkpoint_*")) if folder() else []
            if node in by_id and 1 <= len(checkpoints) <= 3:
                cluster.remove_node(by_id[node])
                done.update(node=node, run_id=run.info.run_id)
                return


@pytest.mark.slow
def test_a_trial_on_a_lost_node_resumes_on_another(cluster, tmp_path):
    cluster, workers = cluster
    name = "lost-node"
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    config = parse_campaign_config(small_campaign(
        name=name, trainable="mlp_slow", strategies={"random": {}},
        budget={"trials": 2, "max_epochs": EPOCHS}, max_concurrent_trials=1, max_failures=2,
    ))
    state_dir = tmp_path / "state"
    campaign = Campaign(config, tracking_uri=uri, state_dir=state_dir)

    def folder():
        found = list((state_dir / "campaigns" / name).glob("*"))
        return found[0] if found else None

    client, removed = MlflowClient(uri), {}
    remover = threading.Thread(target=_remove_the_node_of_a_trial_mid_way,
                               args=(cluster, workers, client, name, folder, removed))
    remover.start()
    try:
        result = campaign.run()
    finally:
        removed.setdefault("stop", True)
        remover.join()
    assert "run_id" in removed, "no trial was caught between two epochs"

    runs = client.search_runs([result.experiment_id], "tags.`sweepforge.kind` = 'trial'")
    assert sorted(r.info.status for r in runs) == ["FINISHED", "FINISHED"]  # nothing duplicated
    assert sorted(int(r.data.tags["sweepforge.trial_id"]) for r in runs) == [0, 1]
    moved = client.get_run(removed["run_id"])
    nodes = moved.data.tags["sweepforge.nodes"].split(",")
    assert nodes[0] == removed["node"] and len(nodes) == 2 and nodes[1] != removed["node"]
    assert moved.data.tags["sweepforge.attempts"] == "2"
    assert int(moved.data.tags["sweepforge.resumed_at_epoch"]) > 1  # from its checkpoint
    steps = [m.step for m in client.get_metric_history(moved.info.run_id, "val_accuracy")]
    assert sorted(steps) == list(range(1, EPOCHS + 1))  # every epoch once
    assert set(result.trials["state"]) == {"COMPLETE"}
