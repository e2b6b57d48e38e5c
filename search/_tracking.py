"""MLflow tracking. The master process is the only writer: workers never talk to MLflow.

Runs are nested campaign -> strategy -> trial inside one experiment per campaign name:

* campaign run: the campaign file (artifact), its settings (params), the comparison table (CSV);
* strategy run: kind and options (params), best value, best config, trial counts;
* trial run: every knob as a param, per-epoch metrics (``step`` = epoch), final validation and
  test metrics, status FINISHED / FAILED, duration, and tags (campaign id, strategy, trial id).

Per-epoch metrics are buffered and written with ``log_batch``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterable, Mapping
from typing import Any

from mlflow.entities import Metric, Param, RunTag
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

TAG_KIND = "sweepforge.kind"  # campaign | strategy | trial
TAG_CAMPAIGN_ID = "sweepforge.campaign_id"
TAG_STRATEGY = "sweepforge.strategy"
TAG_TRIAL_ID = "sweepforge.trial_id"
TAG_CONFIG = "sweepforge.config"  # the searched config as JSON, types kept
TAG_PARENT = "mlflow.parentRunId"
TAG_RUN_NAME = "mlflow.runName"

_MAX_METRICS_PER_BATCH = 1000
_MAX_PARAMS_PER_BATCH = 100
_MAX_PARAM_LENGTH = 6000


def now_ms() -> int:
    return int(time.time() * 1000)


class Tracker:
    """Thin, batched writer for one campaign's runs in one MLflow store.

    Example:
        >>> tracker = Tracker("sqlite:///mlflow.db", "quickstart")  # doctest: +SKIP
        >>> run_id = tracker.start_run("quickstart", {TAG_KIND: "campaign"})  # doctest: +SKIP
    """

    def __init__(self, tracking_uri: str, experiment_name: str):
        self.tracking_uri = tracking_uri
        self.client = MlflowClient(tracking_uri=tracking_uri)
        self.experiment_id = self._experiment(experiment_name)

    def _experiment(self, name: str) -> str:
        experiment = self.client.get_experiment_by_name(name)
        if experiment is not None:
            if experiment.lifecycle_stage == "deleted":
                self.client.restore_experiment(experiment.experiment_id)
            return experiment.experiment_id
        try:
            return self.client.create_experiment(name)
        except MlflowException:  # created meanwhile by another process
            return self.client.get_experiment_by_name(name).experiment_id

    def start_run(self, name: str, tags: Mapping[str, str], parent: str | None = None) -> str:
        """Opens a run (nested under ``parent``) and returns its id."""
        all_tags = {**tags, TAG_RUN_NAME: name}
        if parent:
            all_tags[TAG_PARENT] = parent
        run = self.client.create_run(self.experiment_id, start_time=now_ms(), tags=all_tags, run_name=name)
        return run.info.run_id

    def log(
        self,
        run_id: str,
        params: Mapping[str, Any] | None = None,
        metrics: Iterable[Metric] = (),
        tags: Mapping[str, Any] | None = None,
    ) -> None:
        """Writes params, metrics and tags in as few ``log_batch`` calls as MLflow allows."""
        param_list = [Param(k, _param_text(v)) for k, v in (params or {}).items()]
        tag_list = [RunTag(k, str(v)) for k, v in (tags or {}).items()]
        metric_list = list(metrics)
        first = True
        while first or param_list or metric_list:
            first = False
            self.client.log_batch(
                run_id,
                metrics=metric_list[:_MAX_METRICS_PER_BATCH],
                params=param_list[:_MAX_PARAMS_PER_BATCH],
                tags=tag_list,
            )
            metric_list = metric_list[_MAX_METRICS_PER_BATCH:]
            param_list = param_list[_MAX_PARAMS_PER_BATCH:]
            tag_list = []

    def log_text(self, run_id: str, text: str, path: str) -> None:
        self.client.log_text(run_id, text, path)

    def end_run(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status, end_time=now_ms())

    def reopen_run(self, run_id: str) -> None:
        """Marks an ended run RUNNING again (a resumed campaign continues it)."""
        self.client.update_run(run_id, status="RUNNING")


def metrics_at(values: Mapping[str, Any], names: Iterable[str], step: int) -> list[Metric]:
    """MLflow metrics for the numeric ``names`` present in ``values``; NaN is kept (MLflow
    stores it) so a diverging trial shows in its curves."""
    stamp = now_ms()
    out = []
    for name in names:
        value = values.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out.append(Metric(name, float(value), stamp, step))
    return out


def config_json(config: Mapping[str, Any]) -> str:
    """The config as JSON (NaN-free: configs hold only finite values)."""
    return json.dumps(dict(config), sort_keys=True)


def _param_text(value: Any) -> str:
    if isinstance(value, float) and math.isfinite(value):
        text = repr(value)
    else:
        text = str(value)
    return text[:_MAX_PARAM_LENGTH]

