"""Reads finished campaigns back from MLflow (for ``sweepforge best`` and ``predict``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlflow.tracking import MlflowClient

from ..config import CampaignError
from ..schema import (
    TAG_CAMPAIGN_ID,
    TAG_CONFIG,
    TAG_FEASIBLE,
    TAG_KIND,
    TAG_MODEL_NOTE,
    TAG_MODEL_URI,
    TAG_OBJECTIVES,
    TAG_STATE,
    TAG_STRATEGY,
    TAG_TRIAL_ID,
    RunKind,
    TrialStateName,
    is_finite_number,
)
from ..strategies.pareto import pareto_mask


@dataclass(frozen=True)
class BestTrial:
    """The best trial of a campaign run."""

    strategy: str
    trial_id: int
    metric: str
    value: float
    config: dict[str, Any]
    run_id: str


@dataclass(frozen=True)
class CampaignModel:
    """A model a campaign logged: its URI in the store and what it is."""

    uri: str  # models:/<model id>
    strategy: str | None  # None: the campaign's final model
    run_id: str  # the run it is logged on


@dataclass(frozen=True)
class FrontTrial:
    """A trial on a campaign's Pareto front."""

    strategy: str
    trial_id: int
    values: dict[str, float]  # each objective's, in the campaign's order
    config: dict[str, Any]
    run_id: str


def best_trial(name: str, *, tracking_uri: str | None = None, strategy: str | None = None) -> BestTrial:
    """The best finished trial of the latest run of campaign ``name`` (that kept its hard
    limits; with several objectives, the best by the first).

    Raises:
        CampaignError: no store at ``tracking_uri``, an unknown campaign or ``strategy``, or no
            finished trial with a finite metric that kept every hard limit (the message says
            which).
    """
    client = _client(tracking_uri)
    experiment, campaign = _latest_campaign(client, name)
    metric, mode = campaign.data.params["metric"], campaign.data.params["mode"]
    finished = _finished_trials(client, experiment, campaign, strategy, kept_limits=False)
    if strategy and not finished:
        _strategy_run(client, experiment, campaign, name, strategy)  # an unknown one: says so
    trials = [t for t in finished if _kept_limits(t)]
    scored = [(t.data.metrics.get(metric), t) for t in trials]
    scored = [(v, t) for v, t in scored if is_finite_number(v)]
    if not scored:
        _refuse_broken_limits(name, campaign, strategy, finished, metric)
        where = f" for strategy {strategy!r}" if strategy else ""
        raise CampaignError(f"campaign {name!r} has no finished trial with a finite {metric}{where}.")
    value, run = (max if mode == "max" else min)(scored, key=lambda pair: pair[0])
    return BestTrial(
        strategy=run.data.tags[TAG_STRATEGY], trial_id=int(run.data.tags[TAG_TRIAL_ID]), metric=metric,
        value=value, config=json.loads(run.data.tags[TAG_CONFIG]), run_id=run.info.run_id,
    )


