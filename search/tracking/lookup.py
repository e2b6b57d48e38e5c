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
    TAG_KIND,
    TAG_MODEL_NOTE,
    TAG_MODEL_URI,
    TAG_STRATEGY,
    TAG_TRIAL_ID,
    RunKind,
    is_finite_number,
)


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


def best_trial(name: str, *, tracking_uri: str | None = None, strategy: str | None = None) -> BestTrial:
    """The best finished trial of the latest run of campaign ``name``."""
    from .tracker import resolve_tracking_uri

    client = MlflowClient(tracking_uri=resolve_tracking_uri(tracking_uri))
    experiment, campaign = _latest_campaign(client, name)
    metric, mode = campaign.data.params["metric"], campaign.data.params["mode"]
    query = (f"tags.`{TAG_KIND}` = '{RunKind.TRIAL}' and tags.`{TAG_CAMPAIGN_ID}` = "
             f"'{campaign.data.tags[TAG_CAMPAIGN_ID]}' and attributes.status = 'FINISHED'")
    if strategy:
        query += f" and tags.`{TAG_STRATEGY}` = '{strategy.replace(chr(39), '')}'"
    trials = client.search_runs([experiment.experiment_id], filter_string=query, max_results=50000)
    if not strategy:  # the final refit (strategy 'final') trains a config found by the others
        trials = [t for t in trials if t.data.tags.get(TAG_STRATEGY) != "final"]
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
