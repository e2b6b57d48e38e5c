"""MLflow rows -> tidy DataFrames. Pure functions: no MLflow, no I/O.

The input frames have the columns of ``mlflow.search_runs`` (``run_id``, ``status``,
``start_time``, ``end_time``, ``metrics.*``, ``params.*``, ``tags.*``).

A trial's state comes from its run: FAILED and KILLED as MLflow has them, RUNNING while open,
and a FINISHED run is PRUNED when a ``sweepforge.state`` tag says so or when it ran fewer epochs
than its ``epochs`` knob (a scheduler stopped it early), COMPLETE otherwise.

A campaign with several objectives says so on its campaign run (the ``objectives`` param from its
start, the ``sweepforge.objectives`` tag once it ends); :func:`with_objectives` adds each
objective's value, feasibility and the campaign's Pareto flag to the trials, and
:func:`strategy_frame` reads each strategy run's front size and hypervolume.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd

from sweepforge.search.schema import (
    METRIC_FRONT_SIZE,
    METRIC_HYPERVOLUME,
    TAG_CAMPAIGN_ID,
    TAG_CONFIG,
    TAG_ERROR,
    TAG_FEASIBLE,
    TAG_MODEL_URI,
    TAG_OBJECTIVES,
    TAG_PARETO,
    TAG_REFERENCE,
    TAG_REGISTERED,
    TAG_STATE,
    TAG_STRATEGY,
    TAG_TRIAL_ID,
    finite_or_none,
    is_finite_number,
)

TRIAL_COLUMNS = [
    "campaign_id",
    "seed",
    "strategy",
    "trial_id",
    "run_id",
    "state",
    "value",
    "test_value",
    "started_s",
    "ended_s",
    "duration_s",
    "epochs",
    "error",
    "config",
]
SCORED_STATES = ("COMPLETE", "PRUNED")
OBJECTIVE_PREFIX = "objective:"  # the trials' column of each objective: "objective:n_params"
STRATEGY_COLUMNS = ["campaign_id", "seed", "strategy", "run_id", "front_size", "hypervolume"]
_LOG_RATIO = 20.0  # a positive numeric knob spanning at least this factor may be log-scaled
_LOG_SHARE = 0.25  # ... when at least this share of its values lies below its geometric middle


@dataclass(frozen=True)
class Limit:
    """A hard limit of the campaign's ``constraints:``: ``low <= metric <= high`` (either may
    be None)."""

    metric: str
    low: float | None = None
    high: float | None = None

    def keeps(self, value: Any) -> bool:
        """Whether ``value`` is within the limit; a missing or non-finite value is not (nothing
        shows the limit is kept)."""
        if not is_finite_number(value):
            return False
        number = float(value)
        return (self.low is None or number >= self.low) and (
            self.high is None or number <= self.high
        )

    def __str__(self) -> str:
        parts = ([f"{self.metric} >= {self.low:g}"] if self.low is not None else []) + (
            [f"{self.metric} <= {self.high:g}"] if self.high is not None else []
        )
        return " and ".join(parts)


@dataclass(frozen=True)
class CampaignInfo:
    """What the campaign run says about itself. ``objectives`` (each objective and its
    direction, in the file's order) is empty for a campaign with one metric."""

    name: str
    run_id: str
    campaign_id: str
    status: str
    metric: str
    mode: Literal["max", "min"]
    seed: str
    strategies: list[str]
    started_s: float
    settings: dict[str, str]
    model: str = ""  # the campaign's final model, models:/<id>, once it has one
    registered: str = ""  # <name>/<version> in the Model Registry
    final_test: float | None = None  # the final refit's test score
    objectives: dict[str, Literal["max", "min"]] = field(default_factory=dict)
    limits: tuple[Limit, ...] = ()  # the file's constraints:
    reference: list[float] | None = None  # the hypervolume's reference point, once it ended

    @property
    def multi(self) -> bool:
        """Whether the campaign has several objectives (and so Pareto fronts)."""
        return len(self.objectives) > 1


@dataclass(frozen=True)
class ParamSpec:
    """A searched knob as the trials show it (types from the ``sweepforge.config`` tag)."""

    name: str
    kind: Literal["float", "int", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple[Any, ...] = ()
    present: int = 0  # trials that have it (conditional knobs are absent from some)

    @property
    def constant(self) -> bool:
        return len(self.choices) < 2 if self.kind == "categorical" else self.low == self.high


def campaign_info(campaign: pd.Series, name: str) -> CampaignInfo:
    """The chosen campaign run (one row of the campaigns frame) as a :class:`CampaignInfo`."""
    params = {
        k[len("params.") :]: str(v)
        for k, v in campaign.items()
        if k.startswith("params.") and isinstance(v, str)
    }
    mode = params.get("mode", "max")
    return CampaignInfo(
        name=name,
        run_id=str(campaign["run_id"]),
        campaign_id=str(campaign.get(f"tags.{TAG_CAMPAIGN_ID}", "")),
        status=str(campaign.get("status", "")),
        metric=params.get("metric", ""),
        mode="min" if mode == "min" else "max",
        seed=params.get("seed", ""),
        strategies=[s for s in params.get("strategies", "").split(",") if s],
        started_s=_seconds(campaign.get("start_time")),
        settings=params,
        model=_text(campaign.get(f"tags.{TAG_MODEL_URI}")),
        registered=_text(campaign.get(f"tags.{TAG_REGISTERED}")),
        final_test=finite_or_none(campaign.get("metrics.final.test_value")),
        objectives=objectives_of(campaign),
        limits=_limits(params.get("constraints", "")),
        reference=_reference(campaign.get(f"tags.{TAG_REFERENCE}")),
    )


def objectives_of(campaign: pd.Series) -> dict[str, Literal["max", "min"]]:
    """The objectives of a campaign run (one row of the campaigns frame) with their directions,
    in the file's order: from its ``sweepforge.objectives`` tag once it ended, else from its
    ``objectives`` param (``val_accuracy:max,n_params:min``, there from its start); empty for
    a campaign with one metric."""
    tagged = campaign.get(f"tags.{TAG_OBJECTIVES}")
    if isinstance(tagged, str) and tagged:
        try:
            found = json.loads(tagged)
        except json.JSONDecodeError:
            found = None
        if isinstance(found, dict) and found:
            return {str(k): "min" if v == "min" else "max" for k, v in found.items()}
    param = campaign.get("params.objectives")
    if not isinstance(param, str) or param in ("", "None"):
        return {}
    pairs = [part.rpartition(":") for part in param.split(",") if part]
    return {name: "min" if way == "min" else "max" for name, _, way in pairs if name}


def _limits(text: str) -> tuple[Limit, ...]:
    """The ``constraints`` param (``n_params:None..20000.0,latency_ms:0.5..None``) as limits."""
    if text in ("", "None"):
        return ()
    limits = []
    for part in text.split(","):
        name, _, bounds = part.rpartition(":")
        low, _, high = bounds.partition("..")
        if name:
            limits.append(Limit(name, _number(low), _number(high)))
    return tuple(limits)


def _reference(text: Any) -> list[float] | None:
    try:
        point = json.loads(text) if isinstance(text, str) else None
    except json.JSONDecodeError:
        return None
    if isinstance(point, list) and all(is_finite_number(v) for v in point):
        return [float(v) for v in point]
    return None


def _text(value: object) -> str:
    return value if isinstance(value, str) else ""


def trials_frame(trial_runs: pd.DataFrame, campaigns: pd.DataFrame, metric: str) -> pd.DataFrame:
    """One row per trial run, with the columns of :data:`TRIAL_COLUMNS`.

    ``value`` is the trial's last ``metric`` when finite (NaN otherwise); ``test_value`` the
    matching ``test_*`` metric; times are unix seconds; ``config`` the searched knobs, typed.
    """
    if trial_runs.empty:
        return pd.DataFrame(columns=TRIAL_COLUMNS)
    seeds = _seeds(campaigns)
    runs = trial_runs
    campaign_id = _column(runs, f"tags.{TAG_CAMPAIGN_ID}", "")
    test_metric = f"metrics.test_{metric[4:]}" if metric.startswith("val_") else ""
    frame = pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "seed": campaign_id.map(lambda c: str(seeds.get(c, ""))),
            "strategy": _column(runs, f"tags.{TAG_STRATEGY}", "?").astype(str),
            "trial_id": pd.to_numeric(
                _column(runs, f"tags.{TAG_TRIAL_ID}", np.nan), errors="coerce"
            ),
            "run_id": runs["run_id"],
            "state": [
                _state(*fields)
                for fields in zip(
                    runs["status"],
                    _column(runs, f"tags.{TAG_STATE}", None),
                    _column(runs, "metrics.epochs_run", None),
                    _column(runs, "params.epochs", None),
                )
            ],
            "value": _finite(_column(runs, f"metrics.{metric}", np.nan)),
            "test_value": _finite(_column(runs, test_metric, np.nan)),
            "started_s": runs["start_time"].map(_seconds),
            "ended_s": runs["end_time"].map(_seconds),
            "epochs": pd.to_numeric(_column(runs, "metrics.epochs_run", np.nan), errors="coerce"),
            "error": _column(runs, f"tags.{TAG_ERROR}", "").fillna("").map(_last_line),
            "config": _column(runs, f"tags.{TAG_CONFIG}", None).map(_config),
        }
    )
    duration = pd.to_numeric(_column(runs, "metrics.duration_s", np.nan), errors="coerce")
    frame["duration_s"] = duration.fillna(frame["ended_s"] - frame["started_s"])
    frame.loc[~frame["state"].isin(SCORED_STATES), "value"] = np.nan
    frame = frame[TRIAL_COLUMNS].sort_values(["campaign_id", "strategy", "trial_id"])
    return frame.reset_index(drop=True)


