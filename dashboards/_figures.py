"""View data -> plotly figures. Thin: every number was computed in :mod:`._views`.

Only SVG traces (scatter, bar): no WebGL, so the pages draw quickly in any browser, headless
ones included. :mod:`._knobs` samples large campaigns to keep the pages quick to open.
"""

from __future__ import annotations

import html
import math
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.colors import qualitative, sample_colorscale
from plotly.subplots import make_subplots

from ._importance import Importance
from ._knobs import Axis, ParallelData, Slice
from ._pareto import ParetoData, Points
from ._views import Curve, LearningCurve, floats

_PALETTE = qualitative.Plotly
_LAYOUT: dict[str, Any] = {
    "template": "plotly_white",
    "margin": {"l": 60, "r": 20, "t": 30, "b": 50},
    "legend": {"orientation": "h", "y": -0.2},
}
_SLICE_COLUMNS = 3


def strategy_colors(strategies: list[str]) -> dict[str, str]:
    """A fixed colour per strategy, the same in every view."""
    return {name: _PALETTE[i % len(_PALETTE)] for i, name in enumerate(strategies)}


def anytime_figure(curves: list[Curve], colors: dict[str, str], metric: str, by: str) -> go.Figure:
    """Best-so-far step lines, one per strategy, with a band for the spread across seeds."""
    figure = go.Figure()
    _curve_traces(figure, curves, colors)
    x_title = (
        "trials ended"
        if by == "trials"
        else "wall-clock seconds since the strategy's first trial started"
    )
    figure.update_layout(
        **_LAYOUT, height=380, xaxis_title=x_title, yaxis_title=f"best {metric} so far"
    )
    if by == "trials":
        _whole_number_ticks(figure, [x for c in curves for x in c.x])
    return figure


def _curve_traces(figure: go.Figure, curves: list[Curve], colors: dict[str, str]) -> None:
    """A step line per curve, and behind it the band of its spread across seeds (if any)."""
    for curve in curves:
        color = colors.get(curve.strategy, "#444")
        if curve.lo is not None and curve.hi is not None:
            figure.add_trace(
                go.Scatter(
                    x=curve.x,
                    y=curve.hi,
                    mode="lines",
                    line={"width": 0, "shape": "hv"},
                    showlegend=False,
                    hoverinfo="skip",
                    legendgroup=curve.strategy,
                )
            )
            figure.add_trace(
                go.Scatter(
                    x=curve.x,
                    y=curve.lo,
                    mode="lines",
                    fill="tonexty",
                    fillcolor=_faint(color),
                    line={"width": 0, "shape": "hv"},
                    legendgroup=curve.strategy,
                    hoverinfo="skip",
                    name=f"{curve.strategy}: lowest-highest of {curve.seeds} seeds",
                )
            )
        label = (
            f"{curve.strategy} (median of {curve.seeds} seeds)"
            if curve.seeds > 1
            else curve.strategy
        )
        figure.add_trace(
            go.Scatter(
                x=curve.x,
                y=curve.y,
                mode="lines+markers",
                name=label,
                line={"shape": "hv", "color": color},
                marker={"size": 4},
                legendgroup=curve.strategy,
            )
        )


