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
    limits; with several objectives, the best by the first)."""
    from .tracker import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    experiment, campaign = _latest_campaign(client, name)
    metric, mode = campaign.data.params["metric"], campaign.data.params["mode"]
    trials = _finished_trials(client, experiment, campaign, strategy)
    scored = [(t.data.metrics.get(metric), t) for t in trials]
    scored = [(v, t) for v, t in scored if is_finite_number(v)]
    if not scored:
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
    from .tracker import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
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
                     strategy: str | None) -> list[Any]:
    """The FINISHED trial runs of ``campaign`` (of one ``strategy``) that kept every hard
    limit; the final refit's only when asked for by name."""
    query = (f"tags.`{TAG_KIND}` = '{RunKind.TRIAL}' and tags.`{TAG_CAMPAIGN_ID}` = "
             f"'{campaign.data.tags[TAG_CAMPAIGN_ID]}' and attributes.status = 'FINISHED'")
    if strategy:
        query += f" and tags.`{TAG_STRATEGY}` = '{strategy.replace(chr(39), '')}'"
    trials = client.search_runs([experiment.experiment_id], filter_string=query, max_results=50000)
    if not strategy:  # the final refit (strategy 'final') trains a config found by the others
        trials = [t for t in trials if t.data.tags.get(TAG_STRATEGY) != "final"]
    return [t for t in trials if t.data.tags.get(TAG_FEASIBLE) != "false"]


def campaign_model(name: str, *, tracking_uri: str | None = None,
                   strategy: str | None = None) -> CampaignModel:
    """The final model of the latest run of campaign ``name`` (or one strategy's best trial's
    model). Only models this store names on the campaign's runs are ever returned."""
    from .tracker import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    experiment, campaign = _latest_campaign(client, name)
    run = campaign
    if strategy:
        query = (f"tags.`{TAG_KIND}` = '{RunKind.STRATEGY}' and tags.`{TAG_CAMPAIGN_ID}` = "
                 f"'{campaign.data.tags[TAG_CAMPAIGN_ID]}'")
        runs = {r.data.tags.get(TAG_STRATEGY): r
                for r in client.search_runs([experiment.experiment_id], filter_string=query)}
        if strategy not in runs:
            raise CampaignError(f"--strategy: campaign {name!r} has no strategy {strategy!r}; "
                                f"it has: {', '.join(sorted(filter(None, runs)))}.")
        run = runs[strategy]
    uri = run.data.tags.get(TAG_MODEL_URI)
    if not uri or not uri.startswith("models:/"):
        why = run.data.tags.get(TAG_MODEL_NOTE) or (
            "its run has no model yet (a campaign logs its models when it finishes)")
        what = f"strategy {strategy!r} of campaign {name!r}" if strategy else f"campaign {name!r}"
        raise CampaignError(f"{what} has no model: {why}")
    return CampaignModel(uri=uri, strategy=strategy, run_id=run.info.run_id)


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
