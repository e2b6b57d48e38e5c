"""The campaign runner: every strategy of a campaign, one after another, on Ray Tune.

Each strategy gets the same budget, seed, data split and resources per trial. Trials run on
Ray workers (actors are reused between trials: without reuse Ray Tune spends about 2 s per trial
starting a worker on a 2-core machine). The master writes every trial to MLflow.

Example:
    >>> result = Campaign.from_yaml("examples/quickstart.yaml").run()   # doctest: +SKIP
    >>> result.summary                                                  # doctest: +SKIP
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from .config import CampaignConfig, CampaignError, load_campaign_config
from .plan import CampaignPlan, plan_campaign
from .state.resume import (
    CampaignRuns,
    CampaignState,
    campaign_folder,
    check_resumable,
    find_runs,
    replay_left_spool,
    resolve_state_dir,
    settle_with_mlflow,
    stored_config,
    unfinished_campaigns,
)
from .tracking.progress import CampaignProgress
from .tracking.tracker import (
    TAG_CAMPAIGN_ID,
    TAG_KIND,
    TAG_STRATEGY,
    Tracker,
    config_json,
    metrics_at,
    resolve_tracking_uri,
)
from .tracking.trial_logger import TrialLogger, TrialRecord
from .tune.ask_cost import AskCost
from .tune.checkpoints import DropCheckpoints, tune_trial_dirname
from .tune.interrupt import InterruptFlag, StopOnInterrupt
from .tune.memory import ForgetFinishedTrialStats
from .tune.population import PopulationBridge, population, population_dirname
from .tune.ray_setup import concurrency, ray_session, trial_actors_on_idle_workers
from .tune.schedulers import make_scheduler
from .tune.searcher import CampaignSearcher
from .tune.timeout import TrialDeadline
from .tune.worker import module_root, run_trial


@dataclass
class CampaignResult:
    """What a campaign run produced; ``trials`` has one row per trial, ``summary`` one per strategy."""

    name: str
    campaign_id: str
    campaign_run_id: str
    experiment_id: str
    tracking_uri: str
    metric: str
    mode: str
    trials: pd.DataFrame
    summary: pd.DataFrame

    def best_config(self, strategy: str | None = None) -> dict[str, Any]:
        """The best config found (by one strategy, or by any)."""
        done = self.trials[self.trials["state"].isin(["COMPLETE", "PRUNED"])]
        if strategy is not None:
            done = done[done["strategy"] == strategy]
        if done.empty:
            raise CampaignError(f"no completed trial{' for ' + strategy if strategy else ''}.")
        best = done["value"].idxmax() if self.mode == "max" else done["value"].idxmin()
        return dict(done.loc[best, "config"])


class Campaign:
    """A campaign ready to run: a validated config plus where to run and log it.

    Args:
        config: the validated campaign.
        tracking_uri: MLflow store; default ``MLFLOW_TRACKING_URI`` or ``sqlite:///mlflow.db``.
        address: a Ray cluster to join (``ray://`` or ``host:port``); default ``RAY_ADDRESS`` or
            a local Ray started for the campaign.
        strategies: run only these strategies of the campaign.
        state_dir: where campaigns keep their journal and checkpoints, to be resumed; default
            ``$SWEEPFORGE_STATE_DIR`` or ``.sweepforge`` in the working directory.
    """

    def __init__(
        self, config: CampaignConfig, *, tracking_uri: str | None = None, address: str | None = None,
        strategies: Sequence[str] | None = None, state_dir: str | Path | None = None,
    ):
        self.config = config
        self.state_dir = resolve_state_dir(state_dir)
        self._resume_folder: Path | None = None
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.plan: CampaignPlan = plan_campaign(
            config, only=strategies, cuda_available=True if self.address else None
        )

    @classmethod
    def from_yaml(cls, path: str | Path, **kwargs: Any) -> Campaign:
        """Loads and checks a campaign file; raises :class:`CampaignError` before anything runs."""
        return cls(load_campaign_config(path), **kwargs)

    @classmethod
    def resume(
        cls, name: str, *, campaign_id: str | None = None, state_dir: str | Path | None = None,
        tracking_uri: str | None = None, address: str | None = None,
    ) -> Campaign:
        """The unfinished campaign ``name`` (its latest, or the one with ``campaign_id``), with
        the settings it started with, ready to :meth:`run` on from where it stopped.

        Raises:
            CampaignError: no such unfinished campaign, or its journal cannot be resumed from
                (:class:`~.state.journal.JournalError`, naming the file and line).
        """
        root = resolve_state_dir(state_dir)
        if campaign_id is None:
            found = unfinished_campaigns(root, name)
            if not found:
                raise CampaignError(
                    f"no unfinished campaign named {name!r} in {root} (campaigns keep their state "
                    "in --state-dir, $SWEEPFORGE_STATE_DIR or ./.sweepforge)."
                )
            folder = found[0].folder
        else:
            folder = campaign_folder(root, name, campaign_id)
            if not folder.is_dir():
                raise CampaignError(f"campaign {name!r} has no campaign id {campaign_id!r} in {root}.")
        config, strategies, stored_uri = stored_config(folder)
        if config.name != name:
            raise CampaignError(f"{folder} holds campaign {config.name!r}, not {name!r}.")
        campaign = cls(config, tracking_uri=tracking_uri or stored_uri or None, address=address,
                       strategies=strategies, state_dir=root)
        check_resumable(folder, campaign.plan)
        campaign._resume_folder = folder
        return campaign

    def run(self, *, progress: bool = False) -> CampaignResult:
        """Runs every strategy (for a campaign from :meth:`resume`, what is left of them);
        returns the trials and the comparison table."""
        config, plan = self.config, self.plan
        with ray_session(self.address, config):
            # MLflow writes happen on a writer thread: Tune's loop does not wait on the store
            tracker = Tracker(self.tracking_uri, config.name, background=True)
            if self._resume_folder is None:
                state = CampaignState.start(self.state_dir, config, plan, self.tracking_uri)
            else:
                state = CampaignState.resume(self._resume_folder, plan)
            campaign_id, strategies = state.campaign_id, state.strategies
            tracker.name_spool(campaign_id, self.state_dir / "spool")  # writes wait there while MLflow is away
            state.journal.defer = tracker.in_order  # a tell is journaled after its trial's writes
            runs = CampaignRuns(None, {}, {})
            if self._resume_folder is not None:  # what MLflow holds of it, spooled writes included
                replay_left_spool(tracker)
                runs = find_runs(tracker, campaign_id)
            campaign_run = self._campaign_run(tracker, campaign_id, runs.campaign, state.session)
            strategy_runs = {
                name: self._strategy_run(tracker, name, campaign_id, campaign_run,
                                         runs.strategies.get(name))
                for name in strategies
            }
            display = CampaignProgress(list(strategies), budget=config.budget.trial_cap,
                                       metric=config.metric, mode=config.mode, enabled=progress)
            searcher = CampaignSearcher(
                strategies, metric=config.metric, mode=config.mode, journal=state.journal,
                session=state.session, planned_epochs=plan.planned_epochs,
                stops_early=config.scheduler is not None and config.scheduler.type != "pbt",
                epoch_budget=config.budget.epochs, max_epochs=config.budget.max_epochs,
                ask_cost=AskCost(workers=concurrency(config)),
            )
            logger = TrialLogger(tracker=tracker, plan=plan, campaign_id=campaign_id,
                                 strategy_runs=strategy_runs, searcher=searcher,
                                 on_event=display.on_event)
            logger.records.extend(settle_with_mlflow(
                state, runs, tracker, searcher, logger, config.metric, logger._test_metric
            ))
            for record in logger.records:  # finished before this session
                searcher.epochs_spent[record.strategy] += record.epochs
                display.on_event(record.strategy, None)
                display.on_event(record.strategy, record)
            status = "FAILED"
            try:
                with display:
                    if searcher.remaining:
                        self._fit(searcher, logger, state)
                status = "FINISHED"
            except KeyboardInterrupt:
                status = "KILLED"
                raise
            finally:
                logger.close_unfinished("KILLED")  # trials cut off by an interrupt or a crash
                summary = pd.DataFrame(
                    [_summarise(name, logger.records, config) for name in strategies]
                )
                for name in strategies:
                    self._end_strategy_run(tracker, strategy_runs[name], logger.records,
                                           summary[summary.strategy == name].iloc[0], status)
                tracker.log_text(campaign_run, summary.to_csv(index=False), "comparison.csv")
                tracker.end_run(campaign_run, status)
                # writes spooled while MLflow was away: replayed now (waiting a while for it)
                tracker.close(wait_s=_mlflow_wait_s() if status != "KILLED" else 0.0)
                campaign_run = tracker.real_run_id(campaign_run)
                for record in logger.records:
                    record.run_id = tracker.real_run_id(record.run_id)
                state.finish(status)
        return CampaignResult(
            name=config.name, campaign_id=campaign_id, campaign_run_id=campaign_run,
            experiment_id=tracker.experiment_id, tracking_uri=self.tracking_uri, metric=config.metric,
            mode=config.mode, trials=_trials_frame(logger.records), summary=summary,
        )

    def _fit(self, searcher: CampaignSearcher, logger: TrialLogger, state: CampaignState) -> None:
        """Ray Tune runs the trials; actors are reused from trial to trial. Tune's storage
        (checkpoints) lives in the campaign's folder, one experiment per session.

        All strategies share each Tune run, and a new run starts every
        ``$SWEEPFORGE_TUNE_RUN_TRIALS`` trials. Under PBT each strategy gets its own run, so that
        a population only ever clones its own strategy's trials (see :mod:`.tune.population`)."""
        from ray import tune

        config, resources = self.config, self.config.resources
        trainable = tune.with_resources(
            tune.with_parameters(
                run_trial, trainable_name=config.trainable,
                trainable_module=self.plan.trainable.train_fn.__module__,
                trainable_root=module_root(self.plan.trainable.train_fn.__module__),
                data=self.plan.data, seed=config.seed, fixed=self.plan.fixed,
                cpus=resources.cpu, gpus=resources.gpu,
                data_key=f"{state.campaign_id}/{config.dataset}/{config.seed}",
            ),
            {"cpu": resources.cpu, "gpu": resources.gpu},
        )
        interrupt = InterruptFlag()
        with interrupt.armed():
            if config.scheduler is not None and config.scheduler.type == "pbt":
                for name in list(searcher.strategies):
                    searcher.focus = name
                    points, param_space = population(searcher)
                    if points and not interrupt.is_set:
                        self._tune_run(trainable, state, logger, interrupt, searcher,
                                       points=points, param_space=param_space)
                searcher.focus = None
            else:
                # Tune keeps every trial of a run in memory; a new run every few thousand
                # trials keeps the master's memory level (the strategies live outside Tune)
                while not searcher.finished and not interrupt.is_set:
                    asked = searcher.n_asked
                    self._tune_run(trainable, state, logger, interrupt, searcher,
                                   trials=min(searcher.remaining, _trials_per_tune_run()))
                    if searcher.n_asked == asked:  # nothing more to ask (an epoch budget spent)
                        break
            if interrupt.is_set:  # Ctrl-C after the last step of the Tune loop
                raise KeyboardInterrupt

    def _tune_run(
        self, trainable: Any, state: CampaignState, logger: TrialLogger, interrupt: InterruptFlag,
        searcher: CampaignSearcher, *, trials: int = 0,
        points: list[dict[str, Any]] | None = None, param_space: dict[str, Any] | None = None,
    ) -> None:
        """One ``Tuner.fit()``: the searcher asks up to ``trials`` trials as workers free up,
        or (``points``) the population it asked beforehand runs."""
        from ray import tune

        config = self.config
        callbacks: list[Any] = [logger, StopOnInterrupt(interrupt),
                                DropCheckpoints(at_end=points is not None),
                                ForgetFinishedTrialStats()]  # flat master memory
        if config.trial_timeout_s:  # the master kills a trial's actor past its deadline
            deadline = TrialDeadline(config.trial_timeout_s)
            logger.stop_reasons = deadline.expired
            callbacks.insert(0, deadline)
        search: dict[str, Any] = {"search_alg": searcher, "num_samples": trials,
                                  "trial_dirname_creator": tune_trial_dirname}
        if points is not None:  # PBT: Ray Tune's own generator hands out the population
            from ray.tune.search.basic_variant import BasicVariantGenerator

            search = {"search_alg": BasicVariantGenerator(points_to_evaluate=points),
                      "num_samples": len(points), "trial_dirname_creator": population_dirname}
            callbacks.insert(0, PopulationBridge(searcher))  # before the MLflow callback
        tuner = tune.Tuner(
            trainable,
            param_space=param_space,
            tune_config=tune.TuneConfig(
                **search,
                scheduler=make_scheduler(config.scheduler, space=self.plan.space,
                                         metric=config.metric, mode=config.mode,
                                         max_epochs=config.budget.max_epochs),
                max_concurrent_trials=concurrency(config),
                reuse_actors=True,
            ),
            run_config=tune.RunConfig(
                name=state.tune_name, storage_path=str(state.tune_root), verbose=0,
                # a failed trial (an error, a lost node) restarts from its last checkpoint
                failure_config=tune.FailureConfig(max_failures=config.max_failures),
                callbacks=callbacks,
            ),
        )
        with trial_actors_on_idle_workers():  # trial actors may take Ray's idle workers
            tuner.fit()

    def _campaign_run(self, tracker: Tracker, campaign_id: str, existing: str | None,
                      session: int) -> str:
        """The campaign's MLflow run: a new one, or on resume the one it already has, reopened."""
        if existing is not None:
            tracker.reopen_run(existing)
            tracker.log(existing, tags={"sweepforge.sessions": session})
            return existing
        config = self.config
        run_id = tracker.start_run(
            f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}",
            {TAG_KIND: "campaign", TAG_CAMPAIGN_ID: campaign_id},
        )
        tracker.log(run_id, params=_campaign_params(config))
        tracker.log_text(run_id, yaml.safe_dump(config.model_dump(), sort_keys=False),
                         "campaign.yaml")
        return run_id

    @staticmethod
    def _strategy_run(tracker: Tracker, name: str, campaign_id: str, parent: str,
                      existing: str | None) -> str:
        if existing is not None:
            tracker.reopen_run(existing)
            return existing
        return tracker.start_run(
            name, {TAG_KIND: "strategy", TAG_CAMPAIGN_ID: campaign_id, TAG_STRATEGY: name},
            parent=parent,
        )

    def _end_strategy_run(
        self, tracker: Tracker, run_id: str, records: list[TrialRecord], row: pd.Series,
        status: str,
    ) -> None:
        kind, options = self.plan.strategies[row["strategy"]]
        best = next((r.config for r in records if r.strategy == row["strategy"]
                     and r.trial_id == row["best_trial"]), {})
        tracker.log(
            run_id,
            params={"kind": kind, **{f"option.{k}": v for k, v in options.items()}},
            metrics=metrics_at(row.to_dict(), ["best_value", "test_value", "trials", "finished",
                                               "pruned", "failed", "epochs", "wall_time_s",
                                               "compute_s"], step=0),
            tags={"sweepforge.best_config": config_json(best)},
        )
        tracker.log_text(run_id, yaml.safe_dump(best, sort_keys=True), "best_config.yaml")
        tracker.end_run(run_id, status)