def objective_column(name: str) -> str:
    """The column of the trials frame that holds objective ``name`` (:func:`with_objectives`)."""
    return OBJECTIVE_PREFIX + name


def with_objectives(
    trials: pd.DataFrame,
    trial_runs: pd.DataFrame,
    objectives: list[str],
    limits: tuple[Limit, ...] = (),
) -> pd.DataFrame:
    """``trials`` (from :func:`trials_frame`) plus, from their MLflow rows ``trial_runs``:

    * one column per objective (:func:`objective_column`): its last value when finite and the
      trial is scored (NaN otherwise), as ``value`` is for the campaign's metric;
    * ``feasible``: the trial kept every hard limit, as its ``sweepforge.feasible`` tag says
      (set when it ended), else as its metrics against ``limits`` show (True without limits);
    * ``pareto``: the trial's ``sweepforge.pareto`` tag (on the campaign's front), True or False,
      None before the campaign ended and set it.
    """
    out = trials.copy()
    runs = trial_runs.set_index("run_id") if "run_id" in trial_runs else pd.DataFrame()
    runs = runs[~runs.index.duplicated(keep="last")]

    def metric(name: str) -> pd.Series:
        column = f"metrics.{name}"
        if column not in runs:
            return pd.Series(np.nan, index=out.index, dtype=float)
        return _finite(out["run_id"].map(runs[column]))

    scored_rows = out["state"].isin(SCORED_STATES)
    for name in objectives:
        out[objective_column(name)] = metric(name).where(scored_rows)
    feasible = pd.Series(True, index=out.index)
    for limit in limits:
        feasible &= metric(limit.metric).map(limit.keeps)
    tagged = _tag(out, runs, TAG_FEASIBLE)
    out["feasible"] = tagged.where(tagged.notna(), feasible).astype(bool)
    out["pareto"] = _tag(out, runs, TAG_PARETO)
    return out


