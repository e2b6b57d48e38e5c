"""A campaign's runs read back from MLflow, for a resume: which runs it has, and the records
of trials that finished before the master was killed.

Example:
    >>> runs = find_runs(tracker, "3f2a9c1b0d4e")   # doctest: +SKIP
    >>> runs.campaign, sorted(runs.strategies)      # doctest: +SKIP
    ('a1b2...', ['grid', 'random'])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from ..config import CampaignError
from ..schema import (
    METRIC_DURATION_S,
    METRIC_EPOCHS_RUN,
    TAG_CAMPAIGN_ID,
    TAG_CONFIG,
    TAG_ERROR,
    TAG_KIND,
    TAG_STATE,
    TAG_STRATEGY,
    TAG_TRIAL_ID,
    RunKind,
    TrialStateName,
    finite_or_none,
)
from .tracker import Tracker, replay_spool
from .trial_logger import TrialRecord

if TYPE_CHECKING:
    from mlflow.entities import Run


@dataclass
class CampaignRuns:
    """The MLflow runs of one campaign id already in the store."""

    campaign: str | None
    strategies: dict[str, str]
    trials: dict[tuple[str, int], Run]


def find_runs(tracker: Tracker, campaign_id: str) -> CampaignRuns:
    """Every run tagged with ``campaign_id``; for a trial with several runs, the FINISHED one
    (then FAILED, then the latest)."""
    tracker.flush()  # reads see every write queued before
    runs = tracker.client.search_runs(
        [tracker.experiment_id], filter_string=f"tags.`{TAG_CAMPAIGN_ID}` = '{campaign_id}'",
        max_results=50000,
    )
    rank = {"FINISHED": 2, "FAILED": 1}
    campaign, strategies, trials = None, {}, {}
    for run in sorted(runs, key=lambda r: (rank.get(r.info.status, 0), r.info.start_time)):
        tags = run.data.tags
        kind = tags.get(TAG_KIND)
        if kind == RunKind.CAMPAIGN:
            campaign = run.info.run_id
        elif kind == RunKind.STRATEGY and TAG_STRATEGY in tags:
            strategies[tags[TAG_STRATEGY]] = run.info.run_id
        elif kind == RunKind.TRIAL and TAG_STRATEGY in tags and tags.get(TAG_TRIAL_ID, "").isdigit():
            trials[(tags[TAG_STRATEGY], int(tags[TAG_TRIAL_ID]))] = run
    return CampaignRuns(campaign, strategies, trials)


def replay_left_spool(tracker: Tracker) -> None:
    """Writes what the killed master spooled while MLflow was away (``tracker.spool_path``)
    before the resume reads the campaign's runs back, so nothing is run or written twice.

    Raises:
        CampaignError: MLflow is still away; the spool stays for the next try.
    """
    path = Path(tracker.spool_path)
    if path.is_file() and replay_spool(path, tracker.tracking_uri):
        raise CampaignError(
            f"MLflow at {tracker.tracking_uri} is not reachable, and writes of the killed master "
            f"wait in {path}; resume once it is back."
        )


def record_from_run(run: Run, metric: str, test_metric: str | None) -> TrialRecord:
    """A finished trial's record, read back from its MLflow run."""
    metrics, tags = run.data.metrics, run.data.tags
    error = tags.get(TAG_ERROR, "").strip()
    return TrialRecord(
        strategy=tags[TAG_STRATEGY],
        trial_id=int(tags[TAG_TRIAL_ID]),
        state=(tags.get(TAG_STATE) or TrialStateName.COMPLETE.value)
        if run.info.status == "FINISHED" else TrialStateName.FAILED.value,
        value=finite_or_none(metrics.get(metric)),
        test_value=finite_or_none(metrics.get(test_metric)) if test_metric else None,
        epochs=int(metrics.get(METRIC_EPOCHS_RUN, 0)),
        duration_s=float(metrics.get(METRIC_DURATION_S, 0.0)),
        started_at=run.info.start_time / 1000,
        config=json.loads(tags.get(TAG_CONFIG, "{}")),
        run_id=run.info.run_id,
        error=error.splitlines()[-1] if error else "",
    )
