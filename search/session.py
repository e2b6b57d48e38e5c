"""One master session of a campaign: from opening its state and MLflow runs to closing them.

A :class:`CampaignSession` owns everything one run of ``Campaign.run`` needs, and wires it
with constructor arguments and calls, never by setting another object's attributes:

* the :class:`~.tracking.tracker.Tracker` (MLflow writes, on a writer thread);
* the :class:`~.state.resume.CampaignState` (journal and strategies), whose journal writes go
  through the tracker's ``in_order``, so a tell is journaled once MLflow has the trial;
* the :class:`~.tune.searcher.CampaignSearcher` (the strategies behind one Ray Tune searcher);
* the :class:`~.tracking.trial_logger.TrialLogger` (every trial's MLflow run), which reports
  each trial's start and end to the session (:meth:`CampaignSession.trial_event`); the session
  keeps the records and feeds the live display.

On resume, :meth:`CampaignSession.settle` squares the replayed journal with MLflow:

* trial runs the killed master left RUNNING are closed as KILLED at once;
* a trial asked but never told whose MLflow run is FINISHED or FAILED ended just before the kill
  (its tell was not journaled yet): it is told now from MLflow, not run again;
* every other trial in flight is submitted again with the same config and trial id, from its
  last checkpoint when one exists; its KILLED run is reopened and continued (one run per trial);
* finished trials come back as records for the comparison table.

Example:
    >>> session = CampaignSession(config, plan, tracking_uri="sqlite:///mlflow.db",
    ...                           state_dir=Path(".sweepforge"))       # doctest: +SKIP
    >>> result = session.run()                                          # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from . import schema
from .config import CampaignConfig
from .plan import CampaignPlan
from .result import CampaignResult, best_record, summarise, trials_frame
from .schema import RunKind
from .state.best_checkpoints import BestCheckpoints
from .state.resume import CampaignState
from .state.spool import spool_dir
from .strategies.base import TrialState
from .tracking.campaign_runs import CampaignRuns, find_runs, record_from_run, replay_left_spool
from .tracking.fronts import campaign_reference, hypervolume_curve, pareto_flags
from .tracking.models import Delivered, deliver_models
from .tracking.progress import CampaignProgress
from .tracking.tracker import Tracker, config_json, metrics_at
from .tracking.trial_logger import LeftOpen, TrialLogger, TrialRecord
from .tune.ask_cost import AskCost
from .tune.checkpoints import REFIT_DIRNAME, newest_checkpoint
from .tune.ray_setup import concurrency
from .tune.refit import REFIT, REFIT_TRIAL, RefitKeys
from .tune.runner import TuneRunner
from .tune.searcher import CampaignSearcher
from .tune.timeout import TrialDeadline
from .tune.worker import CheckpointOrigin


class CampaignSession:
    """The journal, MLflow runs, searcher and trial logger of one master session.

    Args:
        config: the campaign.
        plan: its checked plan.
        tracking_uri: the MLflow store.
        state_dir: where campaigns keep their journal, checkpoints and spool.
        resume_folder: the folder of an unfinished campaign to go on with; ``None`` starts a
            new campaign.
        progress: draw the live table.
    """

    def __init__(
        self, config: CampaignConfig, plan: CampaignPlan, *, tracking_uri: str, state_dir: Path,
        resume_folder: Path | None = None, progress: bool = False,
    ):
        self.config, self.plan = config, plan
        self.tracking_uri = tracking_uri
        # MLflow writes happen on a writer thread: Tune's loop does not wait on the store
        self.tracker = Tracker(tracking_uri, config.name, background=True)
        # a journal line is written once the MLflow writes queued before it are made
        if resume_folder is None:
            self.state = CampaignState.start(state_dir, config, plan, tracking_uri,
                                             defer=self.tracker.in_order)
        else:
            self.state = CampaignState.resume(resume_folder, plan, defer=self.tracker.in_order)
        self.campaign_id = self.state.campaign_id
        # writes wait in the spool while MLflow is away
        self.tracker.name_spool(self.campaign_id, spool_dir(state_dir))
        runs = CampaignRuns(None, {}, {})
        if resume_folder is not None:  # what MLflow holds of it, spooled writes included
            replay_left_spool(self.tracker)
            runs = find_runs(self.tracker, self.campaign_id)
        self.campaign_run = self._open_campaign_run(runs.campaign)
        self.strategy_runs = {name: self._open_strategy_run(name, runs.strategies.get(name))
                              for name in self.state.strategies}
        self.records: list[TrialRecord] = []
        # each strategy's best trial's last checkpoint: its model, logged at the end
        self.best = BestCheckpoints(self.state.folder / "best", config.mode)
        self.delivered = Delivered()
        self.writes_waiting = 0  # MLflow writes left in the spool when the campaign ended
        self.refits = config.final.refit != "none"
        self.display = CampaignProgress(list(self.state.strategies),
                                        budget=config.budget.trial_cap, metric=config.metric,
                                        mode=config.mode, enabled=progress,
                                        refit=REFIT if self.refits else None,
                                        refit_on_val=config.final.trains_on_val,
                                        objectives=plan.objectives)
        self.refit_record: TrialRecord | None = None  # the final refit, once it has ended
        self.reference: list[float] | None = None  # several objectives: the hypervolume's
        self._refit_run: LeftOpen | None = None  # its run a kill left open
        self.deadline = TrialDeadline(config.trial_timeout_s) if config.trial_timeout_s else None
        self.searcher = CampaignSearcher(
            self.state.strategies, metric=config.metric, mode=config.mode,
            journal=self.state.journal, session=self.state.session,
            planned_epochs=plan.planned_epochs,
            stops_early=config.scheduler is not None and config.scheduler.type != "pbt",
            epoch_budget=config.budget.epochs, max_epochs=config.budget.max_epochs,
            ask_cost=AskCost(workers=concurrency(config)),
            objectives=plan.objectives if plan.objectives.multi or config.constraints else None,
        )
        self.logger = TrialLogger(
            tracker=self.tracker, plan=plan, campaign_id=self.campaign_id,
            strategy_runs=self.strategy_runs, searcher=self.searcher, on_event=self.trial_event,
            stop_reasons=self.deadline.expired if self.deadline is not None else None,
        )
        self.settle(runs)

    # --- events -------------------------------------------------------------------------
    def trial_event(self, strategy: str, record: TrialRecord | None) -> None:
        """A trial of ``strategy`` started (``record`` is None) or ended (its record)."""
        if record is not None:
            self.records.append(record)
            self.best.offer(record, record.checkpoint)
            if strategy == REFIT:
                self.refit_record = record
        self.display.on_event(strategy, record)

    def settle(self, runs: CampaignRuns) -> None:
        """Squares the replayed journal with MLflow's ``runs`` (see the module docstring)."""
        state, tracker, metric = self.state, self.tracker, self.config.metric
        for run in runs.trials.values():
            if run.info.status == "RUNNING":  # left by the killed master
                tracker.end_run(run.info.run_id, "KILLED")
        refit = runs.trials.get(REFIT_TRIAL)
        if refit is not None and refit.info.status in ("FINISHED", "FAILED"):
            self.trial_event(REFIT, None)
            self.trial_event(REFIT, record_from_run(refit, metric, self.plan.test_metric, self.plan.objectives))
        elif refit is not None:  # the refit was running at the kill: its next attempt goes on
            self._refit_run = LeftOpen.of(
                refit, tracker.client.get_metric_history(refit.info.run_id, metric),
                CheckpointOrigin.of(self._refit_checkpoint()).epoch)
        finished = [record_from_run(run, metric, self.plan.test_metric, self.plan.objectives)
                    for key, run in runs.trials.items()
                    if key in state.told and run.info.status in ("FINISHED", "FAILED")]
        for key, flight in sorted(state.in_flight.items()):
            strategy, trial_id = key
            run = runs.trials.get(key)
            if run is not None and run.info.status in ("FINISHED", "FAILED"):
                # it ended just before the kill, before its tell reached the journal
                record = record_from_run(run, metric, self.plan.test_metric, self.plan.objectives)
                # (one objective and no limits: no values, no excesses, as always)
                told = self.plan.objectives.result(
                    record.metrics, TrialState(record.state), record.epochs or None, record.value)
                state.strategies[strategy].tell(trial_id, told)
                state.journal.tell(strategy, trial_id, told)
                finished.append(record)
                continue
            checkpoint = state.latest_checkpoint(key)
            origin = CheckpointOrigin.of(checkpoint)  # (its config: PBT may have changed it)
            history = tracker.client.get_metric_history(run.info.run_id, metric) if run else []
            left = LeftOpen.of(run, history, origin.epoch) if run is not None else None
            self.searcher.resubmit(
                strategy, trial_id, origin.config_for(flight.config), checkpoint,
                trained=left.trained if left is not None else origin.epoch,
                curve=sorted({**{m.step: m.value for m in history  # (older checkpoints)
                                 if m.step <= origin.epoch and math.isfinite(m.value)},
                              **dict(origin.values(metric))}.items()))
            if left is not None:
                self.logger.adopt_run(key, left)
        for record in finished:  # finished before this session
            self.searcher.count_finished(record.strategy, record.epochs)
            self.trial_event(record.strategy, None)
            self.trial_event(record.strategy, record)

    # --- the run ------------------------------------------------------------------------
    def run(self) -> CampaignResult:
        """Runs what is left of the campaign's trials, then closes its runs and journal."""
        status = "FAILED"
        try:
            with self.display:
                if self.searcher.remaining:
                    callbacks: list[Any] = [self.logger]
                    if self.deadline is not None:  # the master kills a trial past its deadline
                        callbacks.insert(0, self.deadline)
                    TuneRunner(self.config, self.plan, self.searcher, callbacks=callbacks,
                               campaign_id=self.campaign_id, storage_path=self.state.tune_root,
                               tune_name=self.state.tune_name).fit()
                if self.refits and self.refit_record is None:
                    self.refit()
            status = "FINISHED"
        except KeyboardInterrupt:
            status = "KILLED"
            raise
        finally:
            summary = self.close(status)
        return CampaignResult(
            name=self.config.name, campaign_id=self.campaign_id,
            campaign_run_id=self.campaign_run, experiment_id=self.tracker.experiment_id,
            tracking_uri=self.tracking_uri, metric=self.config.metric, mode=self.config.mode,
            trials=trials_frame(self.records, self.plan.objectives), summary=summary,
            writes_waiting=self.writes_waiting, spool_path=Path(self.tracker.spool_path),
            models=self.delivered.models, final_model=self.delivered.final_model,
            registered=self.delivered.registered,
            objectives=self.config.objective_directions, reference=self.reference,
        )

    def refit(self) -> None:
        """Trains the campaign's best config once more (``final.refit``) as one Ray trial,
        logged under the campaign run as trial 0 of ``final``; resumed from its checkpoint
        when a killed master left it running (see :mod:`.tune.refit`)."""
        config = self._refit_config()
        if config is None:
            return
        logger = TrialLogger(
            tracker=self.tracker, plan=self.plan, campaign_id=self.campaign_id,
            strategy_runs={REFIT: self.campaign_run}, searcher=RefitKeys(),  # type: ignore[arg-type]
            on_event=self.trial_event,
        )
        if self._refit_run is not None:
            logger.adopt_run(REFIT_TRIAL, self._refit_run)
        runner = TuneRunner(self.config, self.plan, self.searcher, callbacks=[logger],
                            campaign_id=self.campaign_id, storage_path=self.state.tune_root,
                            tune_name=self.state.tune_name)
        try:
            runner.refit(config, self.refit_data(), resume_from=self._refit_checkpoint())
        finally:
            logger.close_unfinished("KILLED")

    def refit_data(self) -> Any:
        """The data the refit trains on: the campaign's, with the validation rows in the
        training split for ``final.refit: train+val``."""
        data = self.plan.data
        return data.with_validation_in_training() if self.config.final.trains_on_val else data

    def _refit_config(self) -> dict[str, Any] | None:
        """The refit's config: the campaign's best trial's (and ``final.epochs``), chosen once
        and kept in ``refit.json`` so a resumed master refits the same config."""
        saved = self.state.folder / "refit.json"
        if saved.is_file():
            return dict(json.loads(saved.read_text())["config"])
        best = best_record([r for r in self.records if r.strategy != REFIT], self.config.mode)
        if best is None:
            return None
        config = dict(best.config)
        if self.config.final.epochs != "best":
            config["epochs"] = self.config.final.epochs
        partial = saved.with_suffix(".partial")
        partial.write_text(json.dumps({"config": config, "strategy": best.strategy,
                                       "trial_id": best.trial_id}, default=str))
        os.replace(partial, saved)
        return config

    def _refit_checkpoint(self) -> str | None:
        """The newest checkpoint an earlier attempt of the refit left, or ``None``."""
        for session in range(self.state.session, 0, -1):  # this session's storage, then older
            found = newest_checkpoint(self.state.tune_root / f"session-{session}" / REFIT_DIRNAME)
            if found is not None:
                return str(found)
        return None

    def close(self, status: str) -> pd.DataFrame:
        """Ends every run with ``status`` (trials cut off by an interrupt or a crash: KILLED),
        writes what MLflow has not got yet (waiting a while for it) and closes the journal;
        returns the comparison table."""
        self.logger.close_unfinished("KILLED")
        strategies = list(self.state.strategies)
        objectives = self.plan.objectives
        if objectives.multi:
            self.reference = campaign_reference(self.records, objectives, self.config.reference)
        summary = pd.DataFrame([summarise(name, self.records, self.config.mode, objectives,
                                          self.reference) for name in strategies])
        for name in strategies:
            self._end_strategy_run(name, summary[summary.strategy == name].iloc[0], status)
        if objectives.multi:
            self._log_fronts(strategies)
        searched = summary
        if self.refit_record is not None:  # the final refit: its own row
            row = summarise(REFIT, self.records, self.config.mode)
            summary = pd.concat([summary, pd.DataFrame([row])], ignore_index=True)
            self.tracker.log(self.campaign_run, metrics=metrics_at(
                {f"final.{k}": v for k, v in row.items()},
                ["final.best_value", "final.test_value", "final.epochs"], step=0))
        self.tracker.log_text(self.campaign_run, summary.to_csv(index=False),
                              schema.ARTIFACT_COMPARISON)
        self.tracker.end_run(self.campaign_run, status)
        # writes spooled while MLflow was away: replayed now (waiting a while for it)
        wait_s = mlflow_wait_s() if status != "KILLED" else 0.0
        self.writes_waiting = self.tracker.close(wait_s=wait_s)
        self.campaign_run = self.tracker.real_run_id(self.campaign_run)
        for record in self.records:
            record.run_id = self.tracker.real_run_id(record.run_id)
        if status == "FINISHED" and not self.writes_waiting:
            # (a resumed master killed during this step logs only what is missing)
            self.delivered = deliver_models(
                self.tracker.client, self.tracking_uri, self.plan, self.best, searched,
                refit_data=self.refit_data() if self.refits else None,
                strategy_runs={name: self.tracker.real_run_id(run)
                               for name, run in self.strategy_runs.items()},
                campaign_run=self.campaign_run, campaign_id=self.campaign_id)
        self.state.finish(status)
        return summary

    # --- MLflow runs of the campaign and its strategies ---------------------------------
    def _open_campaign_run(self, existing: str | None) -> str:
        """The campaign's MLflow run: a new one, or on resume the one it already has, reopened."""
        if existing is not None:
            self.tracker.reopen_run(existing)
            self.tracker.log(existing, tags={schema.TAG_SESSIONS: self.state.session})
            return existing
        config = self.config
        run_id = self.tracker.start_run(
            f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}",
            {schema.TAG_KIND: RunKind.CAMPAIGN.value, schema.TAG_CAMPAIGN_ID: self.campaign_id},
        )
        self.tracker.log(run_id, params=campaign_params(config))
        self.tracker.log_text(run_id, yaml.safe_dump(config.model_dump(), sort_keys=False),
                              schema.ARTIFACT_CAMPAIGN_FILE)
        return run_id

    def _open_strategy_run(self, name: str, existing: str | None) -> str:
        if existing is not None:
            self.tracker.reopen_run(existing)
            return existing
        return self.tracker.start_run(
            name, {schema.TAG_KIND: RunKind.STRATEGY.value,
                   schema.TAG_CAMPAIGN_ID: self.campaign_id, schema.TAG_STRATEGY: name},
            parent=self.campaign_run,
        )

    def _end_strategy_run(self, name: str, row: pd.Series, status: str) -> None:
        kind, options = self.plan.strategies[name]
        best = next((r.config for r in self.records
                     if r.strategy == name and r.trial_id == row["best_trial"]), {})
        run_id = self.strategy_runs[name]
        self.tracker.log(
            run_id,
            params={"kind": kind, **{f"option.{k}": v for k, v in options.items()}},
            metrics=metrics_at(row.to_dict(), ["best_value", "test_value", "trials", "finished",
                                               "pruned", "failed", "epochs", "wall_time_s",
                                               "compute_s", schema.METRIC_FRONT_SIZE], step=0),
            tags={schema.TAG_BEST_CONFIG: config_json(best)},
        )
        self.tracker.log_text(run_id, yaml.safe_dump(best, sort_keys=True),
                              schema.ARTIFACT_BEST_CONFIG)
        decisions = getattr(self.state.strategies.get(name), "decisions", None)
        if decisions:  # a strategy that chose its own models (auto): which, from when, why
            self.tracker.log_text(run_id, json.dumps([dataclasses.asdict(d) for d in decisions],
                                                     indent=1), schema.ARTIFACT_DECISIONS)
        self.tracker.end_run(run_id, status)

    def _log_fronts(self, strategies: list[str]) -> None:
        """Several objectives: each trial run's ``sweepforge.pareto`` tag, each strategy run's
        hypervolume curve and front CSV, and the campaign run's front, objectives and
        reference point."""
        objectives, tracker = self.plan.objectives, self.tracker
        flags = pareto_flags(self.records, objectives)
        for run_id, (on_campaign_front, _) in flags.items():
            tracker.log(run_id, tags={schema.TAG_PARETO: str(on_campaign_front).lower()})
        frame = trials_frame(self.records, objectives)
        columns = ["strategy", "trial_id", *objectives.names, "config"]
        for name in strategies:
            own = [r for r in self.records if r.strategy == name]
            if self.reference is not None and own:
                curve = hypervolume_curve(own, objectives, self.reference)
                tracker.log(self.strategy_runs[name], metrics=[
                    metric for step, volume in enumerate(curve, start=1)
                    for metric in metrics_at({schema.METRIC_HYPERVOLUME: volume},
                                             [schema.METRIC_HYPERVOLUME], step=step)])
            front = frame[(frame.strategy == name) & frame.on_front.astype(bool)]
            tracker.log_text(self.strategy_runs[name], _front_csv(front, columns),
                             schema.ARTIFACT_PARETO_FRONT)
        tracker.log(self.campaign_run, tags={
            schema.TAG_OBJECTIVES: json.dumps(self.config.objective_directions),
            schema.TAG_REFERENCE: json.dumps(self.reference)})
        tracker.log_text(self.campaign_run, _front_csv(frame[frame.pareto.astype(bool)], columns),
                         schema.ARTIFACT_PARETO_FRONT)


