"""The report of real campaigns (real Ray, real SQLite MLflow, real training), and bad input."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import pytest
import yaml
from mlflow.tracking import MlflowClient

from sweepforge.dashboards import DashboardError, build_report, write_report
from sweepforge.search.tracking.lookup import best_trial
from sweepforge.search.tracking.report import log_campaign_report
from tests.dashboards.conftest import FAILING, NAME

pytestmark = pytest.mark.slow


def payload_of(html: str) -> dict:
    found = re.search(
        r'<script type="application/json" id="sf-payload">(.*?)</script>', html, re.DOTALL
    )
    assert found, "the report embeds its payload"
    return json.loads(found.group(1))


def views_of(payload: dict) -> dict:
    return {view["id"]: view for view in payload["views"]}


@pytest.fixture(scope="module")
def report(campaign_store, tmp_path_factory):
    path = write_report(NAME, campaign_store.uri, tmp_path_factory.mktemp("report") / "r.html")
    return path.read_text()


def test_the_report_is_one_file_that_needs_no_network(report):
    markup = re.sub(r"(<script[^>]*>).*?</script>", r"\1</script>", report, flags=re.DOTALL)
    assert re.findall(r"<script[^>]*>", markup) == [
        "<script>",
        '<script type="application/json" id="sf-payload">',
        "<script>",
    ]
    assert not re.search(r"(src|href)=\"(https?:)?//", markup)
    assert "Plotly.react" in report and len(report) > 3_000_000  # plotly.js itself is inline


def test_every_view_is_there_with_data(report):
    views = views_of(payload_of(report))
    for view in ("anytime-trials", "anytime-time", "parallel", "importance", "slices", "curves"):
        assert views[view]["figure"]["data"], view
    assert set(views) >= {"summary", "configs"}


def test_the_summary_has_one_row_per_strategy_with_the_campaign_counts(report, campaign_store):
    payload = payload_of(report)
    table = payload["summary_html"]
    rows = re.findall(r'<tr data-strategy="([^"]+)">(.*?)</tr>', table)
    assert [name for name, _ in rows] == ["random", "optuna"]
    expected = campaign_store.latest.summary.set_index("strategy")
    for name, cells in rows:
        finished = re.search(r'data-col="finished">(\d+)<', cells).group(1)
        failed = re.search(r'data-col="failed">(\d+)<', cells).group(1)
        best = float(re.search(r'data-col="best_value">([\d.]+)<', cells).group(1))
        assert int(finished) == expected.loc[name, "finished"] == 3
        assert int(failed) == expected.loc[name, "failed"] == 0
        assert best == pytest.approx(expected.loc[name, "best_value"], abs=1e-4)
    assert "seed 1;" in payload["subtitle"]  # the latest run


def test_best_configs_are_the_ones_sweepforge_best_prints(report, campaign_store):
    for config in payload_of(report)["configs"]:
        expected = best_trial(NAME, tracking_uri=campaign_store.uri, strategy=config["strategy"])
        assert yaml.safe_load(config["yaml"]) == expected.config
        assert f"trial {expected.trial_id}," in config["heading"]


def test_anytime_curves_show_the_spread_across_the_two_seeds(report):
    view = views_of(payload_of(report))["anytime-trials"]
    assert "2 runs of this campaign with seeds 0, 1" in view["note"]
    names = [trace.get("name", "") for trace in view["figure"]["data"]]
    assert "random (median of 2 seeds)" in names and "optuna (median of 2 seeds)" in names


def test_learning_curves_hold_every_epoch_of_the_top_trials(report):
    traces = views_of(payload_of(report))["curves"]["figure"]["data"]
    assert len(traces) == 6  # 3 per strategy
    assert all(list(trace["x"]) == [1.0, 2.0] for trace in traces)


def test_an_earlier_campaign_run_can_be_reported_by_its_id(campaign_store):
    html = build_report(
        NAME, campaign_store.uri, campaign_run_id=campaign_store.first.campaign_run_id
    )
    payload = payload_of(html)
    assert campaign_store.first.campaign_run_id in payload["subtitle"]
    assert "seed 0;" in payload["subtitle"]


def test_the_end_of_run_report_is_logged_on_the_campaign_run(campaign_store, tmp_path):
    run_id = campaign_store.latest.campaign_run_id
    path = log_campaign_report(NAME, campaign_store.uri, run_id, tmp_path / "out" / "x.html")
    assert path.is_file()
    client = MlflowClient(campaign_store.uri)
    assert "report.html" in [a.path for a in client.list_artifacts(run_id)]
    copy = client.download_artifacts(run_id, "report.html", str(tmp_path))
    assert Path(copy).read_text() == path.read_text()


def test_a_campaign_whose_trials_all_failed_gets_a_report_that_says_so(campaign_store, tmp_path):
    payload = payload_of(write_report(FAILING, campaign_store.uri, tmp_path / "f.html").read_text())
    assert payload["alert"].startswith("All 2 trials failed")
    assert "injected fault" in payload["alert"]
    assert 'data-col="failed">2<' in payload["summary_html"]
    for view in ("anytime-trials", "anytime-time", "parallel", "importance", "slices", "curves"):
        assert views_of(payload)[view]["figure"] is None


def test_an_unknown_campaign_name_lists_the_known_ones(campaign_store):
    with pytest.raises(
        DashboardError,
        match="no campaign named 'nope'.*dash-campaign.*dash-failing|"
        "no campaign named 'nope'.*dash-failing.*dash-campaign",
    ):
        build_report("nope", campaign_store.uri)


def test_a_store_with_no_runs_says_there_are_no_campaigns(tmp_path):
    uri = f"sqlite:///{tmp_path / 'empty.db'}"
    MlflowClient(uri).search_experiments()  # creates the store's tables, and nothing else
    with pytest.raises(DashboardError, match="holds no campaigns yet"):
        build_report("quickstart", uri)


def test_a_missing_sqlite_file_is_not_created(tmp_path):
    with pytest.raises(DashboardError, match="does not exist"):
        build_report("quickstart", f"sqlite:///{tmp_path / 'absent.db'}")
    assert not (tmp_path / "absent.db").exists()


def test_an_unreachable_tracking_server_fails_fast_with_a_clear_error():
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    started = time.monotonic()
    with pytest.raises(
        DashboardError, match=f"cannot reach the MLflow tracking server at http://127.0.0.1:{port}"
    ):
        build_report("quickstart", f"http://127.0.0.1:{port}")
    # one quick probe (its timeout), not MLflow's client retrying for minutes: a behaviour
    # bound, wide enough for a loaded machine
    assert time.monotonic() - started < 60


def test_the_default_file_name_cannot_leave_the_working_directory():
    from sweepforge.dashboards.report import default_report_name

    assert default_report_name("quickstart") == "quickstart-report.html"
    for hostile in ("../../etc/x", "a/b", "..", "/abs/path", "..\\win"):
        name = default_report_name(hostile)
        assert "/" not in name and "\\" not in name and not name.startswith(".")