def parallel_figure(data: ParallelData, metric: str, mode: str) -> go.Figure:
    """Parallel coordinates of the trials, coloured by the metric (brighter is better).

    Drawn as SVG lines, one trace per colour band, best band on top: plotly's own
    ``Parcoords`` needs WebGL and takes seconds to draw where the GPU is emulated.
    """
    scale = "Viridis_r" if mode == "min" else "Viridis"
    ys = np.array([_unit(axis) for axis in data.axes]).T  # one row per trial
    color = np.asarray(data.color, dtype=float)
    low, high = float(color.min()), float(color.max())
    bands = np.minimum(((color - low) / ((high - low) or 1.0) * _BANDS).astype(int), _BANDS - 1)
    if mode == "min":
        bands = _BANDS - 1 - bands  # band 0 holds the worst trials, drawn first
    figure = go.Figure()
    for band in range(_BANDS):
        rows = ys[bands == band]
        if len(rows):
            x, y = _polylines(rows)
            shade = sample_colorscale(scale, (band + 0.5) / _BANDS)[0]
            figure.add_trace(
                go.Scatter(
                    x=x,
                    y=y,
                    mode="lines",
                    hoverinfo="skip",
                    showlegend=False,
                    line={"color": shade, "width": 1},
                    opacity=0.6,
                )
            )
    figure.add_trace(
        go.Scatter(  # carries the colour bar only
            x=[None],
            y=[None],
            mode="markers",
            hoverinfo="skip",
            showlegend=False,
            marker={
                "colorscale": scale,
                "cmin": low,
                "cmax": high,
                "color": [low],
                "showscale": True,
                "colorbar": {"title": {"text": metric}},
            },
        )
    )
    figure.update_layout(
        template="plotly_white",
        height=480,
        margin={"l": 70, "r": 20, "t": 50, "b": 20},
        xaxis={"visible": False, "range": [-0.6, len(data.axes) - 0.6]},
        yaxis={"visible": False, "range": [-0.03, 1.03]},
        shapes=[
            {
                "type": "line",
                "x0": i,
                "x1": i,
                "y0": 0,
                "y1": 1,
                "line": {"color": "#888", "width": 1},
            }
            for i in range(len(data.axes))
        ],
        annotations=_axis_annotations(data),
    )
    return figure


_BANDS = 12


def _unit(axis: Axis) -> np.ndarray:
    """The axis' values scaled to [0, 1] over its values and ticks."""
    values = np.asarray(axis.values, dtype=float)
    span = np.concatenate([values, np.asarray(axis.tick_values, dtype=float)])
    low, high = float(span.min()), float(span.max())
    return (values - low) / (high - low) if high > low else np.full(len(values), 0.5)


def _polylines(rows: np.ndarray) -> tuple[list[float | None], list[float | None]]:
    """Many lines as one trace: points separated by None."""
    count, width = rows.shape
    x = np.tile(np.append(np.arange(width, dtype=float), np.nan), count)
    y = np.hstack([rows, np.full((count, 1), np.nan)]).ravel()
    return [None if np.isnan(v) else float(v) for v in x], [
        None if np.isnan(v) else float(v) for v in y
    ]


def _axis_annotations(data: ParallelData) -> list[dict[str, Any]]:
    notes: list[dict[str, Any]] = []
    for i, axis in enumerate(data.axes):
        notes.append(
            {
                "x": i,
                "y": 1.0,
                "yshift": 14,
                "text": f"<b>{_escape(axis.label)}</b>",
                "showarrow": False,
                "yanchor": "bottom",
            }
        )
        values = np.asarray(axis.values, dtype=float)
        span = np.concatenate([values, np.asarray(axis.tick_values, dtype=float)])
        low, high = float(span.min()), float(span.max())
        for tick, text in zip(axis.tick_values, axis.ticks):
            y = (tick - low) / (high - low) if high > low else 0.5
            notes.append(
                {
                    "x": i,
                    "y": y,
                    "text": _escape(text),
                    "showarrow": False,
                    "xanchor": "right",
                    "xshift": -3,
                    "font": {"size": 10, "color": "#555"},
                }
            )
    return notes


def _escape(text: str) -> str:
    """Plotly renders a subset of HTML in annotations: knob values are text."""
    return html.escape(str(text))


def importance_figure(result: Importance) -> go.Figure:
    """Horizontal bars, most important knob on top."""
    names = list(result.values)[::-1]
    figure = go.Figure(
        go.Bar(
            x=[result.values[n] for n in names],
            y=names,
            orientation="h",
            marker={"color": _PALETTE[0]},
        )
    )
    figure.update_layout(
        **_LAYOUT,
        height=max(220, 40 * len(names) + 80),
        xaxis_title="fANOVA importance (share of the metric's variance)",
    )
    return figure


