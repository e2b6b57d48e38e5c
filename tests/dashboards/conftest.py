"""Real campaigns for the report, live-server and browser tests: run once per test session.

Real Ray (2 CPUs, started once here), real SQLite MLflow store, real training on digits:
``dash-campaign`` twice (seeds 0 and 1: 2 strategies x 3 trials x 2 epochs) and ``dash-failing``
(a trainable that raises after its first epoch: every trial fails).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import small_campaign

NAME, FAILING = "dash-campaign", "dash-failing"
STRATEGIES = {"random": {}, "optuna": {"sampler": "tpe"}}


@dataclass(frozen=True)
class CampaignStore:
    uri: str
    latest: Any  # CampaignResult of the seed-1 run (the latest)
    first: Any  # CampaignResult of the seed-0 run
    failing: Any  # CampaignResult of the all-failed campaign


@pytest.fixture(scope="session")
def campaign_store(tmp_path_factory) -> CampaignStore:
    import ray

    import tests.search.faulty_trainables  # noqa: F401  (registers the raising trainable)
    from sweepforge.search import Campaign
    from sweepforge.search.config import parse_campaign_config

    uri = f"sqlite:///{tmp_path_factory.mktemp('dash-mlflow') / 'mlflow.db'}"
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
        )
    try:

        def run(**overrides: Any) -> Any:
            return Campaign(
                parse_campaign_config(small_campaign(**overrides)), tracking_uri=uri
            ).run()

        first = run(name=NAME, seed=0, strategies=STRATEGIES)
        latest = run(name=NAME, seed=1, strategies=STRATEGIES)
        failing = run(
            name=FAILING,
            trainable="mlp_raises_after_one_epoch",
            strategies={"random": {}},
            budget={"trials": 2, "max_epochs": 2},
        )
    finally:
        if started:
            ray.shutdown()
    return CampaignStore(uri, latest, first, failing)


@pytest.fixture(scope="module")
def live_url(campaign_store):
    """The live dashboard for the campaign store, served from a thread on a free port."""
    import threading

    from sweepforge.dashboards.live import make_server

    server = make_server(campaign_store.uri, port=0, refresh_s=0.5)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
    )
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
