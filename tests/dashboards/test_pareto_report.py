"""The Pareto and hypervolume views of a real campaign with two objectives and a hard limit
(real Ray with 2 CPUs, a real SQLite MLflow store, real training on digits: 2 strategies x 4
trials x 2 epochs), in the report and on the live page; checked against what the campaign
itself computed and logged."""

from __future__ import annotations

import json
import logging
import re
import threading
import urllib.request
from typing import Any

import pytest
from mlflow.tracking import MlflowClient

from benchmarks._browser import CHROMEDRIVER, CHROMIUM, headless_chromium
from sweepforge.dashboards import build_report, write_report
from sweepforge.dashboards.live import make_server
from tests.conftest import small_campaign
from tests.dashboards.test_browser import DRAWN, console_errors, wait_for
from tests.dashboards.test_report import payload_of, views_of

pytestmark = pytest.mark.slow

NAME = "dash-pareto"
LIMIT = 10_000  # n_params: with widths 8-128 and 1-2 layers, some trials break it
STRATEGIES = ["random", "optuna"]


def pareto_campaign() -> dict[str, Any]:
    campaign = small_campaign(
        name=NAME,
        budget={"trials": 4, "max_epochs": 2},
        space={
            "lr": {"type": "float", "low": 1.0e-3, "high": 0.05, "log": True},
            "width": {"type": "int", "low": 8, "high": 128, "log": True},
            "depth": {"type": "int", "low": 1, "high": 2},
        },
        strategies={"random": {}, "optuna": {"sampler": "nsga2"}},
        objectives={"val_accuracy": "max", "n_params": "min"},
        constraints={"n_params": {"max": LIMIT}},
    )
    del campaign["metric"], campaign["mode"]  # objectives: instead
    return campaign


@pytest.fixture(scope="module")
def pareto_store(tmp_path_factory):
    """The store and the campaign's result (its trials with their pareto/on_front flags)."""
    import ray

    from sweepforge.search import Campaign
    from sweepforge.search.config import parse_campaign_config

    uri = f"sqlite:///{tmp_path_factory.mktemp('pareto-mlflow') / 'mlflow.db'}"
    started = not ray.is_initialized()
    if started:
        ray.init(
            num_cpus=2, include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False
        )
    try:
        result = Campaign(parse_campaign_config(pareto_campaign()), tracking_uri=uri).run()
    finally:
        if started:
            ray.shutdown()
    return uri, result


@pytest.fixture(scope="module")
def payload(pareto_store):
    uri, _ = pareto_store
    return payload_of(build_report(NAME, uri))


def traces(view: dict, *, mode: str) -> dict[str, dict]:
    return {t["name"]: t for t in view["figure"]["data"] if t.get("mode") == mode}


def test_the_report_adds_the_pareto_and_hypervolume_views_after_the_summary(payload):
    ids = [view["id"] for view in payload["views"]]
    assert ids[:4] == ["summary", "pareto", "hypervolume", "anytime-trials"]
    assert "pareto-front" not in ids  # two objectives: the scatter says it all
    views = views_of(payload)
    assert views["pareto"]["title"] == "Pareto fronts: val_accuracy against n_params"
    assert f"n_params <= {LIMIT}" in views["pareto"]["note"]
    assert "maximise val_accuracy, minimise n_params; n_params <= 10000;" in payload["subtitle"]


def test_every_trial_is_a_point_hollow_where_it_breaks_the_limit(payload, pareto_store):
    _, result = pareto_store
    points = traces(views_of(payload)["pareto"], mode="markers")
    for name in STRATEGIES:
        own = result.trials[result.trials["strategy"] == name]
        feasible = own["feasible"].astype(bool)
        kept, broke = own[feasible], own[~feasible]
        drawn = points[name]
        assert drawn["marker"]["symbol"] == "circle"
        assert sorted(zip(drawn["x"], drawn["y"])) == sorted(
            zip(kept["n_params"], kept["val_accuracy"])
        )
        assert (broke["n_params"] > LIMIT).all()
        hollow = points.get(f"{name}: breaks a limit")
        assert len(broke) == (len(hollow["x"]) if hollow else 0)
        if hollow:
            assert hollow["marker"]["symbol"] == "circle-open"
    assert (~result.trials["feasible"].astype(bool)).any(), "no trial broke the limit: no check"