def campaign_front(name: str, *, tracking_uri: str | None = None,
                   strategy: str | None = None) -> tuple[dict[str, str], list[FrontTrial]]:
    """The objectives of the latest run of campaign ``name`` and the trials on its Pareto
    front (of one ``strategy``'s trials, when given), best first by the first objective.
    COMPLETE trials that kept every hard limit and have every objective stand on it.

    Raises:
        CampaignError: the campaign has one objective, or an unknown campaign.
    """
    client = _client(tracking_uri)
    experiment, campaign = _latest_campaign(client, name)
    objectives = json.loads(campaign.data.tags.get(TAG_OBJECTIVES) or "{}")
    if len(objectives) < 2:
        raise CampaignError(f"campaign {name!r} has one objective "
                            f"({campaign.data.params.get('metric')}): it has a best trial, no "
                            "front; `sweepforge best` without --pick prints it.")
    names, directions = list(objectives), list(objectives.values())
    standing = [t for t in _finished_trials(client, experiment, campaign, strategy)
                if t.data.tags.get(TAG_STATE, TrialStateName.COMPLETE.value)
                == TrialStateName.COMPLETE.value
                and all(is_finite_number(t.data.metrics.get(n)) for n in names)]
    if not standing:
        return objectives, []
    mask = pareto_mask([[t.data.metrics[n] for n in names] for t in standing], directions)
    front = [FrontTrial(strategy=t.data.tags[TAG_STRATEGY], trial_id=int(t.data.tags[TAG_TRIAL_ID]),
                        values={n: float(t.data.metrics[n]) for n in names},
                        config=json.loads(t.data.tags[TAG_CONFIG]), run_id=t.info.run_id)
             for t, on in zip(standing, mask, strict=True) if on]
    sign = -1.0 if directions[0] == "max" else 1.0
    return objectives, sorted(front, key=lambda f: (sign * f.values[names[0]], f.strategy,
                                                    f.trial_id))


def _finished_trials(client: MlflowClient, experiment: Any, campaign: Any,
                     strategy: str | None, *, kept_limits: bool = True) -> list[Any]:
    """The FINISHED trial runs of ``campaign`` (of one ``strategy``) that kept every hard
    limit (every one with ``kept_limits=False``); the final refit's only when asked for by
    name."""
    query = (f"tags.`{TAG_KIND}` = '{RunKind.TRIAL}' and tags.`{TAG_CAMPAIGN_ID}` = "
             f"'{campaign.data.tags[TAG_CAMPAIGN_ID]}' and attributes.status = 'FINISHED'")
    if strategy:
        query += f" and tags.`{TAG_STRATEGY}` = '{strategy.replace(chr(39), '')}'"
    trials = client.search_runs([experiment.experiment_id], filter_string=query, max_results=50000)
    if not strategy:  # the final refit (strategy 'final') trains a config found by the others
        trials = [t for t in trials if t.data.tags.get(TAG_STRATEGY) != "final"]
    return [t for t in trials if _kept_limits(t)] if kept_limits else trials


def _kept_limits(trial: Any) -> bool:
    return trial.data.tags.get(TAG_FEASIBLE) != "false"


def _refuse_broken_limits(name: str, campaign: Any, strategy: str | None, finished: list[Any],
                          metric: str) -> None:
    """Says so when every finished trial with a finite ``metric`` broke a hard limit."""
    broke = [t for t in finished if is_finite_number(t.data.metrics.get(metric))]
    if not broke or any(_kept_limits(t) for t in broke):
        return
    limits = _limits_text(campaign.data.params.get("constraints"))
    if strategy:
        raise CampaignError(
            f"every finished trial of strategy {strategy!r} of campaign {name!r} breaks a limit "
            f"(constraints: {limits}); `sweepforge best {name}` without --strategy, or loosen "
            "the limit.")
    raise CampaignError(f"every finished trial of campaign {name!r} breaks a limit "
                        f"(constraints: {limits}); loosen the limit.")


def _limits_text(constraints: str | None) -> str:
    """The campaign's ``constraints`` param (``n_params:None..100000.0``) as ``n_params <=
    100000``."""
    shown = []
    for item in filter(None, (constraints or "").split(",")):
        metric, _, bounds = item.partition(":")
        low, _, high = bounds.partition("..")
        shown += [f"{metric} {op} {_number(bound)}" for op, bound in ((">=", low), ("<=", high))
                  if bound not in ("", "None")]
    return ", ".join(shown) or "see the campaign file"


def _number(text: str) -> str:
    try:
        return f"{float(text):g}"
    except ValueError:
        return text


