"""Trial actors start in Ray's idle workers: Ray Tune's default runtime environment for its
actors is left out during a campaign's Tune runs (an actor with a runtime environment of its own
needs a new worker process), the trial sets those variables itself, and a Ray that sweepforge
starts has its idle workers import Ray Tune as they start (see ``search/tune/ray_setup.py``)."""

from __future__ import annotations

import threading

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.search import Campaign
from sweepforge.search.config import parse_campaign_config
from sweepforge.search.tune._compat import tune_actor_env as _tune_actor_env
from sweepforge.search.tune.ray_setup import trial_actors_on_idle_workers


def test_tune_defaults_are_left_out_inside_and_put_back_after_with_campaigns_overlapping():
    defaults = _tune_actor_env()
    assert defaults == {"PL_DISABLE_FORK": "1"}  # Ray Tune's own (ray-project/ray#28197)
    saved = dict(defaults)
    first, second = trial_actors_on_idle_workers(), trial_actors_on_idle_workers()
    try:
        first.__enter__()
        assert defaults == {}
        inside = threading.Thread(target=second.__enter__)  # another campaign, another thread
        inside.start()
        inside.join()
        first.__exit__(None, None, None)
        assert defaults == {}  # the second campaign is still inside
        second.__exit__(None, None, None)
        assert defaults == {"PL_DISABLE_FORK": "1"}
    finally:  # a failed assertion must not leave Ray Tune's dict empty for later tests
        defaults.clear()
        defaults.update(saved)

    with pytest.raises(RuntimeError), trial_actors_on_idle_workers():
        raise RuntimeError("a Tune run that fails")
    assert defaults == {"PL_DISABLE_FORK": "1"}


@pytest.mark.slow
def test_trials_ask_for_no_runtime_environment_and_find_ray_tune_imported(tmp_path):
    import ray

    import tests.search.probe_trainables  # noqa: F401  (registers `worker_probe`)

    if ray.is_initialized():  # the campaign must start its own Ray here
        ray.shutdown()
    config = parse_campaign_config({
        "name": "worker-probe", "trainable": "worker_probe", "dataset": "iris",
        "metric": "val_score", "budget": {"trials": 3, "max_epochs": 1},
        "space": {"x": {"type": "float", "low": 0.0, "high": 1.0}}, "strategies": {"random": {}},
    })
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    result = Campaign(config, tracking_uri=uri, state_dir=tmp_path / "state").run()
    assert not ray.is_initialized()  # the campaign's own Ray is gone with it
    assert set(result.trials["state"]) == {"COMPLETE"}, result.trials["error"].tolist()

    client = MlflowClient(uri)
    for run_id in result.trials["run_id"]:
        metrics = client.get_run(run_id).data.metrics
        assert metrics["actor_env_vars"] == 0  # so Ray may give the actor an idle worker
        assert metrics["pl_disable_fork"] == 1  # what Tune's runtime environment would have set
        assert metrics["preloaded"] == 1
    assert _tune_actor_env() == {"PL_DISABLE_FORK": "1"}  # put back for plain Ray Tune
