"""A Ray Tune callback, on the master, that writes every trial of a campaign to MLflow and
keeps a :class:`TrialRecord` of it for the comparison table.

Each trial gets exactly one MLflow run, keyed by (campaign id, strategy, trial id).

A trial a scheduler stopped early ends FINISHED with the tag ``sweepforge.state=PRUNED``. A trial
PBT cloned another trial into gets ``sweepforge.pbt.*`` tags: how many clones, and its lineage
(JSON: at which epoch, from which trial, which values changed). ``epochs_run`` counts the epochs
the trial trained (its compute) and ``duration_s`` the seconds it ran: under PBT, not the time it
waited paused between two stretches; the metric steps are the epochs the trainable reports.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from .. import schema
from ..schema import (
    TAG_CAMPAIGN_ID,
    TAG_CONFIG,
    TAG_KIND,
    TAG_STRATEGY,
    TAG_TRIAL_ID,
    RunKind,
    TrialStateName,
    finite_or_none,
)
from ..strategies.base import TrialState
from ..strategies.objectives import Objectives
from ..tune.checkpoints import newest_checkpoint
from ..tune.searcher import searched_config
from ..tune.trial_errors import trial_error_text
from ..tune.worker import CLONE_KEY
from .tracker import Tracker, config_json, metrics_at

if TYPE_CHECKING:
    from mlflow.entities import Metric, Run
    from ray.tune.experiment import Trial

    from ..plan import CampaignPlan
    from ..tune.searcher import CampaignSearcher

_FLUSH_EVERY_S = 5.0
WORKER_METRICS = (schema.METRIC_GPU_MEMORY_MB,)
"""Metrics :func:`~..tune.worker.run_trial` adds to the trainable's own: ``gpu_memory_mb`` is the
peak CUDA memory the trial allocated, measured inside it (absent on the CPU)."""


@dataclass
class TrialRecord:
    """One finished trial, as the comparison table and the result DataFrame see it."""

    strategy: str
    trial_id: int
    state: str  # COMPLETE | PRUNED | FAILED
    value: float | None
    test_value: float | None
    epochs: int  # epochs trained (a trial restarted or cloned may train some twice)
    duration_s: float  # seconds it ran (under PBT: not the time it waited paused)
    started_at: float  # unix time
    config: dict[str, Any]
    run_id: str
    error: str = ""
    checkpoint: str | None = None  # its last checkpoint folder, while Tune's storage holds it
    # several objectives or hard limits: each objective's and limited metric's last value
    metrics: dict[str, float | None] = field(default_factory=dict)
    feasible: bool = True  # every hard limit kept (``constraints:``)
    finished_at: float | None = None  # unix time; None: ``started_at + duration_s``

    @property
    def ended_at(self) -> float:
        return self.finished_at if self.finished_at is not None else self.started_at + self.duration_s


@dataclass(frozen=True)
class LeftOpen:
    """A trial's run that a killed master left open: its next attempt continues it."""

    run_id: str
    last_epoch: int  # the last epoch it logged
    started_at: float  # unix time
    attempts: int
    ran_s: float  # seconds it ran before the kill, up to its last logged epoch
    trained: int  # epochs it trained before the kill, as far as MLflow or its checkpoint knows

    @classmethod
    def of(cls, run: Run, history: Sequence[Metric], checkpointed: int = 0) -> LeftOpen:
        """From the MLflow ``run`` and the ``history`` of one metric it logs every epoch;
        ``checkpointed``: the epoch of its newest checkpoint (the master writes epochs to
        MLflow in batches, so a kill may leave the last ones unlogged)."""
        started_at = run.info.start_time / 1000
        last_logged = max((m.timestamp / 1000 for m in history), default=started_at)
        last_epoch = max((m.step for m in history), default=0)
        return cls(run.info.run_id, last_epoch, started_at,
                   int(run.data.tags.get(schema.TAG_ATTEMPTS, "1") or 1),
                   max(0.0, last_logged - started_at), max(last_epoch, checkpointed))


