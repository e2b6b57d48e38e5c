"""Reading a campaign back from an MLflow store: the only module here that talks to MLflow.

Rows come back as pandas DataFrames in the shape of ``mlflow.search_runs`` (``run_id``,
``status``, ``start_time``, ``end_time``, ``metrics.*``, ``params.*``, ``tags.*``), so the pure
functions of :mod:`._rows` accept either.
"""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import pandas as pd

from sweepforge.search.schema import TAG_CAMPAIGN_ID, TAG_KIND

from . import _sql
from ._rows import objectives_of

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.tracking import MlflowClient

KIND = TAG_KIND
CAMPAIGN_ID = TAG_CAMPAIGN_ID
_SAME_SETTINGS = (
    "trainable",
    "dataset",
    "metric",
    "mode",
    "budget.trials",
    "budget.max_epochs",
    "strategies",
    "objectives",
    "constraints",
)
_PAGE = 10_000
_PROBE_TIMEOUT_S = 5.0


class DashboardError(ValueError):
    """The report or dashboard cannot be built from this store; the message says why."""


@dataclass(frozen=True)
class CampaignEntry:
    """A campaign (an MLflow experiment with campaign runs) and its latest run."""

    name: str
    experiment_id: str
    run_id: str
    status: str
    started: pd.Timestamp


@dataclass(frozen=True)
class CampaignRows:
    """The MLflow rows of one campaign run, plus its repeats with other seeds.

    ``campaigns`` holds the chosen campaign run first, then, for each other seed, the latest
    finished campaign run with the same settings; ``trials`` holds the trial runs of all of them;
    ``strategy_runs`` their strategy runs, read for a campaign with several objectives only
    (their front size and hypervolume), else empty.
    """

    name: str
    tracking_uri: str
    campaigns: pd.DataFrame
    trials: pd.DataFrame
    strategy_runs: pd.DataFrame = field(default_factory=pd.DataFrame)


def open_store(tracking_uri: str) -> MlflowClient:
    """A client for ``tracking_uri``, after checking the store is there and reachable.

    Raises:
        DashboardError: the SQLite file or the ``mlruns`` folder does not exist, or the tracking
            server cannot be reached.
    """
    from mlflow.tracking import MlflowClient

    _check_reachable(tracking_uri)
    client = MlflowClient(tracking_uri=tracking_uri)
    try:
        client.search_experiments(max_results=1)
    except Exception as err:  # noqa: BLE001  (any backend failure: no usable store here)
        raise DashboardError(f"cannot read the MLflow store at {tracking_uri}: {err}") from None
    return client


