"""Several objectives: Pareto fronts and hypervolume curves. Pure functions: no MLflow, no plotting.

Every function takes the trials frame with the columns :func:`._rows.with_objectives` adds (one
per objective, ``feasible``, ``pareto``), or a hand-made one with the columns it uses.

A trial may stand on a front when it is COMPLETE, keeps every hard limit and has a finite value
for every objective: the campaign's own rule (a pruned trial's values are partial). Among those,
``moocore.is_nondominated`` finds the ones no other trial beats in every objective; equal trials
are all on the front, as in the campaign. The campaign's front is the one it marked on its trial
runs (``sweepforge.pareto``) once it ended, and computed the same way while it runs.

Example:
    >>> trials = pd.DataFrame({"strategy": ["a"] * 3, "state": ["COMPLETE"] * 3,
    ...                        "feasible": [True] * 3, "objective:acc": [0.9, 0.8, 0.7],
    ...                        "objective:size": [50.0, 10.0, 60.0]})
    >>> on_strategy_front(trials, {"acc": "max", "size": "min"}).tolist()
    [True, True, False]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import moocore
import numpy as np
import pandas as pd

from ._knobs import ParallelData, trial_axes
from ._rows import ParamSpec, objective_column, scored
from ._views import Curve, Mode, floats, seed_curve, strategy_order

Objectives = dict[str, Mode]  # each objective and its direction, in the campaign file's order


# --- fronts -----------------------------------------------------------------------------------
def nondominated(points: np.ndarray, directions: list[Mode]) -> np.ndarray:
    """Which rows of ``points`` (trials x objectives) no other row beats: at least as good in
    every objective and better in one. Rows with a non-finite value are never on the front;
    equal rows are all on it."""
    points = np.asarray(points, dtype=float).reshape(-1, len(directions))
    finite = np.isfinite(points).all(axis=1)
    mask = np.zeros(len(points), dtype=bool)
    if finite.any():
        maximise = [way == "max" for way in directions]
        mask[finite] = moocore.is_nondominated(
            points[finite], maximise=maximise, keep_weakly=True
        )
    return mask


def eligible(trials: pd.DataFrame, objectives: Objectives) -> pd.Series:
    """The trials that may stand on a front: COMPLETE, every hard limit kept, every objective
    finite."""
    finite = trials[_columns(objectives)].notna().all(axis=1)
    return (trials["state"] == "COMPLETE") & trials["feasible"].astype(bool) & finite


def on_strategy_front(trials: pd.DataFrame, objectives: Objectives) -> pd.Series:
    """Whether each trial is on its own strategy's front (per campaign run, when the frame has
    several)."""
    keys = [c for c in ("campaign_id", "strategy") if c in trials]
    mask = pd.Series(False, index=trials.index)
    for _, group in trials[eligible(trials, objectives)].groupby(keys, sort=False):
        points = group[_columns(objectives)].to_numpy(dtype=float)
        mask.loc[group.index] = nondominated(points, list(objectives.values()))
    return mask


def on_campaign_front(trials: pd.DataFrame, objectives: Objectives) -> tuple[pd.Series, bool]:
    """Whether each trial (of one campaign run) is on the campaign's front, and whether that is
    the front the campaign marked (once it ended, every trial that may stand on a front has the
    tag) rather than one computed here (while it runs, or resumes after an earlier session)."""
    tags = trials["pareto"] if "pareto" in trials else pd.Series(None, index=trials.index)
    can = eligible(trials, objectives)
    if tags.notna().any() and tags[can].notna().all():
        return tags.map(lambda flag: flag is True), True
    mask = pd.Series(False, index=trials.index)
    chosen = trials[can]
    points = chosen[_columns(objectives)].to_numpy(dtype=float)
    mask.loc[chosen.index] = nondominated(points, list(objectives.values()))
    return mask, False


# --- the Pareto view --------------------------------------------------------------------------
@dataclass(frozen=True)
class Points:
    """Trials in objective space: ``values`` holds one list per objective (the file's order)."""

    strategy: str
    values: list[list[float]]
    feasible: list[bool]
    labels: list[str]


@dataclass(frozen=True)
class Staircase:
    """A strategy's front with two objectives, x the second objective and y the first, x
    ascending; ``shape`` is plotly's step shape that bounds what the front dominates."""

    strategy: str
    x: list[float]
    y: list[float]
    shape: Literal["hv", "vh"]


@dataclass(frozen=True)
class ParetoData:
    objectives: Objectives
    points: list[Points]  # per strategy, the trials with every objective
    fronts: list[Staircase]  # two objectives: each strategy's own front
    campaign: Points  # the campaign's front
    marked: bool  # the campaign's front is the one it marked when it ended
    shown: int
    total: int
    note: str = ""


def pareto(
    trials: pd.DataFrame,
    objectives: Objectives,
    strategies: list[str] | None = None,
    max_points: int = 200,
    seed: int = 0,
) -> ParetoData:
    """The scored trials with a value for every objective, by strategy (at most ``max_points``
    each: every trial on a front, then a seeded sample of the others), each strategy's own front
    as a staircase (two objectives) and the campaign's front."""
    columns = _columns(objectives)
    done = scored(trials)
    done = done[done[columns].notna().all(axis=1)]
    own_front = on_strategy_front(done, objectives)
    campaign_mask, marked = on_campaign_front(done, objectives)
    points, fronts, notes, shown = [], [], [], 0
    for name in strategy_order(done, strategies):
        own = done[done["strategy"] == name]
        kept = _sample(own, own_front | campaign_mask, max_points, seed)
        if len(kept) < len(own):
            notes.append(f"{name}: {len(kept):,} of {len(own):,}")
        shown += len(kept)
        points.append(_points(name, kept, columns))
        if len(objectives) == 2:
            fronts.append(staircase(own[own_front[own.index]], objectives, name))
    note = ""
    if notes:
        note = (
            f"Trials shown (every one on a front, then a random sample of the others, seed "
            f"{seed}): {'; '.join(notes)}."
        )
    campaign = _points("campaign", done[campaign_mask], columns)
    return ParetoData(objectives, points, fronts, campaign, marked, shown, len(done), note)


def staircase(front: pd.DataFrame, objectives: Objectives, strategy: str) -> Staircase:
    """A two-objective front as a step line: x is the second objective, y the first, sorted by
    x. When x is minimised, a point's y holds until the next point's x (``hv``); when x is
    maximised, the next point's y holds back to this point's x (``vh``)."""
    first, second = list(objectives)
    ordered = front.sort_values([objective_column(second), objective_column(first)])
    shape: Literal["hv", "vh"] = "hv" if objectives[second] == "min" else "vh"
    return Staircase(
        strategy,
        floats(ordered[objective_column(second)]),
        floats(ordered[objective_column(first)]),
        shape,
    )


def front_parallel(
    trials: pd.DataFrame, objectives: Objectives, specs: list[ParamSpec]
) -> ParallelData:
    """The campaign's front as parallel coordinates: strategy, the knobs that vary, then every
    objective; coloured by the first objective."""
    done = scored(trials)
    mask, _ = on_campaign_front(done, objectives)
    front = done[mask]
    first = next(iter(objectives))
    numbers = {name: front[objective_column(name)] for name in objectives}
    color = floats(front[objective_column(first)])
    return ParallelData(trial_axes(front, specs, numbers), color, len(front), len(front))


def _sample(own: pd.DataFrame, keep: pd.Series, limit: int, seed: int) -> pd.DataFrame:
    """Every trial of ``own`` where ``keep`` holds, then a seeded sample of the others up to
    ``limit`` trials in all; in trial order."""
    kept = own[keep[own.index]]
    rest = own[~keep[own.index]]
    room = max(0, limit - len(kept))
    if len(rest) > room:
        rest = rest.sample(n=room, random_state=seed)
    return pd.concat([kept, rest]).sort_index()


def _points(strategy: str, trials: pd.DataFrame, columns: list[str]) -> Points:
    labels = [
        f"{s} #{int(t)}" if pd.notna(t) else str(s)
        for s, t in zip(trials["strategy"], trials["trial_id"])
    ]
    return Points(
        strategy,
        [floats(trials[c]) for c in columns],
        [bool(f) for f in trials["feasible"]],
        labels,
    )


def _columns(objectives: Objectives) -> list[str]:
    return [objective_column(name) for name in objectives]


def feasible_values(trials: pd.DataFrame) -> pd.DataFrame:
    """``trials`` with ``value`` and ``test_value`` blanked where a trial breaks a hard limit:
    what the best-value views rank (such a trial is never a campaign's best)."""
    out = trials.copy()
    for column in ("value", "test_value"):
        out[column] = out[column].where(out["feasible"].astype(bool))
    return out


# --- hypervolume ------------------------------------------------------------------------------
def hypervolume_curves(
    histories: pd.DataFrame, strategy_runs: pd.DataFrame, strategies: list[str] | None = None
) -> list[Curve]:
    """Each strategy's hypervolume against the trials it ended, from its strategy runs'
    ``hypervolume`` histories (``histories``: ``run_id``, ``step``, ``value``; ``strategy_runs``:
    the frame of :func:`._rows.strategy_frame`). With several seeds, the median and the lowest
    and highest across them, as for the best-so-far curves."""
    curves = []
    for name in strategy_order(strategy_runs, strategies):
        runs = []
        for run_id in strategy_runs.loc[strategy_runs["strategy"] == name, "run_id"]:
            points = histories[histories["run_id"] == run_id].sort_values("step", kind="stable")
            points = points.drop_duplicates("step", keep="last")  # a resumed campaign's own
            runs.append(
                (points["step"].to_numpy(dtype=float), points["value"].to_numpy(dtype=float))
            )
        curve = seed_curve(name, runs)
        if curve is not None:
            curves.append(curve)
    return curves


def with_fronts(table: pd.DataFrame, strategy_runs: pd.DataFrame) -> pd.DataFrame:
    """The summary ``table`` with each strategy's ``front_size`` and ``hypervolume`` from its
    strategy run (``strategy_runs``: one campaign run's, :func:`._rows.strategy_frame`)."""
    runs = strategy_runs.drop_duplicates("strategy", keep="last").set_index("strategy")
    out = table.copy()
    for column in ("front_size", "hypervolume"):
        out[column] = out["strategy"].map(runs[column]).astype(float)
    return out
