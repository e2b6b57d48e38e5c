"""A campaign's rows -> everything the page shows, as one JSON-ready dict (the "payload").

The report embeds the payload in its HTML; the live dashboard serves it as JSON and the page
redraws from it. Both draw with the same script (:mod:`._page`), so they show the same views.
A campaign with several objectives adds its Pareto and hypervolume views after the summary
(:data:`PARETO_VIEWS`), and its summary shows each strategy's front size and hypervolume.
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

from sweepforge.search.schema import METRIC_HYPERVOLUME

from . import _figures, _knobs, _pareto, _views
from ._importance import importance
from ._rows import (
    CampaignInfo,
    campaign_info,
    param_specs,
    scored,
    strategy_frame,
    trials_frame,
    with_objectives,
)
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
PARETO_VIEWS = [  # several objectives: after the summary (pareto-front: three or more only)
    ("pareto", "Pareto fronts"),
    ("pareto-front", "Parallel coordinates of the campaign's Pareto front"),
    ("hypervolume", "Hypervolume of each strategy's front, by trials"),
]


@dataclass(frozen=True)
class _Campaign:
    """One campaign run's trials, ready to draw; ``every_seed`` adds its repeats' trials.

    With several objectives, ``ranked`` and ``every_seed`` have no value where a trial breaks a
    hard limit (it is never a best trial); ``trials`` keeps every measured value.
    """

    info: CampaignInfo
    trials: pd.DataFrame
    ranked: pd.DataFrame
    every_seed: pd.DataFrame
    strategies: list[str]
    colors: dict[str, str]
    strategy_runs: pd.DataFrame  # several objectives: every seed's (:func:`strategy_frame`)
    campaigns: pd.DataFrame  # the campaign runs (the chosen one first)


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
    campaign = _campaign(rows)
    info, trials, strategies = campaign.info, campaign.trials, campaign.strategies
    ranked = campaign.ranked
    views = view_list(info)
    if scored(trials).empty:
        why = _no_scores_message(trials)
        plots = {vid: _empty(why) for vid, _ in views if vid not in ("summary", "configs")}
    else:
        plots = {
            **_anytime_plots(campaign),
            **_trial_plots(campaign, max_lines, max_points, importance_fn),
            "curves": _curves_plot(campaign, histories, top_per_strategy),
        }
        if info.multi:
            plots.update(_pareto_plots(campaign, histories, max_points))
    metric = info.metric
    table = _views.summary(ranked, info.mode, strategies)
    if info.multi:
        own = campaign.strategy_runs
        table = _pareto.with_fronts(table, own[own["campaign_id"] == info.campaign_id])
    return {
        "campaign": rows.name,
        "title": f"Campaign {rows.name}",
        "subtitle": _subtitle(info, trials),
        "alert": _alert(trials),
        "summary_html": summary_html(table, metric),
        "strategies": strategies,
        "views": [{"id": vid, "title": title, **plots.get(vid, {})} for vid, title in views],
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
            for c in _views.best_configs(ranked, info.mode, strategies)
        ],
        "generated": time.strftime("%Y-%m-%d %H:%M:%S"),
        "tracking_uri": rows.tracking_uri,
    }


def _campaign(rows: CampaignRows) -> _Campaign:
    """The chosen campaign run's trials and its repeats', as the views take them."""
    info = campaign_info(rows.campaigns.iloc[0], rows.name)
    every_seed = trials_frame(rows.trials, rows.campaigns, info.metric)
    if info.multi or info.limits:
        every_seed = with_objectives(every_seed, rows.trials, list(info.objectives), info.limits)
    trials = every_seed[every_seed["campaign_id"] == info.campaign_id]
    if info.multi or info.limits:  # a trial that breaks a hard limit is never a best one
        every_seed = _pareto.feasible_values(every_seed)
    strategies = _views.strategy_order(trials, info.strategies)
    return _Campaign(
        info,
        trials,
        every_seed[every_seed["campaign_id"] == info.campaign_id],
        every_seed,
        strategies,
        _figures.strategy_colors(strategies),
        strategy_frame(rows.strategy_runs, rows.campaigns),
        rows.campaigns,
    )


def view_list(info: CampaignInfo) -> list[tuple[str, str]]:
    """The page's sections, (id, title) each: :data:`VIEWS`, and with several objectives the
    Pareto views after the summary (the parallel coordinates of the front with three or more)."""
    if not info.multi:
        return list(VIEWS)
    names = list(info.objectives)
    titles = dict(PARETO_VIEWS)
    if len(names) == 2:
        titles["pareto"] = f"Pareto fronts: {names[0]} against {names[1]}"
        del titles["pareto-front"]
    else:
        titles["pareto"] = f"Pareto fronts: each pair of {len(names)} objectives"
    return [VIEWS[0], *titles.items(), *VIEWS[1:]]


def _pareto_plots(
    c: _Campaign, histories: Histories, max_points: int
) -> dict[str, dict[str, Any]]:
    """The Pareto view (a scatter with each strategy's front for two objectives, a panel per
    pair for more), the parallel coordinates of the campaign's front (three or more) and the
    hypervolume curves."""
    objectives = c.info.objectives
    data = _pareto.pareto(c.trials, objectives, c.strategies, max_points=max_points)
    plots: dict[str, dict[str, Any]] = {}
    if not data.total:
        plots["pareto"] = _empty("No scored trial has a value for every objective yet.")
    else:
        figure = (
            _figures.pareto_figure(data, c.colors)
            if len(objectives) == 2
            else _figures.pareto_matrix_figure(data, c.colors)
        )
        plots["pareto"] = _drawn(figure, _pareto_note(c.info, data))
    if len(objectives) > 2:
        front = _pareto.front_parallel(c.trials, objectives, param_specs(c.trials))
        first = next(iter(objectives))
        plots["pareto-front"] = (
            _drawn(
                _figures.parallel_figure(front, first, objectives[first]),
                f"The {front.shown} trials on the campaign's front"
                + ("." if data.marked else " so far (the campaign marks its front when it ends)."),
            )
            if front.shown
            else _empty("No trial is on the campaign's front yet.")
        )
    plots["hypervolume"] = _hypervolume_plot(c, histories)
    return plots


def _pareto_note(info: CampaignInfo, data: _pareto.ParetoData) -> str:
    parts = []
    if len(info.objectives) == 2:
        parts.append(
            "Each strategy's own front is its step line: the trials no other of its trials "
            "beats on both objectives, among those that finished within every hard limit."
        )
    if info.limits:
        limits = " and ".join(str(limit) for limit in info.limits)
        parts.append(f"Hollow points break a hard limit ({limits}).")
    ringed = "Diamonds ring the campaign's front"
    parts.append(
        f"{ringed}." if data.marked else f"{ringed} (so far: the campaign marks it when it ends)."
    )
    if data.note:
        parts.append(data.note)
    return " ".join(parts)


def _hypervolume_plot(c: _Campaign, histories: Histories) -> dict[str, Any]:
    runs = c.strategy_runs
    found = histories(runs["run_id"].tolist(), METRIC_HYPERVOLUME) if len(runs) else None
    curves = (
        _pareto.hypervolume_curves(found, runs, c.strategies) if found is not None else []
    )
    if not curves:
        return _empty(
            "The strategies log their hypervolume when the campaign ends."
            if c.info.status == "RUNNING"
            else "No strategy logged a hypervolume (no trial finished with every objective)."
        )
    return _drawn(_figures.hypervolume_figure(curves, c.colors), _hypervolume_note(c, curves))


def _hypervolume_note(c: _Campaign, curves: list[_views.Curve]) -> str:
    """Which reference point bounds the volumes, and across which seeds the band is."""
    names = list(c.info.objectives)

    def point(values: list[float] | None) -> str:
        if values is None or len(values) != len(names):
            return "?"
        return ", ".join(f"{n} {v:.6g}" for n, v in zip(names, values))

    note = (
        "Larger is better: each front is measured against the reference point "
        f"{point(c.info.reference)}."
    )
    seeds = max(curve.seeds for curve in curves)
    if seeds > 1:
        references = {
            point(campaign_info(row, c.info.name).reference)
            for _, row in c.campaigns.iterrows()
        }
        shown = sorted(set(c.strategy_runs["seed"]), key=str)
        note = (
            f"Median and spread across {len(shown)} runs of this campaign with seeds "
            f"{', '.join(shown)}. " + note
        )
        if len(references) > 1:
            note += (
                " The runs with other seeds have reference points of their own (the worst "
                "value of each objective over their own trials), so the band compares volumes "
                "of different boxes: read it as a rough spread."
            )
    return note


def _anytime_plots(c: _Campaign) -> dict[str, dict[str, Any]]:
    seeds = sorted(set(c.every_seed["seed"]), key=str)
    note = (
        f"Median and spread across {len(seeds)} runs of this campaign with seeds "
        f"{', '.join(seeds)}."
        if len(seeds) > 1
        else ""
    )
    if c.info.multi and c.info.limits:
        note = f"{note} Trials that break a hard limit do not count.".strip()
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
    top = _views.top_trials(c.ranked, c.info.mode, per_strategy)
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
    """The summary table as HTML (every cell escaped); optional state columns only when used,
    and each strategy's front size and hypervolume when the table has them (several
    objectives)."""
    optional = [c for c in ("killed", "running") if table[c].sum() > 0]
    fronts = [
        (key, label)
        for key, label in (("front_size", "front size"), ("hypervolume", "hypervolume"))
        if key in table
    ]
    columns = [
        ("strategy", "strategy"),
        ("trials", "trials"),
        ("finished", "finished"),
        ("pruned", "pruned"),
        ("failed", "failed"),
        *[(c, c) for c in optional],
        ("best_value", f"best {metric}"),
        ("test_value", "test (best config)"),
        *fronts,
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
    if key == "hypervolume":
        return f"{value:.4g}" if abs(value) < 1e4 else f"{value:,.0f}"
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
        f"{_goal(info)}; seed {info.seed}; {len(trials)} trials; "
        f"campaign run {info.run_id} ({info.status}), started {started}{model}"
    )


def _goal(info: CampaignInfo) -> str:
    """What the campaign optimises: ``maximise val_accuracy``, or with several objectives
    ``maximise val_accuracy, minimise n_params and latency_ms; n_params <= 20000``."""
    if not info.multi:
        return f"{info.mode}imise {info.metric}"
    ways = []
    for way in dict.fromkeys(info.objectives.values()):  # in the file's order
        names = [name for name, d in info.objectives.items() if d == way]
        if names:
            listed = ", ".join(names[:-1]) + " and " + names[-1] if len(names) > 1 else names[0]
            ways.append(f"{way}imise {listed}")
    limits = "".join(f"; {limit}" for limit in info.limits)
    return ", ".join(ways) + limits


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