def campaign_model(name: str, *, tracking_uri: str | None = None,
                   strategy: str | None = None) -> CampaignModel:
    """The final model of the latest run of campaign ``name`` (or one strategy's best trial's
    model). Only models this store names on the campaign's runs are ever returned."""
    client = _client(tracking_uri)
    experiment, campaign = _latest_campaign(client, name)
    run = _strategy_run(client, experiment, campaign, name, strategy) if strategy else campaign
    uri = run.data.tags.get(TAG_MODEL_URI)
    if not uri or not uri.startswith("models:/"):
        why = run.data.tags.get(TAG_MODEL_NOTE) or _why_no_model(client, experiment, campaign, name)
        what = f"strategy {strategy!r} of campaign {name!r}" if strategy else f"campaign {name!r}"
        raise CampaignError(f"{what} has no model: {why}")
    return CampaignModel(uri=uri, strategy=strategy, run_id=run.info.run_id)


def _client(tracking_uri: str | None) -> MlflowClient:
    """A client of the store, once it is there and answers: the check ``sweepforge report``
    makes (:func:`sweepforge.dashboards.open_store`), so a SQLite file that is not there
    is not made and a server that is not up fails in seconds, not after MLflow's retries."""
    from sweepforge.dashboards import DashboardError, open_store

    from .tracker import resolve_tracking_uri

    try:
        return open_store(resolve_tracking_uri(tracking_uri))
    except DashboardError as err:
        raise CampaignError(str(err)) from None


def _strategy_runs(client: MlflowClient, experiment: Any, campaign: Any) -> dict[str, Any]:
    """The strategy runs of ``campaign``, by strategy."""
    query = (f"tags.`{TAG_KIND}` = '{RunKind.STRATEGY}' and tags.`{TAG_CAMPAIGN_ID}` = "
             f"'{campaign.data.tags[TAG_CAMPAIGN_ID]}'")
    runs = client.search_runs([experiment.experiment_id], filter_string=query)
    return {r.data.tags[TAG_STRATEGY]: r for r in runs if r.data.tags.get(TAG_STRATEGY)}


def _strategy_run(client: MlflowClient, experiment: Any, campaign: Any, name: str,
                  strategy: str) -> Any:
    """The run of ``strategy`` in ``campaign``; an error naming the strategies it has if none."""
    runs = _strategy_runs(client, experiment, campaign)
    if strategy not in runs:
        raise CampaignError(f"--strategy: campaign {name!r} has no strategy {strategy!r}; "
                            f"it has: {', '.join(sorted(runs)) or 'none'}.")
    return runs[strategy]


def _why_no_model(client: MlflowClient, experiment: Any, campaign: Any, name: str) -> str:
    """Why a campaign run names no model and no note says why: not finished yet, or each
    strategy's note (a trainable that logs no model notes that on every strategy run)."""
    status = campaign.info.status
    if status == "RUNNING":
        return "its run has no model yet (a campaign logs its models when it finishes)"
    if status != "FINISHED":
        return (f"its run ended {status} before it logged its models; `sweepforge resume "
                f"{name}` finishes it")
    notes = {s: r.data.tags.get(TAG_MODEL_NOTE)
             for s, r in sorted(_strategy_runs(client, experiment, campaign).items())}
    if not any(notes.values()):
        return "no strategy of its run logged a model"
    if len(set(notes.values())) == 1:
        return next(iter(notes.values()))
    return "; ".join(f"strategy {s!r}: {note or 'no model logged'}" for s, note in notes.items())


def _latest_campaign(client: MlflowClient, name: str) -> tuple[Any, Any]:
    """The experiment of campaign ``name`` and its latest campaign run."""
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        known = sorted(e.name for e in client.search_experiments() if e.name != "Default")
        raise CampaignError(f"no campaign named {name!r} in this store; known campaigns: {known or 'none'}.")
    campaigns = client.search_runs(
        [experiment.experiment_id], filter_string=f"tags.`{TAG_KIND}` = '{RunKind.CAMPAIGN}'",
        order_by=["attributes.start_time DESC"], max_results=1,
    )
    if not campaigns:
        raise CampaignError(f"campaign {name!r} has no runs yet.")
    return experiment, campaigns[0]