def _trials_per_tune_run() -> int:
    """Trials per Ray Tune run: ``$SWEEPFORGE_TUNE_RUN_TRIALS``, default 2,000. Tune keeps
    about 27 KB per trial in the master until its run ends (BENCHMARKS.md, "Scale"); a new run
    costs a few seconds (new workers)."""
    try:
        return max(1, int(os.environ.get("SWEEPFORGE_TUNE_RUN_TRIALS", "2000")))
    except ValueError:
        return 2000


def _mlflow_wait_s() -> float:
    """How long a campaign that ends while MLflow is away waits for it to return before it
    leaves the spooled writes on disk: ``$SWEEPFORGE_MLFLOW_WAIT_S``, default 60 s."""
    try:
        return max(0.0, float(os.environ.get("SWEEPFORGE_MLFLOW_WAIT_S", "60")))
    except ValueError:
        return 60.0


def _campaign_params(config: CampaignConfig) -> dict[str, Any]:
    return {
        "trainable": config.trainable, "dataset": config.dataset, "metric": config.metric,
        "mode": config.mode, "seed": config.seed, "budget.trials": config.budget.trials,
        "budget.max_epochs": config.budget.max_epochs, "budget.epochs": config.budget.epochs,
        "scheduler": config.scheduler.type if config.scheduler else None,
        "resources.cpu": config.resources.cpu,
        "resources.gpu": config.resources.gpu, "strategies": ",".join(config.strategies),
    }


