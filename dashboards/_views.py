"""Tidy trials -> the data each view needs. Pure functions: no MLflow, no plotting.

Every function takes the frame of :func:`._rows.trials_frame` (or a hand-made one with the
columns it uses) and returns plain data; :mod:`._figures` draws it.
"""

from __future__ import annotations

import warnings
from collections import Counter
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import yaml

from ._rows import scored

Mode = Literal["max", "min"]
WITHIN = 0.01  # "trials to within 1% of the campaign's best"


# --- summary table ------------------------------------------------------------------------
def summary(trials: pd.DataFrame, mode: Mode, strategies: list[str] | None = None) -> pd.DataFrame:
    """One row per strategy: trial counts by state, the best value and the test value of its
    trial, wall time (first start to last end), epochs trained (all its trials, so strategies
    with and without early stopping compare fairly), compute time (sum of durations), mean time per
    trial, and how many trials (in order of finishing) it took to come within 1% of the best
    value any strategy reached."""
    names = strategy_order(trials, strategies)
    target = best_value(trials, mode)
    rows = []
    for name in names:
        own = trials[trials["strategy"] == name]
        best = best_row(own, mode)
        counts = Counter(own["state"])
        ended = own["ended_s"].dropna()
        rows.append(
            {
                "strategy": name,
                "trials": len(own),
                "finished": counts["COMPLETE"],
                "pruned": counts["PRUNED"],
                "failed": counts["FAILED"],
                "killed": counts["KILLED"],
                "running": counts["RUNNING"],
                "best_value": best["value"] if best is not None else np.nan,
                "test_value": best["test_value"] if best is not None else np.nan,
                "best_trial": best["trial_id"] if best is not None else np.nan,
                "wall_time_s": (ended.max() - own["started_s"].min()) if len(ended) else np.nan,
                "epochs": own["epochs"].sum(min_count=1),
                "compute_s": own["duration_s"].sum(min_count=1),
                "per_trial_s": own.loc[own["ended_s"].notna(), "duration_s"].mean(),
                "trials_to_within_1pct": trials_to_reach(own, target, mode),
            }
        )
    return pd.DataFrame(rows, columns=_SUMMARY_COLUMNS)


_SUMMARY_COLUMNS = [
    "strategy",
    "trials",
    "finished",
    "pruned",
    "failed",
    "killed",
    "running",
    "best_value",
    "test_value",
    "best_trial",
    "wall_time_s",
    "epochs",
    "compute_s",
    "per_trial_s",
    "trials_to_within_1pct",
]


def best_value(trials: pd.DataFrame, mode: Mode) -> float:
    """The best scored value among ``trials`` (NaN when none)."""
    values = scored(trials)["value"]
    if values.empty:
        return np.nan
    return float(values.max() if mode == "max" else values.min())


def best_row(trials: pd.DataFrame, mode: Mode) -> pd.Series | None:
    """The best scored trial (the earliest trial id among ties), or None."""
    done = scored(trials)
    if done.empty:
        return None
    ordered = done.sort_values(["value", "trial_id"], ascending=[mode == "min", True])
    return ordered.iloc[0]


def trials_to_reach(
    trials: pd.DataFrame, target: float, mode: Mode, within: float = WITHIN
) -> float:
    """How many trials, counted in the order they ended, until one came within ``within``
    (relative) of ``target``; NaN when none did."""
    if np.isnan(target):
        return np.nan
    slack = abs(target) * within
    ended = trials[trials["ended_s"].notna()].sort_values(["ended_s", "trial_id"])
    values = ended["value"].to_numpy(dtype=float)
    hit = values >= target - slack if mode == "max" else values <= target + slack
    hit &= ~np.isnan(values)
    return float(np.argmax(hit) + 1) if hit.any() else np.nan


# --- anytime curves -----------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One strategy's best-so-far line; ``lo``/``hi`` are the spread across seeds (or None)."""

    strategy: str
    x: list[float]
    y: list[float]
    lo: list[float] | None = None
    hi: list[float] | None = None
    seeds: int = 1


def anytime(
    trials: pd.DataFrame,
    mode: Mode,
    by: Literal["trials", "seconds"],
    strategies: list[str] | None = None,
) -> list[Curve]:
    """Best value so far against the number of trials ended, or against wall-clock seconds since
    the strategy's first trial started. With several seeds (repeats of the campaign), the line
    is the median across seeds and ``lo``/``hi`` the lowest and highest."""
    curves = []
    for name in strategy_order(trials, strategies):
        own = trials[(trials["strategy"] == name) & trials["ended_s"].notna()]
        runs = [_best_so_far(group, mode, by) for _, group in own.groupby("seed", sort=True)]
        curve = seed_curve(name, runs)
        if curve is not None:
            curves.append(curve)
    return curves