@dataclass
class _Open:
    run_id: str
    strategy: str
    trial_id: int
    config: dict[str, Any]
    started: float  # time.monotonic() when its current stretch of running began
    started_at: float = field(default_factory=time.time)
    ran_s: float = 0.0  # seconds run in earlier stretches (PBT pauses a trial between them)
    seen: float = field(default_factory=time.monotonic)  # its last sign of life
    epochs: int = 0
    buffer: list[Metric] = field(default_factory=list)
    flushed_at: float = field(default_factory=time.monotonic)
    attempt: int = 1  # 2 and more: Ray Tune retried the trial, or a resume restarted it
    attempt_started: bool = True  # no result yet from the current attempt
    nodes: list[str] = field(default_factory=list)  # Ray nodes the trial ran on, in order
    trained: int = 0  # epochs trained, every attempt and clone counted
    recovering: bool = False  # Ray Tune is restarting it after an error (not a PBT unpause)
    lineage: list[dict[str, Any]] = field(default_factory=list)  # PBT clones, in order


class TrialLogger(Callback):
    """Logs every trial under its strategy's run; ``on_event(strategy, record_or_None)`` feeds
    the live display (``None`` when a trial starts)."""

    def __init__(
        self,
        *,
        tracker: Tracker,
        plan: CampaignPlan,
        campaign_id: str,
        strategy_runs: dict[str, str],
        searcher: CampaignSearcher,
        on_event: Callable[[str, TrialRecord | None], None] = lambda strategy, record: None,
        stop_reasons: Mapping[str, str] | None = None,
    ):
        self.tracker = tracker
        self.plan = plan
        self.campaign_id = campaign_id
        self.strategy_runs = strategy_runs
        self.searcher = searcher
        self.on_event = on_event
        # Ray trial id -> why the master stopped it (a trial timeout), shown before Ray's error.
        self.stop_reasons = stop_reasons if stop_reasons is not None else {}
        self._open: dict[str, _Open] = {}
        # On resume: (strategy, trial id) -> the run a killed master left open for it
        self._adopt: dict[tuple[str, int], LeftOpen] = {}
        # What the trainable reports, plus what the worker adds (peak GPU memory on CUDA).
        self._metric_names = sorted(plan.trainable.metrics - {"epoch"}) + list(WORKER_METRICS)
        self._test_metric = plan.test_metric
        # what a function's final result holds and its epochs did not: test metrics, costs
        self._final_only = {*plan.objectives.metrics} - {plan.config.metric}

    def adopt_run(self, key: tuple[str, int], left: LeftOpen) -> None:
        """On resume: trial ``key`` (strategy, trial id) was in flight when a master was killed
        and left run ``left`` open; its next attempt continues that run."""
        self._adopt[key] = left

    def __getstate__(self) -> dict[str, Any]:
        # Ray Tune pickles the Tuner with its callbacks; the MLflow client and display stay here.
        return {**self.__dict__, "tracker": None, "on_event": None, "searcher": None, "plan": None}

    # --- Ray Tune hooks -------------------------------------------------------------
    def on_trial_start(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        strategy, trial_id = self.searcher.trial_key(trial.trial_id)  # type: ignore[misc]
        retried = self._open.get(trial.trial_id)
        if retried is not None:  # restarted: after an error (max_failures), or unpaused (PBT)
            # it ran until its last result (or error); the time since, it waited
            retried.ran_s += retried.seen - retried.started
            retried.started = retried.seen = time.monotonic()
            if retried.recovering:
                retried.recovering = False
                self._next_attempt(retried, retried.attempt + 1)
            return
        searched = searched_config(trial.config)
        adopted = self._adopt.pop((strategy, trial_id), None)
        if adopted is not None:  # in flight when a master was killed: continue its run
            self.tracker.reopen_run(adopted.run_id)
            run = _Open(adopted.run_id, strategy, trial_id, searched, time.monotonic(),
                        started_at=adopted.started_at, ran_s=adopted.ran_s,
                        epochs=adopted.last_epoch, trained=adopted.trained)
            self._open[trial.trial_id] = run
            self._next_attempt(run, adopted.attempts + 1)
            self.on_event(strategy, None)
            return
        run_id = self.tracker.start_run(
            f"{strategy}-{trial_id:04d}",
            {
                TAG_KIND: RunKind.TRIAL.value,
                TAG_CAMPAIGN_ID: self.campaign_id,
                TAG_STRATEGY: strategy,
                TAG_TRIAL_ID: str(trial_id),
                TAG_CONFIG: config_json(searched),
            },
            parent=self.strategy_runs[strategy],
        )
        self._open[trial.trial_id] = _Open(run_id, strategy, trial_id, searched, time.monotonic())
        self.tracker.log(run_id, params=self._params(searched))
        self.on_event(strategy, None)

    def on_trial_result(
        self, iteration: int, trials: list[Trial], trial: Trial, result: dict, **info: Any
    ) -> None:
        run = self._open.get(trial.trial_id)
        if run is None:
            return
        run.seen = time.monotonic()
        # one MLflow call per result at most (each call is a transaction: fewer calls, less
        # time on the master per trial; see "Orchestration overhead" in BENCHMARKS.md)
        tags: dict[str, Any] = {}
        if run.epochs == 0 and isinstance(result.get(schema.RUNTIME_TAGS_KEY), dict):
            # what the worker and the trainables say about where the trial runs
            for name, value in result[schema.RUNTIME_TAGS_KEY].items():
                tags[schema.runtime_tag(name)] = value
        run.trained += not result.get(schema.FINAL_RESULT_KEY)  # (that one trained nothing)
        epoch = int(result.get("epoch", run.epochs + 1))
        if isinstance(result.get(CLONE_KEY), str):
            self._note_clone(run, json.loads(result[CLONE_KEY]))
        tags.update(self._attempt_tags(run, epoch, result.get("node")))
        if result.get(schema.FINAL_RESULT_KEY):  # what a user's function returned at its end
            run.buffer.extend(m for m in metrics_at(result, self._metric_names, step=run.epochs)
                              if m.key.startswith("test_") or m.key in self._final_only)
        if epoch > run.epochs:  # (else a re-run after a restore from an older checkpoint: logged)
            run.epochs = epoch
            run.buffer.extend(metrics_at(result, self._metric_names, step=run.epochs))
            if time.monotonic() - run.flushed_at > _FLUSH_EVERY_S:
                self._flush(run, tags)
                return
        if tags:
            self.tracker.log(run.run_id, tags=tags)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._close(trial, error="")

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        error = trial_error_text(trial) or "the trial raised an error"
        reason = self.stop_reasons.get(trial.trial_id)
        self._close(trial, error=f"{reason}\n\n{error}" if reason else error, summary=reason)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        """Ray Tune restarts the trial (``max_failures``): its run stays open; this attempt's
        error is kept as ``error-attempt-N.txt``."""
        run = self._open.get(trial.trial_id)
        if run is not None:
            run.recovering = True
            run.seen = time.monotonic()  # it ran until this error
            error = trial_error_text(trial) or "the trial raised an error"
            self.tracker.log_text(run.run_id, error, f"error-attempt-{run.attempt}.txt")

    def close_unfinished(self, status: str) -> None:
        """Ends the runs of trials still open (the campaign was interrupted) with ``status``."""
        for run in self._open.values():
            self._flush(run)
            self.tracker.end_run(run.run_id, status)
        self._open.clear()

    # --- internals ------------------------------------------------------------------
    def _params(self, searched: dict[str, Any]) -> dict[str, Any]:
        """Every knob the trial used: searched values, fixed values and the trainable's
        defaults, leaving out searched parameters that are inactive for this config."""
        full = self.plan.full_config(searched)
        inactive = {name for name in self.plan.space.names if name not in searched}
        return {k: v for k, v in full.items() if k not in inactive}

    def _next_attempt(self, run: _Open, attempt: int) -> None:
        run.attempt, run.attempt_started = attempt, True
        self.tracker.log(run.run_id, tags={schema.TAG_ATTEMPTS: attempt})

    @staticmethod
    def _attempt_tags(run: _Open, epoch: int, node: Any) -> dict[str, Any]:
        """Tags of where the trial runs: the Ray nodes in order and, for a later attempt, the
        first epoch it reported (resumed from a checkpoint when that is above 1)."""
        tags: dict[str, Any] = {}
        if isinstance(node, str) and node and (not run.nodes or run.nodes[-1] != node):
            run.nodes.append(node)
            tags[schema.TAG_NODES] = ",".join(run.nodes)
        if run.attempt_started and run.attempt > 1:
            tags[schema.TAG_RESUMED_AT_EPOCH] = epoch
        run.attempt_started = False
        return tags

    def _note_clone(self, run: _Open, clone: dict[str, Any]) -> None:
        """PBT cloned trial ``clone["from"]`` (a Ray trial id) into this one: tag the lineage.
        Metrics go on from the clone's epoch (steps below the trial's own are logged again)."""
        strategy, trial_id = self.searcher.trial_key(str(clone.get("from"))) or (None, None)
        epoch = clone.get("epoch")
        run.lineage.append({
            "epoch": epoch, "from_strategy": strategy, "from_trial": trial_id,
            "changed": clone.get("changed", {}),
        })
        self._flush(run)
        if isinstance(epoch, int):
            run.epochs = epoch
        self.tracker.log(run.run_id, tags={
            schema.TAG_PBT_CLONES: len(run.lineage),
            schema.TAG_PBT_CLONED_FROM: f"{strategy}-{trial_id:04d}" if trial_id is not None else "?",
            schema.TAG_PBT_LINEAGE: _last_chars(json.dumps(run.lineage, default=str), 5000),
        })

    def _flush(self, run: _Open, tags: dict[str, Any] | None = None,
               metrics: Sequence[Metric] = ()) -> None:
        """Writes the buffered epoch metrics, with ``tags`` and ``metrics`` in the same call."""
        if run.buffer or tags or metrics:
            self.tracker.log(run.run_id, metrics=[*run.buffer, *metrics], tags=tags)
            run.buffer = []
        run.flushed_at = time.monotonic()

    def _close(self, trial: Trial, error: str, summary: str | None = None) -> None:
        run = self._open.pop(trial.trial_id, None)
        if run is None:
            return
        last = trial.last_result or {}
        metric = self.plan.config.metric
        value = finite_or_none(last.get(metric))
        if not error and value is None:
            error = _no_value(metric, last)
        duration = run.ran_s + time.monotonic() - run.started
        told = self.searcher.told(trial.trial_id)  # its strategy was told before this callback
        pruned = not error and told is not None and told.state is TrialState.PRUNED
        state = (TrialStateName.FAILED if error else TrialStateName.PRUNED if pruned
                 else TrialStateName.COMPLETE).value
        tags: dict[str, Any] = {schema.TAG_STATE: state}
        found = objective_fields(last, self.plan.objectives)
        if self.plan.objectives.limits:
            tags[schema.TAG_FEASIBLE] = str(found["feasible"]).lower()
        if error:
            tags[schema.TAG_ERROR] = error[:5000]
        ends = {schema.METRIC_DURATION_S: duration, schema.METRIC_EPOCHS_RUN: run.trained}
        self._flush(run, tags, metrics_at(ends, list(ends), step=run.epochs))
        if error:
            self.tracker.log_text(run.run_id, error, schema.ARTIFACT_ERROR)
        self.tracker.end_run(run.run_id, "FAILED" if error else "FINISHED")
        self.searcher.commit_tell(trial.trial_id)  # journaled once MLflow has the whole trial
        latest = newest_checkpoint(getattr(trial, "path", None))  # (its model, if the best)
        record = TrialRecord(
            strategy=run.strategy,
            trial_id=run.trial_id,
            state=state,
            value=value,
            test_value=finite_or_none(last.get(self._test_metric)) if self._test_metric else None,
            epochs=run.trained,
            duration_s=duration,
            started_at=run.started_at,
            finished_at=time.time(),
            config=run.config,
            run_id=run.run_id,
            error=summary or (error.strip().splitlines()[-1] if error else ""),
            checkpoint=None if error or latest is None else str(latest),
            **found,
        )
        self.on_event(run.strategy, record)


def objective_fields(metrics: Mapping[str, Any], objectives: Objectives) -> dict[str, Any]:
    """A record's ``metrics`` and ``feasible`` from a trial's last ``metrics``: only with
    several objectives or hard limits (one objective's value is the record's ``value``)."""
    if not objectives.multi and not objectives.limits:
        return {}
    return {"metrics": {name: finite_or_none(metrics.get(name)) for name in objectives.metrics},
            "feasible": all(excess <= 0 for excess in objectives.excesses(metrics))}


def _last_chars(text: str, limit: int) -> str:
    """``text``, or its last ``limit`` characters (an MLflow tag holds at most 5000)."""
    return text if len(text) <= limit else "..." + text[-(limit - 3):]


def _no_value(metric: str, last: dict[str, Any]) -> str:
    """Why a trial that ended without an error still failed: its last report has no finite
    ``metric``. NaN or inf is almost always a diverged training (the bundled trainables report
    NaN once the loss is no longer finite), so the message says where and what usually helps."""
    if metric not in last:
        return (f"metric {metric!r} is missing from the trial's last report: does the trainable "
                "report it under that name?")
    value = last[metric]
    epoch = last.get("epoch", last.get("training_iteration"))
    where = f" at epoch {epoch}" if epoch is not None else ""
    if not isinstance(value, float):  # None, a string: not a value the training produced
        return f"metric {metric!r} is {value!r}{where}, not a finite number"
    return (f"metric {metric!r} is {value!r}{where}, not a finite number: the training "
            "diverged (a smaller learning rate usually avoids it)")