def _summarise(name: str, records: list[TrialRecord], config: CampaignConfig) -> dict[str, Any]:
    """One row of the comparison table. The best value is the best of the strategy's COMPLETE
    and PRUNED trials (a pruned trial's value is from the epoch it reached). ``epochs`` adds up
    the epochs its trials trained; ``wall_time_s`` spans its first trial start to its last trial
    end; ``compute_s`` adds up its trials' durations."""
    own = [r for r in records if r.strategy == name]
    done = [r for r in own if r.state in ("COMPLETE", "PRUNED") and r.value is not None]
    pick = max if config.mode == "max" else min
    best = pick(done, key=lambda r: r.value) if done else None  # type: ignore[arg-type, return-value]
    wall = max(r.ended_at for r in own) - min(r.started_at for r in own) if own else 0.0
    return {
        "strategy": name,
        "trials": len(own),
        "finished": sum(r.state == "COMPLETE" for r in own),
        "pruned": sum(r.state == "PRUNED" for r in own),
        "failed": sum(r.state == "FAILED" for r in own),
        "epochs": sum(r.epochs for r in own),
        "best_value": best.value if best else None,
        "test_value": best.test_value if best else None,
        "wall_time_s": round(wall, 2),
        "compute_s": round(sum(r.duration_s for r in own), 2),
        "best_trial": best.trial_id if best else None,
    }


def _trials_frame(records: list[TrialRecord]) -> pd.DataFrame:
    columns = ["strategy", "trial_id", "state", "value", "test_value", "epochs", "duration_s",
               "started_at", "config", "run_id", "error"]
    records = sorted(records, key=lambda r: (r.strategy, r.trial_id))
    rows = [{c: getattr(r, c) for c in columns} for r in records]
    frame = pd.DataFrame(rows, columns=columns)
    params = pd.json_normalize([r.config for r in records]) if records else pd.DataFrame()
    return pd.concat([frame, params.add_prefix("config.")], axis=1)
