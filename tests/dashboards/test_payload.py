"""The page payload, built from hand-made MLflow-shaped rows (no store, no browser)."""

from __future__ import annotations

import json

import pandas as pd

from sweepforge.dashboards._payload import VIEWS, build_payload, payload_json, summary_html
from sweepforge.dashboards._store import CampaignRows
from sweepforge.dashboards._views import summary
from tests.dashboards.test_rows import CAMPAIGNS, run


def no_histories(run_ids, metric):
    return pd.DataFrame(
        {"run_id": run_ids, "step": [1] * len(run_ids), "value": [0.5] * len(run_ids)}
    )


def rows(*trial_runs):
    return CampaignRows(
        "demo", "sqlite:///x.db", CAMPAIGNS.iloc[:1], pd.DataFrame(list(trial_runs))
    )


def by_id(payload):
    return {view["id"]: view for view in payload["views"]}


def test_every_view_has_a_figure_when_trials_finished():
    payload = build_payload(
        rows(
            run(0, strategy="random", value=0.8, config={"lr": 0.01, "opt": "adam"}, end=3),
            run(1, strategy="random", value=0.9, config={"lr": 0.02, "opt": "sgd"}, end=5),
            run(0, strategy="optuna", value=0.7, config={"lr": 0.03, "opt": "adam"}, end=4),
            run(1, strategy="optuna", value=0.6, config={"lr": 0.04, "opt": "sgd"}, end=6),
        ),
        no_histories,
    )
    assert [v["id"] for v in payload["views"]] == [vid for vid, _ in VIEWS]
    views = by_id(payload)
    for vid in ("anytime-trials", "anytime-time", "parallel", "importance", "slices", "curves"):
        assert views[vid]["figure"]["data"], vid
    assert payload["strategies"] == ["random", "optuna"]
    assert payload["alert"] == ""
    assert [c["strategy"] for c in payload["configs"]] == ["random", "optuna"]
    assert "lr: 0.02" in payload["configs"][0]["yaml"]
    json.loads(payload_json(payload))  # JSON-ready


def test_a_campaign_whose_trials_all_failed_says_so_and_draws_no_empty_plots():
    payload = build_payload(
        rows(
            run(0, status="FAILED", value=float("nan"), **{"tags.sweepforge.error": "E: diverged"}),
            run(1, status="FAILED", value=float("nan"), **{"tags.sweepforge.error": "E: diverged"}),
        ),
        no_histories,
    )
    assert (
        payload["alert"].startswith("All 2 trials failed")
        and "E: diverged (2x)" in payload["alert"]
    )
    views = by_id(payload)
    for vid in ("anytime-trials", "anytime-time", "parallel", "importance", "slices", "curves"):
        assert views[vid]["figure"] is None and "failed" in views[vid]["empty"]
    assert "no finished trial" in payload["configs"][0]["heading"]


def test_a_campaign_whose_trials_all_score_the_same_draws_every_view_but_importance():
    # every config reaches val_accuracy 1.0 (iris): fANOVA has no variance to share out
    payload = build_payload(
        rows(
            run(0, strategy="random", value=1.0, config={"lr": 0.01, "opt": "adam"}, end=3),
            run(1, strategy="random", value=1.0, config={"lr": 0.02, "opt": "sgd"}, end=5),
            run(2, strategy="random", value=1.0, config={"lr": 0.03, "opt": "adam"}, end=4),
        ),
        no_histories,
    )
    views = by_id(payload)
    assert views["importance"]["figure"] is None
    assert views["importance"]["empty"] == (
        "No importance to show: every scored trial has the same value (1), "
        "so no knob explains a difference."
    )
    for vid in ("anytime-trials", "anytime-time", "parallel", "slices", "curves"):
        assert views[vid]["figure"]["data"], vid
    assert payload["alert"] == ""
    json.loads(payload_json(payload))


def test_summary_html_escapes_names_and_shows_optional_columns_only_when_used():
    table = summary(
        pd.DataFrame(
            [
                {
                    "campaign_id": "c",
                    "seed": "0",
                    "strategy": "<b>x</b>",
                    "trial_id": 0,
                    "run_id": "r",
                    "state": "COMPLETE",
                    "value": 0.5,
                    "test_value": 0.4,
                    "started_s": 0.0,
                    "ended_s": 90.0,
                    "duration_s": 90.0,
                    "epochs": 1.0,
                    "error": "",
                    "config": {},
                }
            ]
        ),
        "max",
    )
    text = summary_html(table, "val_accuracy")
    assert "<b>x</b>" not in text and "&lt;b&gt;x&lt;/b&gt;" in text
    assert "running" not in text and "killed" not in text
    assert ">1.5 min<" in text and ">0.5000<" in text


def test_payload_json_cannot_close_the_script_element():
    text = payload_json({"alert": "</script><script>alert(1)</script>"})
    assert "</script>" not in text and json.loads(text)["alert"].startswith("</script>")