def _tag(trials: pd.DataFrame, runs: pd.DataFrame, name: str) -> pd.Series:
    """A ``true``/``false`` tag of each trial's run as True/False, None where it is not set."""
    column = f"tags.{name}"
    texts = trials["run_id"].map(runs[column]) if column in runs else None
    if texts is None:
        return pd.Series(None, index=trials.index, dtype=object)
    return texts.map(_flag).astype(object)


def _flag(text: Any) -> bool | None:
    if isinstance(text, str) and text.lower() in ("true", "false"):
        return text.lower() == "true"
    return None


def _seeds(campaigns: pd.DataFrame) -> dict[str, object]:
    """Campaign id -> its seed param, for the campaign runs in ``campaigns``."""
    return dict(
        zip(campaigns.get(f"tags.{TAG_CAMPAIGN_ID}", []), campaigns.get("params.seed", []))
    )


def strategy_frame(strategy_runs: pd.DataFrame, campaigns: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy run (columns :data:`STRATEGY_COLUMNS`): its campaign, seed, name
    and, with several objectives, its front size and final hypervolume (NaN until logged)."""
    if strategy_runs.empty:
        return pd.DataFrame(columns=STRATEGY_COLUMNS)
    seeds = _seeds(campaigns)
    runs = strategy_runs
    campaign_id = _column(runs, f"tags.{TAG_CAMPAIGN_ID}", "")
    frame = pd.DataFrame(
        {
            "campaign_id": campaign_id,
            "seed": campaign_id.map(lambda c: str(seeds.get(c, ""))),
            "strategy": _column(runs, f"tags.{TAG_STRATEGY}", "?").astype(str),
            "run_id": runs["run_id"],
            "front_size": _finite(_column(runs, f"metrics.{METRIC_FRONT_SIZE}", np.nan)),
            "hypervolume": _finite(_column(runs, f"metrics.{METRIC_HYPERVOLUME}", np.nan)),
        }
    )
    return frame[STRATEGY_COLUMNS].reset_index(drop=True)


def scored(trials: pd.DataFrame) -> pd.DataFrame:
    """The trials that have a value to compare (COMPLETE or PRUNED, finite metric)."""
    return trials[trials["state"].isin(SCORED_STATES) & trials["value"].notna()]


def param_specs(trials: pd.DataFrame) -> list[ParamSpec]:
    """The searched knobs (keys of the trials' configs), with a type and range each.

    Booleans and strings are categorical; numbers are ``int`` or ``float`` by their JSON type,
    on a log axis when positive, spanning at least a factor of 20, and sampled as if log-uniform
    (a quarter or more of the values below ``sqrt(low * high)``; values drawn uniformly from
    ``[0, 0.5]``, say, have about 1% there).
    """
    values: dict[str, list[Any]] = {}
    for config in trials["config"]:
        for key, value in config.items():
            values.setdefault(key, []).append(value)
    return [_spec(name, values[name]) for name in sorted(values)]


def param_column(trials: pd.DataFrame, name: str) -> pd.Series:
    """The values of knob ``name`` per trial (None where the trial does not have it)."""
    return trials["config"].map(lambda config: config.get(name))


def _spec(name: str, values: list[Any]) -> ParamSpec:
    present = [v for v in values if v is not None]
    numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    if not present or not numeric:
        choices = tuple(sorted({_choice(v) for v in present}, key=str))
        return ParamSpec(name, "categorical", choices=choices, present=len(present))
    low, high = float(min(present)), float(max(present))
    kind: Literal["float", "int"] = "int" if all(isinstance(v, int) for v in present) else "float"
    log = low > 0 and high / low >= _LOG_RATIO and _mostly_spread_in_log(present, low, high)
    return ParamSpec(name, kind, low=low, high=high, log=log, present=len(present))


def _mostly_spread_in_log(values: list[Any], low: float, high: float) -> bool:
    middle = math.sqrt(low * high)
    return sum(float(v) < middle for v in values) >= _LOG_SHARE * len(values)


def _choice(value: Any) -> Any:
    return value if isinstance(value, (str, bool, int, float)) else json.dumps(value)


def _state(status: Any, tagged: Any, ran: Any, epochs: Any) -> str:
    status = str(status)
    if status in ("FAILED", "KILLED"):
        return status
    if status != "FINISHED":
        return "RUNNING"
    if isinstance(tagged, str) and tagged:
        return tagged.upper()
    planned = _number(epochs)
    if is_finite_number(ran) and planned is not None and ran < planned:
        return "PRUNED"
    return "COMPLETE"


def _config(text: Any) -> dict[str, Any]:
    if isinstance(text, str) and text:
        try:
            config = json.loads(text)
            if isinstance(config, dict):
                return config
        except json.JSONDecodeError:
            pass
    return {}


def _column(frame: pd.DataFrame, name: str, default: Any) -> pd.Series:
    if name and name in frame:
        return frame[name]
    return pd.Series([default] * len(frame), index=frame.index, dtype=object)


def _finite(values: pd.Series) -> pd.Series:
    """Each value as a float when it is a finite number (the schema's rule: booleans are not),
    else NaN."""
    return values.map(lambda v: finite_or_none(_number(v) if isinstance(v, str) else v)).astype(float)


def _seconds(stamp: Any) -> float:
    if stamp is None or pd.isna(stamp):
        return math.nan
    if isinstance(stamp, (int, float, np.integer, np.floating)):
        return float(stamp) / 1000.0  # MLflow's milliseconds
    return pd.Timestamp(stamp).timestamp()


def _number(text: Any) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _last_line(text: str) -> str:
    lines = [line for line in str(text).strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
