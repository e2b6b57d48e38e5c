"""A campaign's runs read back from MLflow, for a resume: which runs it has, the records of
trials that finished before the master was killed, and the writes a master left in its spool.

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
from ..state.journal import End, JournalError, is_running, read_journal
from ..state.resume import campaign_folder
from ..state.spool import Spool, spool_dir
from ..strategies.objectives import Objectives
from .tracker import Tracker, replay_spool
from .trial_logger import TrialRecord, objective_fields

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
        CampaignError: MLflow is still away; the spool stays for the next try. Or the file is
            not a spool (it is never unpickled).
    """
    path = Path(tracker.spool_path)
    try:
        left = path.is_file() and replay_spool(path, tracker.tracking_uri)
    except ValueError as err:  # not a spool file: Spool.load names it
        raise CampaignError(
            f"{err} Refusing to resume; move it away to resume without it.") from None
    if left:
        raise CampaignError(
            f"MLflow at {tracker.tracking_uri} is not reachable, and writes of the killed master "
            f"wait in {path}; resume once it is back."
        )


class WritesStillWait(RuntimeError):
    """MLflow still cannot be reached: the spool's writes wait for the next try."""


@dataclass
class SpoolWritten:
    """The spool of a finished campaign, written to MLflow by :func:`replay_finished_spools`."""

    campaign_id: str
    writes: int
    tracking_uri: str


def replay_finished_spools(state_dir: Path, name: str, campaign_id: str | None = None,
                           tracking_uri: str | None = None) -> list[SpoolWritten]:
    """Writes, once and in order, what campaigns ``name`` that *finished* while MLflow was away
    left in their spools (only ``campaign_id``'s when given). A finished campaign has nothing
    left to run, so ``sweepforge resume NAME`` does only this for it; an unfinished one replays
    its spool when it resumes (:func:`replay_left_spool`).

    Raises:
        CampaignError: a spool file is not a spool (it is JSON, never unpickled).
        WritesStillWait: MLflow still cannot be reached; the spool stays for the next try.
    """
    written = []
    for path in sorted(spool_dir(state_dir).glob("*.jsonl")):
        if campaign_id and path.stem != campaign_id:
            continue
        try:
            folder = campaign_folder(state_dir, name, path.stem)
            finished = not is_running(folder) and any(
                isinstance(event, End) for event in read_journal(folder)[1])
        except (CampaignError, JournalError):  # not a spool of NAME's: its resume says more
            continue
        if not finished:
            continue
        try:
            spool = Spool.load(path)
        except ValueError as err:  # Spool.load names the file and the line
            raise CampaignError(f"{err} Nothing was written; move it away.") from None
        uri = tracking_uri or spool.tracking_uri
        left = replay_spool(path, uri)
        if left:
            raise WritesStillWait(
                f"MLflow at {uri} still cannot be reached: {left} writes "
                f"of campaign {name!r} ({path.stem}) still wait in {path}. Run `sweepforge resume "
                f"{name}` again once it answers.")
        written.append(SpoolWritten(path.stem, len(spool.pending), uri))
    return written


def record_from_run(run: Run, metric: str, test_metric: str | None,
                    objectives: Objectives | None = None) -> TrialRecord:
    """A finished trial's record, read back from its MLflow run (``objectives``: with several,
    or with hard limits, the record's ``metrics`` and ``feasible`` too)."""
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
        finished_at=run.info.end_time / 1000 if run.info.end_time else None,
        config=json.loads(tags.get(TAG_CONFIG, "{}")),
        run_id=run.info.run_id,
        error=error.splitlines()[-1] if error else "",
        **(objective_fields(metrics, objectives) if objectives is not None else {}),
    )
