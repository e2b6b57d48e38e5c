"""A campaign's rows -> everything the page shows, as one JSON-ready dict (the "payload").

The report embeds the payload in its HTML; the live dashboard serves it as JSON and the page
redraws from it. Both draw with the same script (:mod:`._page`), so they show the same views.
"""

from __future__ import annotations

import html
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pandas as pd
from plotly.utils import PlotlyJSONEncoder

from . import _figures, _knobs, _views
from ._importance import importance
from ._rows import CampaignInfo, campaign_info, param_specs, scored, trials_frame
from ._store import CampaignRows

Histories = Callable[[list[str], str], pd.DataFrame]
VIEWS = [  # (id, title): the sections of the page, in order
    ("summary", "Summary per strategy"),
    ("anytime-trials", "Best so far, by trials"),
    ("anytime-time", "Best so far, by wall-clock time"),
    ("parallel", "Parallel coordinates of every trial"),
    ("importance", "Hyperparameter importance (fANOVA)"),
    ("slices", "Slices: the metric against each knob"),
    ("curves", "Learning curves of the top trials"),
    ("configs", "Best config of each strategy"),
]


@dataclass(frozen=True)
class _Campaign:
    """One campaign run's trials, ready to draw; ``every_seed`` adds its repeats' trials."""

    info: CampaignInfo
    trials: pd.DataFrame
    every_seed: pd.DataFrame
    strategies: list[str]
    colors: dict[str, str]


def build_payload(
    rows: CampaignRows,
    histories: Histories,
    *,
    top_per_strategy: int = 3,
    max_lines: int = 1000,
    max_points: int = 200,
    importance_fn: Callable[..., Any] = importance,
) -> dict[str, Any]:
    """Every view of the campaign in ``rows``; ``histories(run_ids, metric)`` reads the
    per-epoch metric of the top trials (only those: a campaign may hold 10,000 trials)."""
    info = campaign_info(rows.campaigns.iloc[0], rows.name)
    every_seed = trials_frame(rows.trials, rows.campaigns, info.metric)
    trials = every_seed[every_seed["campaign_id"] == info.campaign_id]
    strategies = _views.strategy_order(trials, info.strategies)
    campaign = _Campaign(info, trials, every_seed, strategies, _figures.strategy_colors(strategies))
    if scored(trials).empty:
        why = _no_scores_message(trials)
        plots = {vid: _empty(why) for vid, _ in VIEWS if vid not in ("summary", "configs")}
    else:
        plots = {
            **_anytime_plots(campaign),
            **_trial_plots(campaign, max_lines, max_points, importance_fn),
            "curves": _curves_plot(campaign, histories, top_per_strategy),
        }
    metric = info.metric
    return {
        "campaign": rows.name,
        "title": f"Campaign {rows.name}",
        "subtitle": _subtitle(info, trials),
        "alert": _alert(trials),
        "summary_html": summary_html(_views.summary(trials, info.mode, strategies), metric),
        "strategies": strategies,
        "views": [{"id": vid, "title": title, **plots.get(vid, {})} for vid, title in VIEWS],
        "configs": [
            {
                "strategy": c.strategy,
                "yaml": c.yaml,
                "heading": (
                    f"{c.strategy}: trial {c.trial_id}, {metric} = {c.value:.6g}"
                    if c.trial_id is not None
                    else f"{c.strategy}: no finished trial"
                ),
            }
            for c in _views.best_configs(trials, info.mode, strategies)
        ],
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "tracking_uri": rows.tracking_uri,
    }


def _anytime_plots(c: _Campaign) -> dict[str, dict[str, Any]]:
    seeds = sorted(set(c.every_seed["seed"]), key=str)
    note = (
        f"Median and spread across {len(seeds)} runs of this campaign with seeds "
        f"{', '.join(seeds)}."
        if len(seeds) > 1
        else ""
    )
    by_trials = _views.anytime(c.every_seed, c.info.mode, "trials", c.strategies)
    by_time = _views.anytime(c.every_seed, c.info.mode, "seconds", c.strategies)
    return {
        "anytime-trials": _drawn(
            _figures.anytime_figure(by_trials, c.colors, c.info.metric, "trials"), note
        ),
        "anytime-time": _drawn(
            _figures.anytime_figure(by_time, c.colors, c.info.metric, "seconds"), note
        ),
    }