def list_campaigns(client: MlflowClient) -> list[CampaignEntry]:
    """Every campaign in the store, most recently started first."""
    entries = []
    for experiment in client.search_experiments():
        latest = client.search_runs(
            [experiment.experiment_id],
            filter_string=f"tags.`{KIND}` = 'campaign'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if latest:
            run = latest[0]
            entries.append(
                CampaignEntry(
                    experiment.name,
                    experiment.experiment_id,
                    run.info.run_id,
                    run.info.status,
                    pd.Timestamp(run.info.start_time, unit="ms", tz="UTC"),
                )
            )
    return sorted(entries, key=lambda e: e.started, reverse=True)


def load_campaign(
    client: MlflowClient,
    name: str,
    tracking_uri: str,
    campaign_run_id: str | None = None,
) -> CampaignRows:
    """The rows of campaign ``name``: its latest run (or ``campaign_run_id``) and its repeats.

    Raises:
        DashboardError: no campaign of that name (the message lists the known ones), or it has
            no campaign run yet.
    """
    experiment = client.get_experiment_by_name(name)
    if experiment is None or experiment.lifecycle_stage == "deleted":
        known = [entry.name for entry in list_campaigns(client)]
        if not known:
            raise DashboardError(
                f"the MLflow store at {tracking_uri} holds no campaigns yet; "
                "run one with `sweepforge run FILE`."
            )
        raise DashboardError(
            f"no campaign named {name!r} in {tracking_uri}; known campaigns: {', '.join(known)}."
        )
    campaigns = search_frame(
        client,
        [experiment.experiment_id],
        f"tags.`{KIND}` = 'campaign'",
        order_by=["attributes.start_time DESC"],
    )
    if campaigns.empty:
        raise DashboardError(f"campaign {name!r} has no campaign run in {tracking_uri} yet.")
    chosen = _choose(campaigns, campaign_run_id, name)
    picked = pd.concat([chosen.to_frame().T, _repeats(campaigns, chosen)], ignore_index=True)
    campaign_ids = list(picked[f"tags.{CAMPAIGN_ID}"])
    trials = [
        trial_runs(client, tracking_uri, experiment.experiment_id, campaign_id)
        for campaign_id in campaign_ids
    ]
    strategies = pd.DataFrame()
    if len(objectives_of(chosen)) > 1:
        strategies = pd.concat(
            [strategy_runs(client, experiment.experiment_id, c) for c in campaign_ids],
            ignore_index=True,
        )
    return CampaignRows(
        name, tracking_uri, picked, pd.concat(trials, ignore_index=True), strategies
    )


def trial_runs(
    client: MlflowClient, tracking_uri: str, experiment_id: str, campaign_id: str
) -> pd.DataFrame:
    """The trial runs of one campaign run: read straight from MLflow's database when the URI
    is one (:mod:`._sql`, ten times quicker), else through the client."""
    fast = _sql.trial_runs(tracking_uri, experiment_id, campaign_id)
    if fast is not None:
        return fast
    return search_frame(
        client,
        [experiment_id],
        f"tags.`{KIND}` = 'trial' and tags.`{CAMPAIGN_ID}` = '{campaign_id}'",
    )


def strategy_runs(client: MlflowClient, experiment_id: str, campaign_id: str) -> pd.DataFrame:
    """The strategy runs of one campaign run (a handful: read through the client)."""
    return search_frame(
        client,
        [experiment_id],
        f"tags.`{KIND}` = 'strategy' and tags.`{CAMPAIGN_ID}` = '{campaign_id}'",
    )


def metric_histories(client: MlflowClient, run_ids: Iterable[str], metric: str) -> pd.DataFrame:
    """Per-epoch values of ``metric`` for some runs: columns ``run_id``, ``step``, ``value``."""
    rows = [
        {"run_id": run_id, "step": point.step, "value": point.value}
        for run_id in run_ids
        for point in client.get_metric_history(run_id, metric)
    ]
    return pd.DataFrame(rows, columns=["run_id", "step", "value"])


def search_frame(
    client: MlflowClient,
    experiment_ids: Sequence[str],
    filter_string: str,
    order_by: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Every run matching the filter (all pages), shaped like ``mlflow.search_runs``' frame."""
    rows, token = [], None
    while True:
        page = client.search_runs(
            list(experiment_ids),
            filter_string=filter_string,
            order_by=list(order_by or []),
            max_results=_PAGE,
            page_token=token,
        )
        rows.extend(_row(run) for run in page)
        token = page.token
        if not token:
            break
    frame = pd.DataFrame(rows)
    if frame.empty:
        frame = pd.DataFrame(columns=["run_id", "status", "start_time", "end_time"])
    for column in ("start_time", "end_time"):
        frame[column] = pd.to_datetime(frame[column], unit="ms", utc=True)
    return frame


def _row(run: Run) -> dict[str, Any]:
    row = {
        "run_id": run.info.run_id,
        "status": run.info.status,
        "start_time": run.info.start_time,
        "end_time": run.info.end_time,
    }
    row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
    row.update({f"params.{k}": v for k, v in run.data.params.items()})
    row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
    return row


def _choose(campaigns: pd.DataFrame, run_id: str | None, name: str) -> pd.Series:
    if run_id is None:
        return campaigns.iloc[0]
    match = campaigns[campaigns["run_id"] == run_id]
    if match.empty:
        raise DashboardError(
            f"campaign {name!r} has no campaign run {run_id!r}; its runs: "
            f"{', '.join(campaigns['run_id'])}."
        )
    return match.iloc[0]


def _repeats(campaigns: pd.DataFrame, chosen: pd.Series) -> pd.DataFrame:
    """The latest finished campaign run for each other seed, with the same settings."""
    same = campaigns["status"] == "FINISHED"
    for key in _SAME_SETTINGS:
        column = f"params.{key}"
        if column in campaigns:
            same &= campaigns[column].map(_setting) == _setting(chosen.get(column))
    seed = "params.seed"
    if seed not in campaigns:
        return campaigns.iloc[0:0]
    others = campaigns[same & (campaigns[seed] != chosen.get(seed))]
    return others.drop_duplicates(subset=seed, keep="first")  # newest first already


def _setting(value: Any) -> str:
    """A campaign param as text; unset (a run from before the param existed: NaN) and None
    (``"None"``) are the same."""
    text = str(value)
    return "" if text in ("None", "nan") else text


def _check_reachable(tracking_uri: str) -> None:
    parsed = urlparse(tracking_uri)
    if parsed.scheme == "sqlite":
        path = tracking_uri[len("sqlite:///") :] if tracking_uri.startswith("sqlite:///") else ""
        path = path.split("?", 1)[0]
        if path and path != ":memory:" and not os.path.isfile(path):
            raise DashboardError(
                f"no MLflow store at {tracking_uri}: the file {os.path.abspath(path)} does not "
                "exist. Pass the --tracking-uri (or MLFLOW_TRACKING_URI) the campaign used."
            )
    elif parsed.scheme in ("", "file"):
        path = parsed.path if parsed.scheme == "file" else tracking_uri
        if not os.path.isdir(path):
            raise DashboardError(f"no MLflow store at {tracking_uri}: the folder does not exist.")
    elif parsed.scheme in ("http", "https"):
        _probe(tracking_uri)


def _probe(tracking_uri: str) -> None:
    """Fails fast when nothing answers at the server's address (MLflow's own client retries
    for minutes); an HTTP error means something answered, and the client reports it."""
    url = tracking_uri.rstrip("/") + "/api/2.0/mlflow/experiments/search?max_results=1"
    try:
        with urllib.request.urlopen(url, timeout=_PROBE_TIMEOUT_S):
            pass
    except urllib.error.HTTPError:
        return
    except (urllib.error.URLError, TimeoutError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise DashboardError(
            f"cannot reach the MLflow tracking server at {tracking_uri} ({reason}). Is it "
            "running? Check --tracking-uri or MLFLOW_TRACKING_URI."
        ) from None