def test_each_strategy_front_is_its_step_line_with_the_front_the_campaign_logged(
    payload, pareto_store
):
    uri, result = pareto_store
    steps = traces(views_of(payload)["pareto"], mode="lines")
    client = MlflowClient(uri)
    strategy_runs = {
        run.data.tags["sweepforge.strategy"]: run
        for run in client.search_runs(
            [result.experiment_id], "tags.`sweepforge.kind` = 'strategy'"
        )
    }
    for name in STRATEGIES:
        logged = int(strategy_runs[name].data.metrics["front_size"])
        (key,) = [k for k in steps if k.startswith(f"{name}: its front")]
        line = steps[key]
        assert key == f"{name}: its front ({logged})" and len(line["x"]) == logged
        on_front = result.trials["on_front"].astype(bool)
        front = result.trials[(result.trials["strategy"] == name) & on_front]
        assert sorted(zip(line["x"], line["y"])) == sorted(
            zip(front["n_params"], front["val_accuracy"])
        )
        assert list(line["x"]) == sorted(line["x"]) and line["line"]["shape"] == "hv"


def test_the_campaign_front_is_the_trials_tagged_on_it(payload, pareto_store):
    _, result = pareto_store
    (ring,) = [
        t for t in views_of(payload)["pareto"]["figure"]["data"] if "campaign" in t["name"]
    ]
    front = result.trials[result.trials["pareto"].astype(bool)]
    assert ring["name"] == f"the campaign's Pareto front ({len(front)} trials)"
    assert sorted(zip(ring["x"], ring["y"])) == sorted(
        zip(front["n_params"], front["val_accuracy"])
    )


def test_hypervolume_curves_end_at_each_strategy_s_hypervolume(payload, pareto_store):
    _, result = pareto_store
    view = views_of(payload)["hypervolume"]
    lines = traces(view, mode="lines+markers")
    assert list(lines) == STRATEGIES
    expected = result.summary.set_index("strategy")
    for name in STRATEGIES:
        assert lines[name]["x"][-1] == 4.0  # one step per trial ended
        assert lines[name]["y"][-1] == pytest.approx(expected.loc[name, "hypervolume"])
    assert "against the reference point val_accuracy" in view["note"]


def test_the_summary_shows_front_size_hypervolume_and_the_feasible_best(payload, pareto_store):
    _, result = pareto_store
    rows = dict(re.findall(r'<tr data-strategy="([^"]+)">(.*?)</tr>', payload["summary_html"]))
    assert list(rows) == STRATEGIES
    expected = result.summary.set_index("strategy")
    for name, cells in rows.items():
        size = re.search(r'data-col="front_size">(\d+)<', cells).group(1)
        volume = re.search(r'data-col="hypervolume">([\d.,]+)<', cells).group(1)
        best = re.search(r'data-col="best_value">([\d.]+)<', cells).group(1)
        assert int(size) == expected.loc[name, "front_size"]
        assert float(volume.replace(",", "")) == pytest.approx(
            expected.loc[name, "hypervolume"], rel=1e-3
        )
        assert float(best) == pytest.approx(expected.loc[name, "best_value"], abs=1e-4)


def test_the_live_page_shows_the_same_views(pareto_store, payload):
    uri, _ = pareto_store
    server = make_server(uri, port=0, refresh_s=0.5)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/api/payload?campaign={NAME}"
        with urllib.request.urlopen(url, timeout=60) as reply:
            live = json.loads(reply.read())
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
    drawn = [view["id"] for view in live["views"] if view.get("figure")]
    assert drawn[:2] == ["pareto", "hypervolume"]
    assert live["summary_html"] == payload["summary_html"]


@pytest.mark.skipif(
    not (CHROMIUM and CHROMEDRIVER), reason="needs Debian's chromium and chromium-driver"
)
def test_a_browser_draws_the_pareto_views_without_errors(pareto_store, tmp_path):
    uri, result = pareto_store
    report = write_report(NAME, uri, tmp_path / "report.html")
    driver = headless_chromium(console_log=True)
    try:
        driver.get(report.as_uri())
        views = ["pareto", "hypervolume"]
        wait_for(lambda: all(ok for _, ok in driver.execute_script(DRAWN, views)), "the views")
        marks = driver.execute_script(
            "return document.querySelectorAll('#view-pareto g.points path.point').length"
        )
        # a mark per trial, and a ring around each trial on the campaign's front
        assert marks == len(result.trials) + result.trials["pareto"].astype(bool).sum()
        assert console_errors(driver) == []
    finally:
        driver.quit()