def _front_csv(front: pd.DataFrame, columns: list[str]) -> str:
    """A front's trials as CSV: strategy, trial, each objective, the config as JSON."""
    shown = front[columns].copy()
    shown["config"] = shown["config"].map(config_json)
    return shown.to_csv(index=False)


def campaign_params(config: CampaignConfig) -> dict[str, Any]:
    """The campaign run's params: what the campaign file set, flattened."""
    return {
        "trainable": config.trainable_name, "dataset": config.dataset, "metric": config.metric,
        "mode": config.mode, "seed": config.seed, "budget.trials": config.budget.trials,
        "budget.max_epochs": config.budget.max_epochs, "budget.epochs": config.budget.epochs,
        "scheduler": config.scheduler.type if config.scheduler else None,
        "resources.cpu": config.resources.cpu,
        "resources.gpu": config.resources.gpu, "strategies": ",".join(config.strategies),
        "objectives": ",".join(f"{name}:{way}" for name, way in config.objectives.items())
        if config.objectives else None,
        "constraints": ",".join(f"{name}:{bound.min}..{bound.max}"
                                for name, bound in config.constraints.items()) or None,
    }


def mlflow_wait_s() -> float:
    """How long a campaign that ends while MLflow is away waits for it to return before it
    leaves the spooled writes on disk: ``$SWEEPFORGE_MLFLOW_WAIT_S``, default 60 s."""
    try:
        return max(0.0, float(os.environ.get("SWEEPFORGE_MLFLOW_WAIT_S", "60")))
    except ValueError:
        return 60.0