def seed_curve(strategy: str, runs: list[tuple[np.ndarray, np.ndarray]]) -> Curve | None:
    """One strategy's step line from its runs with different seeds (``(x, y)`` each, x
    ascending): the run itself when there is one, else the median and the lowest and highest
    across the runs at every x any of them has. None when no run has a point."""
    runs = [(x, y) for x, y in runs if len(x)]
    if not runs:
        return None
    if len(runs) == 1:
        x, y = _compress(runs[0][0], [runs[0][1]])
        return Curve(strategy, x, y[0])
    grid = np.unique(np.concatenate([x for x, _ in runs]))
    stacked = np.vstack([_step_at(grid, x, y) for x, y in runs])
    with warnings.catch_warnings():  # all-NaN columns: no seed has a value there yet
        warnings.simplefilter("ignore", RuntimeWarning)
        mid, lo, hi = (np.nanmedian(stacked, 0), np.nanmin(stacked, 0), np.nanmax(stacked, 0))
    x, (mid_l, lo_l, hi_l) = _compress(grid, [mid, lo, hi])
    return Curve(strategy, x, mid_l, lo_l, hi_l, seeds=len(runs))


def _best_so_far(group: pd.DataFrame, mode: Mode, by: str) -> tuple[np.ndarray, np.ndarray]:
    ordered = group.sort_values(["ended_s", "trial_id"])
    values = ordered["value"].to_numpy(dtype=float)
    filled = np.where(np.isnan(values), -np.inf if mode == "max" else np.inf, values)
    best = np.maximum.accumulate(filled) if mode == "max" else np.minimum.accumulate(filled)
    best = np.where(np.isinf(best), np.nan, best)
    if by == "trials":
        x = np.arange(1, len(best) + 1, dtype=float)
    else:
        x = ordered["ended_s"].to_numpy(dtype=float) - group["started_s"].min()
    return x, best


def _step_at(grid: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The step function (x, y) read at ``grid``: the last y at or before each point."""
    index = np.searchsorted(x, grid, side="right") - 1
    return np.where(index >= 0, y[np.clip(index, 0, None)], np.nan)


def _compress(x: np.ndarray, ys: list[np.ndarray]) -> tuple[list[float], list[list[float]]]:
    """Keeps the points where any line changes, and the last one: a step plot looks the same."""
    x = np.asarray(x, dtype=float)
    if len(x) == 0:
        return [], [[] for _ in ys]
    keep = np.zeros(len(x), dtype=bool)
    keep[0] = keep[-1] = True
    for y in ys:
        same = (y[1:] == y[:-1]) | (np.isnan(y[1:]) & np.isnan(y[:-1]))
        keep[1:] |= ~same
    return floats(x[keep]), [floats(np.asarray(y)[keep]) for y in ys]


# --- learning curves and best configs -----------------------------------------------------
def top_trials(trials: pd.DataFrame, mode: Mode, per_strategy: int = 3) -> pd.DataFrame:
    """The best ``per_strategy`` scored trials of each strategy, best first."""
    done = scored(trials).sort_values(["value", "trial_id"], ascending=[mode == "min", True])
    return done.groupby("strategy", sort=False).head(per_strategy)


@dataclass(frozen=True)
class LearningCurve:
    label: str
    strategy: str
    epochs: list[float]
    values: list[float]


def learning_curves(top: pd.DataFrame, histories: pd.DataFrame) -> list[LearningCurve]:
    """The per-epoch metric of each trial in ``top``; ``histories`` has the columns ``run_id``,
    ``step`` and ``value``."""
    out = []
    for _, trial in top.iterrows():
        points = histories[histories["run_id"] == trial["run_id"]].sort_values("step")
        points = points.drop_duplicates("step", keep="last")
        if points.empty:
            continue
        label = f"{trial['strategy']} #{int(trial['trial_id'])} ({trial['value']:.4g})"
        out.append(
            LearningCurve(
                label,
                str(trial["strategy"]),
                floats(points["step"].to_numpy()),
                floats(points["value"].to_numpy(dtype=float)),
            )
        )
    return out


@dataclass(frozen=True)
class BestConfig:
    strategy: str
    trial_id: int | None
    value: float | None
    yaml: str


def best_configs(
    trials: pd.DataFrame, mode: Mode, strategies: list[str] | None = None
) -> list[BestConfig]:
    """Each strategy's best searched config as YAML (sorted keys), ready to paste."""
    out = []
    for name in strategy_order(trials, strategies):
        best = best_row(trials[trials["strategy"] == name], mode)
        if best is None:
            out.append(BestConfig(name, None, None, "# no finished trial\n"))
            continue
        config = {k: _plain(v) for k, v in best["config"].items()}
        out.append(
            BestConfig(
                name,
                int(best["trial_id"]),
                float(best["value"]),
                yaml.safe_dump(config, sort_keys=True),
            )
        )
    return out


def failures(trials: pd.DataFrame, limit: int = 5) -> list[tuple[str, int]]:
    """The most common error lines of failed trials, with their counts."""
    failed = trials[trials["state"] == "FAILED"]["error"].replace("", "(no error message)")
    return Counter(failed).most_common(limit)


# --- helpers --------------------------------------------------------------------------------
def strategy_order(trials: pd.DataFrame, strategies: list[str] | None) -> list[str]:
    """The campaign's strategies in its own order, then any others the trials name."""
    seen = list(dict.fromkeys(trials["strategy"].tolist()))
    named = list(strategies or [])
    return named + [s for s in seen if s not in named]


def floats(values: Any) -> list[float]:
    """Plain floats (JSON-ready), NaN kept."""
    return [float(v) for v in np.asarray(values, dtype=float)]


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
