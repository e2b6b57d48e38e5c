"""The live dashboard's server over HTTP, on the real campaign store; it follows new runs."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest
from mlflow.tracking import MlflowClient

from sweepforge.dashboards import DashboardError
from sweepforge.dashboards.live import make_server
from tests.dashboards.conftest import FAILING, NAME

pytestmark = pytest.mark.slow


def get(url: str) -> tuple[str, str]:
    with urllib.request.urlopen(url, timeout=60) as reply:
        return reply.headers["Content-Type"], reply.read().decode()


def api(url: str) -> dict:
    return json.loads(get(url)[1])


def test_the_page_loads_plotly_from_the_server_not_a_cdn(live_url):
    kind, page = get(live_url + f"?campaign={NAME}")
    assert kind.startswith("text/html") and '<script src="plotly.min.js">' in page
    kind, script = get(live_url + "plotly.min.js")
    assert kind.startswith("application/javascript") and len(script) > 3_000_000


def test_campaigns_are_listed_latest_first(live_url):
    listed = api(live_url + "api/campaigns")["campaigns"]
    assert [c["name"] for c in listed] == [FAILING, NAME]
    assert {c["status"] for c in listed} == {"FINISHED"}


def test_the_payload_holds_every_view(live_url):
    payload = api(live_url + f"api/payload?campaign={NAME}")
    drawn = [v["id"] for v in payload["views"] if v.get("figure")]
    assert drawn == ["anytime-trials", "anytime-time", "parallel", "importance", "slices", "curves"]
    assert payload["strategies"] == ["random", "optuna"]


def test_an_unknown_campaign_is_an_error_on_the_page_listing_the_known_ones(live_url):
    reply = api(live_url + "api/payload?campaign=nope")
    assert "no campaign named 'nope'" in reply["error"] and NAME in reply["error"]


def test_it_rereads_mlflow_and_shows_a_trial_that_started_meanwhile(live_url, campaign_store):
    """A trial run opened in the store (as the campaign's tracker does when a trial starts)
    shows up as running at the next refresh, and is gone once the run is deleted."""
    client = MlflowClient(campaign_store.uri)
    latest = campaign_store.latest
    run = client.create_run(
        latest.experiment_id,
        tags={
            "sweepforge.kind": "trial",
            "sweepforge.campaign_id": latest.campaign_id,
            "sweepforge.strategy": "random",
            "sweepforge.trial_id": "3",
            "sweepforge.config": json.dumps({"lr": 0.01}),
        },
    )
    try:
        wait_until(live_url, lambda summary: 'data-col="running">1<' in summary, "the trial")
    finally:
        client.delete_run(run.info.run_id)
    wait_until(live_url, lambda summary: "running" not in summary, "the deleted trial to go")


def wait_until(url: str, check, what: str, timeout: float = 30.0) -> None:
    """Polls the campaign's summary table until ``check`` holds."""
    deadline = time.monotonic() + timeout
    while not check(api(url + f"api/payload?campaign={NAME}")["summary_html"]):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_it_binds_to_localhost_by_default(campaign_store):
    server = make_server(campaign_store.uri, port=0)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()


def test_an_unreachable_store_stops_it_before_it_serves(tmp_path):
    with pytest.raises(DashboardError, match="does not exist"):
        make_server(f"sqlite:///{tmp_path / 'absent.db'}", port=0)
