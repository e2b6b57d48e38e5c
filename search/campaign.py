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
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from ._interrupt import InterruptFlag, StopOnInterrupt
from ._plan import CampaignPlan, plan_campaign
from ._progress import CampaignProgress
from ._searcher import CampaignSearcher
from ._strategy import Strategy
from ._timeout import TrialDeadline
from ._tracking import TAG_CAMPAIGN_ID, TAG_KIND, TAG_STRATEGY, Tracker, config_json, metrics_at
from ._trial_logger import TrialLogger, TrialRecord
from ._worker import run_trial
from .config import CampaignConfig, CampaignError, load_campaign_config

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"


def resolve_tracking_uri(tracking_uri: str | None = None) -> str:
    """``--tracking-uri``, else ``MLFLOW_TRACKING_URI``, else a SQLite file in the working dir."""
    return tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI


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
        done = self.trials[self.trials["state"] == "COMPLETE"]
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
    """

    def __init__(
        self, config: CampaignConfig, *, tracking_uri: str | None = None, address: str | None = None,
        strategies: Sequence[str] | None = None,
    ):
        self.config = config
        self.tracking_uri = resolve_tracking_uri(tracking_uri)
        self.address = address or os.environ.get("RAY_ADDRESS") or None
        self.plan: CampaignPlan = plan_campaign(
            config, only=strategies, cuda_available=True if self.address else None
        )

    @classmethod
    def from_yaml(cls, path: str | Path, **kwargs: Any) -> Campaign:
        """Loads and checks a campaign file; raises :class:`CampaignError` before anything runs."""
        return cls(load_campaign_config(path), **kwargs)

    def run(self, *, progress: bool = False) -> CampaignResult:
        """Runs every strategy; returns the trials and the comparison table."""
        config, plan = self.config, self.plan
        with _ray_session(self.address, config):
            tracker = Tracker(self.tracking_uri, config.name)
            campaign_id = uuid.uuid4().hex[:12]
            campaign_run = tracker.start_run(
                f"{config.name}-{time.strftime('%Y%m%d-%H%M%S')}",
                {TAG_KIND: "campaign", TAG_CAMPAIGN_ID: campaign_id},
            )
            tracker.log(campaign_run, params=_campaign_params(config))
            tracker.log_text(campaign_run, yaml.safe_dump(config.model_dump(), sort_keys=False),
                             "campaign.yaml")
            strategies = {name: plan.new_strategy(name) for name in plan.strategies}
            strategy_runs = {
                name: self._start_strategy_run(tracker, name, campaign_id, campaign_run)
                for name in strategies
            }
            display = CampaignProgress(list(strategies), budget=config.budget.trials,
                                       metric=config.metric, mode=config.mode, enabled=progress)
            searcher = CampaignSearcher(strategies, metric=config.metric, mode=config.mode)
            logger = TrialLogger(tracker=tracker, plan=plan, campaign_id=campaign_id,
                                 strategy_runs=strategy_runs, searcher=searcher,
                                 on_event=display.on_event)
            status = "FAILED"
            try:
                with display:
                    self._fit(searcher, logger, campaign_id)
                status = "FINISHED"
            except KeyboardInterrupt:
                status = "KILLED"
                raise
            finally:
                logger.close_unfinished("KILLED")  # trials cut off by an interrupt or a crash
                summary = pd.DataFrame(
                    [_summarise(name, logger.records, config) for name in strategies]
                )
                for name, strategy in strategies.items():
                    self._end_strategy_run(tracker, strategy_runs[name], strategy,
                                           summary[summary.strategy == name].iloc[0], status)
                tracker.log_text(campaign_run, summary.to_csv(index=False), "comparison.csv")
                tracker.end_run(campaign_run, status)
        return CampaignResult(
            name=config.name, campaign_id=campaign_id, campaign_run_id=campaign_run,
            experiment_id=tracker.experiment_id, tracking_uri=self.tracking_uri, metric=config.metric,
            mode=config.mode, trials=_trials_frame(logger.records), summary=summary,
        )

    def _fit(self, searcher: CampaignSearcher, logger: TrialLogger, campaign_id: str) -> None:
        """One Ray Tune run for all strategies; actors are reused from trial to trial."""
        from ray import tune

        config, resources = self.config, self.config.resources
        trainable = tune.with_resources(
            tune.with_parameters(
                run_trial, trainable_name=config.trainable,
                trainable_module=self.plan.trainable.train_fn.__module__,
                dataset_name=config.dataset, seed=config.seed, fixed=self.plan.fixed,
                cpus=resources.cpu, gpus=resources.gpu,
            ),
            {"cpu": resources.cpu, "gpu": resources.gpu},
        )
        interrupt = InterruptFlag()
        callbacks: list[Any] = [logger, StopOnInterrupt(interrupt)]
        if config.trial_timeout_s:  # the master kills a trial's actor past its deadline
            deadline = TrialDeadline(config.trial_timeout_s)
            logger.stop_reasons = deadline.expired
            callbacks.insert(0, deadline)
        with tempfile.TemporaryDirectory(prefix="sweepforge-tune-") as storage, interrupt.armed():
            tune.Tuner(
                trainable,
                tune_config=tune.TuneConfig(
                    search_alg=searcher,
                    num_samples=searcher.total_budget,
                    max_concurrent_trials=_concurrency(config),
                    reuse_actors=True,
                ),
                run_config=tune.RunConfig(
                    name=campaign_id, storage_path=storage, verbose=0,
                    callbacks=callbacks,
                ),
            ).fit()
            if interrupt.is_set:  # Ctrl-C after the last step of the Tune loop
                raise KeyboardInterrupt

    @staticmethod
    def _start_strategy_run(tracker: Tracker, name: str, campaign_id: str, parent: str) -> str:
        return tracker.start_run(
            name, {TAG_KIND: "strategy", TAG_CAMPAIGN_ID: campaign_id, TAG_STRATEGY: name},
            parent=parent,
        )

    def _end_strategy_run(
        self, tracker: Tracker, run_id: str, strategy: Strategy, row: pd.Series, status: str
    ) -> None:
        kind, options = self.plan.strategies[row["strategy"]]
        tracker.log(
            run_id,
            params={"kind": kind, **{f"option.{k}": v for k, v in options.items()}},
            metrics=metrics_at(row.to_dict(), ["best_value", "test_value", "trials", "finished",
                                               "failed", "wall_time_s", "compute_s"], step=0),
            tags={"sweepforge.best_config": config_json(strategy.best_config or {})},
        )
        tracker.log_text(run_id, yaml.safe_dump(strategy.best_config or {}, sort_keys=True),
                         "best_config.yaml")
        tracker.end_run(run_id, status)


def _concurrency(config: CampaignConfig) -> int:
    import ray

    if config.max_concurrent_trials:
        return config.max_concurrent_trials
    available = ray.cluster_resources()
    fits = int(available.get("CPU", 1) // config.resources.cpu)
    if config.resources.gpu > 0:
        fits = min(fits, int(available.get("GPU", 0) // config.resources.gpu))
    return max(1, fits)


@contextmanager
def _ray_session(address: str | None, config: CampaignConfig) -> Iterator[None]:
    """Uses a running Ray, joins ``address``, or starts a local Ray for the campaign's length."""
    import logging

    import ray

    os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")
    os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
    # Ctrl-C must reach sweepforge as KeyboardInterrupt: Ray Tune's own handler would end the
    # run quietly and the campaign would look finished with trials missing.
    os.environ.setdefault("TUNE_DISABLE_SIGINT_HANDLER", "1")
    # Tune's result files are off (TUNE_DISABLE_AUTO_CALLBACK_LOGGERS); its end-of-run analysis
    # would warn that it cannot read them. sweepforge reads results from its own callback.
    logging.getLogger("ray.tune.analysis.experiment_analysis").setLevel(logging.ERROR)
    started = False
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING,
                 log_to_driver=False, configure_logging=True)
        started = True
    try:
        if config.resources.gpu > 0 and ray.cluster_resources().get("GPU", 0) < config.resources.gpu:
            raise CampaignError(
                f"resources.gpu: each trial asks for {config.resources.gpu} GPU(s) but the Ray "
                f"cluster has {ray.cluster_resources().get('GPU', 0)}. Use `resources: {{gpu: 0}}` "
                "to run on the CPU."
            )
        yield
    finally:
        if started:
            ray.shutdown()


def _campaign_params(config: CampaignConfig) -> dict[str, Any]:
    return {
        "trainable": config.trainable, "dataset": config.dataset, "metric": config.metric,
        "mode": config.mode, "seed": config.seed, "budget.trials": config.budget.trials,
        "budget.max_epochs": config.budget.max_epochs, "resources.cpu": config.resources.cpu,
        "resources.gpu": config.resources.gpu, "strategies": ",".join(config.strategies),
    }


def _summarise(name: str, records: list[TrialRecord], config: CampaignConfig) -> dict[str, Any]:
    """One row of the comparison table. ``wall_time_s`` spans the strategy's first trial start
    to its last trial end; ``compute_s`` adds up its trials' durations."""
    own = [r for r in records if r.strategy == name]
    done = [r for r in own if r.state == "COMPLETE" and r.value is not None]
    pick = max if config.mode == "max" else min
    best = pick(done, key=lambda r: r.value) if done else None  # type: ignore[arg-type, return-value]
    wall = max(r.ended_at for r in own) - min(r.started_at for r in own) if own else 0.0
    return {
        "strategy": name,
        "trials": len(own),
        "finished": sum(r.state == "COMPLETE" for r in own),
        "failed": sum(r.state == "FAILED" for r in own),
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