def _trial_plots(
    c: _Campaign, max_lines: int, max_points: int, importance_fn: Callable[..., Any]
) -> dict[str, dict[str, Any]]:
    metric, mode = c.info.metric, c.info.mode
    specs = param_specs(c.trials)
    parallel = _knobs.parallel(c.trials, specs, metric, mode, max_lines=max_lines)
    found = importance_fn(c.trials, specs, mode)
    parts, note = _knobs.slices(c.trials, specs, mode, c.strategies, max_points=max_points)
    return {
        "parallel": _drawn(_figures.parallel_figure(parallel, metric, mode), parallel.note),
        "importance": (
            _drawn(_figures.importance_figure(found), found.note)
            if found.values
            else _empty(found.note)
        ),
        "slices": (
            _drawn(_figures.slices_figure(parts, c.colors, metric), note)
            if parts
            else _empty("No knob varies across the trials.")
        ),
    }


def _curves_plot(c: _Campaign, histories: Histories, per_strategy: int) -> dict[str, Any]:
    top = _views.top_trials(c.trials, c.info.mode, per_strategy)
    curves = _views.learning_curves(top, histories(top["run_id"].tolist(), c.info.metric))
    if not curves:
        return _empty("The top trials logged no per-epoch metric.")
    return _drawn(
        _figures.learning_curves_figure(curves, c.colors, c.info.metric),
        f"The best {per_strategy} trials of each strategy.",
    )


def payload_json(payload: dict[str, Any]) -> str:
    """The payload as JSON that is safe inside a ``<script>`` element."""
    text = json.dumps(payload, cls=PlotlyJSONEncoder, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def summary_html(table: pd.DataFrame, metric: str) -> str:
    """The summary table as HTML (every cell escaped); optional state columns only when used."""
    optional = [c for c in ("killed", "running") if table[c].sum() > 0]
    columns = [
        ("strategy", "strategy"),
        ("trials", "trials"),
        ("finished", "finished"),
        ("pruned", "pruned"),
        ("failed", "failed"),
        *[(c, c) for c in optional],
        ("best_value", f"best {metric}"),
        ("test_value", "test (best config)"),
        ("wall_time_s", "wall time"),
        ("epochs", "epochs trained"),
        ("compute_s", "compute time"),
        ("per_trial_s", "time per trial"),
        ("trials_to_within_1pct", "trials to within 1% of best"),
    ]
    head = "".join(f"<th>{html.escape(label)}</th>" for _, label in columns)
    body = []
    for row in table.to_dict("records"):
        cells = "".join(
            f'<td data-col="{key}">{html.escape(_cell(key, row[key]))}</td>' for key, _ in columns
        )
        body.append(f'<tr data-strategy="{html.escape(str(row["strategy"]))}">{cells}</tr>')
    return (
        f'<table id="summary-table" class="sf-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _cell(key: str, value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if key in ("best_value", "test_value"):
        return f"{value:.4f}"
    if key.endswith("_s"):
        return _duration(float(value))
    if isinstance(value, float):
        return f"{value:.0f}"
    return str(value)


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


def _drawn(figure: Any, note: str = "") -> dict[str, Any]:
    return {"figure": figure.to_plotly_json(), "note": note}


def _empty(message: str) -> dict[str, Any]:
    return {"figure": None, "note": "", "empty": message}


def _subtitle(info: CampaignInfo, trials: pd.DataFrame) -> str:
    started = (
        time.strftime("%Y-%m-%d %H:%M", time.localtime(info.started_s))
        if not math.isnan(info.started_s)
        else "?"
    )
    settings = info.settings
    model = ""
    if info.model:  # where the campaign's model is in MLflow, and its test score
        registered = f", registered as {info.registered}" if info.registered else ""
        test = (f", refit's test score {info.final_test:.4g}" if info.final_test is not None
                else "")
        model = f"; model {info.model}{registered}{test}"
    return (
        f"{settings.get('trainable', '?')} on {settings.get('dataset', '?')}; "
        f"{info.mode}imise {info.metric}; seed {info.seed}; {len(trials)} trials; "
        f"campaign run {info.run_id} ({info.status}), started {started}{model}"
    )


def _alert(trials: pd.DataFrame) -> str:
    if trials.empty:
        return "This campaign run has no trials yet."
    if not scored(trials).empty:
        return ""
    failed = (trials["state"] == "FAILED").sum()
    if failed == len(trials):
        common = "; ".join(f"{error} ({count}x)" for error, count in _views.failures(trials))
        return f"All {len(trials)} trials failed, so there is nothing to compare. Errors: {common}"
    return _no_scores_message(trials)


def _no_scores_message(trials: pd.DataFrame) -> str:
    if trials.empty:
        return "No trials yet."
    if (trials["state"] == "FAILED").all():
        return f"All {len(trials)} trials failed: no metric to show."
    return "No trial has finished with a finite metric yet."