def slices_figure(parts: list[Slice], colors: dict[str, str], metric: str) -> go.Figure:
    """One panel per knob: the metric against the knob's value, points coloured by strategy."""
    rows = max(1, math.ceil(len(parts) / _SLICE_COLUMNS))
    height = 260 * rows + 120
    figure = make_subplots(
        rows=rows,
        cols=_SLICE_COLUMNS,
        subplot_titles=[p.param.name for p in parts],
        horizontal_spacing=0.06,
        vertical_spacing=min(0.3, 90 / height),
    )
    for i, part in enumerate(parts):
        row, col = i // _SLICE_COLUMNS + 1, i % _SLICE_COLUMNS + 1
        for strategy, (xs, ys) in part.points.items():
            figure.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="markers",
                    name=strategy,
                    legendgroup=strategy,
                    showlegend=i == 0,
                    marker={"color": colors.get(strategy), "size": 6, "opacity": 0.7},
                ),
                row=row,
                col=col,
            )
        if part.param.kind == "categorical":
            figure.update_xaxes(type="category", row=row, col=col)
        elif part.param.log:
            figure.update_xaxes(type="log", row=row, col=col)
        if col == 1:
            figure.update_yaxes(title_text=metric, row=row, col=col)
    figure.update_layout(
        **{
            **_LAYOUT,
            "margin": {**_LAYOUT["margin"], "t": 60},
            "legend": {"orientation": "v", "x": 1.01, "y": 1},
        },
        height=height,
    )
    return figure


def learning_curves_figure(
    curves: list[LearningCurve], colors: dict[str, str], metric: str
) -> go.Figure:
    """The metric per epoch of the top trials, coloured by strategy."""
    figure = go.Figure()
    for curve in curves:
        figure.add_trace(
            go.Scatter(
                x=curve.epochs,
                y=curve.values,
                mode="lines+markers",
                name=curve.label,
                line={"color": colors.get(curve.strategy)},
                legendgroup=curve.strategy,
            )
        )
    figure.update_layout(**_LAYOUT, height=400, xaxis_title="epoch", yaxis_title=metric)
    _whole_number_ticks(figure, [x for c in curves for x in c.epochs])
    return figure


# --- several objectives -----------------------------------------------------------------------
def pareto_figure(data: ParetoData, colors: dict[str, str]) -> go.Figure:
    """Two objectives: every trial (the second objective across, the first up; hollow where it
    breaks a hard limit), each strategy's own front as a step line, the campaign's front ringed."""
    first, second = list(data.objectives)
    figure = go.Figure()
    for points in data.points:
        _trial_markers(figure, points, 1, 0, colors, legend=True)
    for step in data.fronts:
        figure.add_trace(
            go.Scatter(
                x=step.x,
                y=step.y,
                mode="lines",
                name=f"{step.strategy}: its front ({len(step.x)})",
                legendgroup=step.strategy,
                line={"shape": step.shape, "color": colors.get(step.strategy), "width": 2},
                hoverinfo="skip",
            )
        )
    figure.add_trace(_campaign_ring(data, 1, 0, legend=True))
    figure.update_layout(
        **_LAYOUT,
        height=480,
        xaxis_title=_objective_title(second, data.objectives[second]),
        yaxis_title=_objective_title(first, data.objectives[first]),
    )
    return figure


