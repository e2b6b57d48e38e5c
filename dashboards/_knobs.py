"""The metric against the knobs: data for parallel coordinates and slices. Pure functions.

Large campaigns are sampled (the best tenth of the limit, then a seeded random sample) and the
note that comes back says so; the page shows it under the plot.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ._rows import ParamSpec, param_column, scored
from ._views import Mode, floats, strategy_order

UNSET = "(unset)"


@dataclass(frozen=True)
class Axis:
    """One axis of the parallel-coordinates plot; categorical values are indices into ``ticks``."""

    label: str
    values: list[float]
    ticks: list[str] = field(default_factory=list)
    tick_values: list[float] = field(default_factory=list)


@dataclass(frozen=True)
class ParallelData:
    axes: list[Axis]
    color: list[float]
    shown: int
    total: int
    note: str = ""


def parallel(
    trials: pd.DataFrame,
    specs: list[ParamSpec],
    metric: str,
    mode: Mode,
    max_lines: int = 1000,
    seed: int = 0,
) -> ParallelData:
    """Every scored trial as a line through the strategy, each knob and the metric; above
    ``max_lines`` trials, the best tenth of ``max_lines`` plus a seeded random sample of the
    rest, and ``note`` says so. Log-scale knobs are placed by log10; a conditional knob's
    missing values sit on an ``(unset)`` tick. Every axis carries its ticks."""
    done = scored(trials)
    total = len(done)
    shown, note = sample_trials(done, mode, max_lines, seed)
    axes = trial_axes(shown, specs, {metric: shown["value"]})
    return ParallelData(axes, floats(shown["value"].to_numpy(dtype=float)), len(shown), total, note)


def trial_axes(
    shown: pd.DataFrame, specs: list[ParamSpec], numbers: dict[str, pd.Series]
) -> list[Axis]:
    """The axes of ``shown`` trials: their strategy, each knob that varies, then one numeric
    axis per entry of ``numbers`` (label -> a value per trial: the metric, the objectives)."""
    axes = [_categorical_axis("strategy", shown["strategy"].tolist())]
    for spec in specs:
        if spec.constant:
            continue
        column = param_column(shown, spec.name)
        if spec.kind == "categorical" or column.isna().all():
            axes.append(_categorical_axis(spec.name, [_text(v) for v in column]))
        else:
            axes.append(_numeric_axis(spec, column))
    axes.extend(_numeric_axis(ParamSpec(label, "float"), v) for label, v in numbers.items())
    return axes


def sample_trials(
    done: pd.DataFrame, mode: Mode, limit: int, seed: int = 0
) -> tuple[pd.DataFrame, str]:
    """At most ``limit`` trials: all when they fit, else the best ``limit // 10`` and a seeded
    random sample of the others; the note says what was left out."""
    if len(done) <= limit:
        return done, ""
    top_n = limit // 10
    ordered = done.sort_values("value", ascending=mode == "min")
    top, rest = ordered.iloc[:top_n], ordered.iloc[top_n:]
    picked = rest.sample(n=limit - top_n, random_state=seed)
    note = (
        f"Showing {limit:,} of {len(done):,} scored trials: the best {top_n:,} and a random "
        f"{limit - top_n:,} of the others (seed {seed})."
    )
    return pd.concat([top, picked]), note


def _categorical_axis(label: str, values: list[Any]) -> Axis:
    ticks = sorted({_text(v) for v in values}, key=lambda t: (t == UNSET, t))
    index = {t: float(i) for i, t in enumerate(ticks)}
    return Axis(label, [index[_text(v)] for v in values], ticks, list(index.values()))


def _numeric_axis(spec: ParamSpec, column: pd.Series) -> Axis:
    """Five ticks over the knob's range (drawn in log10 for a log knob, labelled in its own
    units), and an ``(unset)`` tick below the range when some trials lack the knob."""
    values = pd.to_numeric(column, errors="coerce").to_numpy(dtype=float)
    if spec.log:
        values = np.log10(values)
    missing = np.isnan(values)
    low, high = float(np.nanmin(values)), float(np.nanmax(values))
    ticks = list(np.linspace(low, high, 5)) if high > low else [low]
    if spec.kind == "int" and not spec.log:
        ticks = sorted({round(t) for t in ticks})  # whole numbers only, each once
    labels = [_tick_label(10**t if spec.log else t, spec.kind) for t in ticks]
    label = f"{spec.name} (log)" if spec.log else spec.name
    if missing.any():
        sentinel = low - 0.15 * ((high - low) or 1.0)
        values = np.where(missing, sentinel, values)
        ticks, labels = [sentinel, *ticks], [UNSET, *labels]
    return Axis(label, floats(values), labels, floats(ticks))


def _tick_label(value: float, kind: str) -> str:
    return f"{value:.0f}" if kind == "int" and abs(value) >= 1 else f"{value:.3g}"


# --- slices ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Slice:
    """The metric against one knob: per strategy, the knob's values and the trials' metric."""

    param: ParamSpec
    points: dict[str, tuple[list[Any], list[float]]]


def slices(
    trials: pd.DataFrame,
    specs: list[ParamSpec],
    mode: Mode,
    strategies: list[str] | None = None,
    max_points: int = 200,
    seed: int = 0,
) -> tuple[list[Slice], str]:
    """One slice per non-constant knob; at most ``max_points`` trials per strategy (the best
    tenth and a seeded sample of the rest); the note says when trials were left out."""
    done = scored(trials)
    parts, notes = {}, []
    for name in strategy_order(done, strategies):
        own = done[done["strategy"] == name]
        parts[name], note = sample_trials(own, mode, max_points, seed)
        if note:
            notes.append(f"{name}: {note[0].lower()}{note[1:]}")
    out = []
    for spec in specs:
        if spec.constant:
            continue
        points = {}
        for name, own in parts.items():
            column = param_column(own, spec.name)
            has = column.notna()
            xs = [_text(v) if spec.kind == "categorical" else v for v in column[has]]
            points[name] = (xs, floats(own.loc[has, "value"].to_numpy(dtype=float)))
        out.append(Slice(spec, points))
    return out, " ".join(notes)


def _text(value: Any) -> str:
    return UNSET if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