def pareto_matrix_figure(data: ParetoData, colors: dict[str, str]) -> go.Figure:
    """Three or more objectives: a panel per pair of objectives (each objective against every
    earlier one), the trials coloured by strategy, hollow where they break a hard limit, the
    campaign's front ringed. SVG panels rather than plotly's ``Splom`` (WebGL)."""
    names = list(data.objectives)
    size = len(names) - 1
    height = 280 * size + 140
    figure = make_subplots(
        rows=size,
        cols=size,
        specs=[[{} if col <= row else None for col in range(size)] for row in range(size)],
        horizontal_spacing=0.08,
        vertical_spacing=min(0.12, 80 / height),
    )
    for row in range(size):
        for col in range(row + 1):
            x, y, first = col, row + 1, row == col == 0
            for points in data.points:
                _trial_markers(figure, points, x, y, colors, legend=first, row=row + 1, col=col + 1)
            figure.add_trace(_campaign_ring(data, x, y, legend=first), row=row + 1, col=col + 1)
            if row == size - 1:
                title = _objective_title(names[x], data.objectives[names[x]])
                figure.update_xaxes(title_text=title, row=row + 1, col=col + 1)
            if col == 0:
                title = _objective_title(names[y], data.objectives[names[y]])
                figure.update_yaxes(title_text=title, row=row + 1, col=col + 1)
    figure.update_layout(
        **{**_LAYOUT, "legend": {"orientation": "v", "x": 1.01, "y": 1}}, height=height
    )
    return figure


def hypervolume_figure(curves: list[Curve], colors: dict[str, str]) -> go.Figure:
    """Each strategy's hypervolume after each of its trials, with a band across seeds."""
    figure = go.Figure()
    _curve_traces(figure, curves, colors)
    figure.update_layout(
        **_LAYOUT,
        height=380,
        xaxis_title="trials ended",
        yaxis_title="hypervolume of its front",
    )
    _whole_number_ticks(figure, [x for c in curves for x in c.x])
    return figure


def _trial_markers(
    figure: go.Figure,
    points: Points,
    x: int,
    y: int,
    colors: dict[str, str],
    *,
    legend: bool,
    **where: int,
) -> None:
    """A strategy's trials in the plane of objectives ``x`` and ``y`` (indices): filled where
    they keep every hard limit, hollow and faint where they break one."""
    feasible = np.asarray(points.feasible, dtype=bool)
    xs, ys = np.asarray(points.values[x]), np.asarray(points.values[y])
    labels = np.asarray(points.labels, dtype=object)
    color = colors.get(points.strategy)
    for keep, suffix, marker in (
        (feasible, "", {"symbol": "circle", "size": 7, "opacity": 0.75}),
        (~feasible, ": breaks a limit", {"symbol": "circle-open", "size": 7, "opacity": 0.45}),
    ):
        if suffix and not keep.any():
            continue
        figure.add_trace(
            go.Scatter(
                x=floats(xs[keep]),
                y=floats(ys[keep]),
                text=labels[keep].tolist(),
                mode="markers",
                name=points.strategy + suffix,
                legendgroup=points.strategy,
                showlegend=legend,
                marker={**marker, "color": color},
                hovertemplate="%{text}<br>%{x:.4g}, %{y:.4g}<extra></extra>",
            ),
            **where,
        )


def _campaign_ring(data: ParetoData, x: int, y: int, *, legend: bool) -> go.Scatter:
    """The campaign's front: open diamonds around its trials."""
    front = data.campaign
    size = len(front.labels)
    return go.Scatter(
        x=front.values[x],
        y=front.values[y],
        text=front.labels,
        mode="markers",
        name=f"the campaign's Pareto front ({size} trial{'s' if size != 1 else ''})",
        legendgroup="campaign-front",
        showlegend=legend,
        marker={"symbol": "diamond-open", "size": 14, "color": "#222", "line": {"width": 1.5}},
        hovertemplate="%{text} (campaign front)<extra></extra>",
    )


def _objective_title(name: str, direction: str) -> str:
    return f"{name} ({'higher' if direction == 'max' else 'lower'} is better)"


def _whole_number_ticks(figure: go.Figure, xs: list[float]) -> None:
    """Counts (trials, epochs) get a tick per whole number while there are few of them."""
    if xs and max(xs) <= 20:
        figure.update_xaxes(dtick=1)


def _faint(color: str) -> str:
    color = color.lstrip("#")
    r, g, b = (int(color[i : i + 2], 16) for i in (0, 2, 4))
    return f"rgba({r},{g},{b},0.18)"
