"""The live display: one row per strategy (done / running / failed, best so far, time; with
several objectives, the size of its Pareto front so far)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Console
from rich.live import Live
from rich.table import Table

from ..schema import TrialStateName
from ..strategies.objectives import Objectives
from ..strategies.pareto import pareto_mask
from .fronts import objective_points
from .trial_logger import TrialRecord


@dataclass
class _Row:
    budget: int
    done: int = 0
    running: int = 0
    failed: int = 0
    best: float | None = None
    started: float | None = None
    ended: float | None = None
    ended_trials: list[TrialRecord] = field(default_factory=list)  # several objectives only
    front: int = 0

    @property
    def status(self) -> str:
        if self.ended is not None:
            return "done"
        return "running" if self.started is not None else "waiting"

    @property
    def elapsed(self) -> float:
        if self.started is None:
            return 0.0
        return (self.ended or time.monotonic()) - self.started


TRAINED_ON_VAL = "†"
"""Marks the final refit's validation value when the refit trained on the validation split
(``final: {refit: train+val}``): that value is not held out, so it is no match for the
strategies' values beside it. The tables say so in their caption."""
TRAINED_ON_VAL_NOTE = (f"{TRAINED_ON_VAL} refit on train+val: its validation value comes from "
                       "data it trained on; its test value is held out")


class CampaignProgress:
    """Keeps per-strategy counts and, when enabled, draws them live with rich.

    Example:
        >>> progress = CampaignProgress(["random"], budget=4, metric="val_accuracy", mode="max",
        ...                             enabled=False)
        >>> progress.on_event("random", None)  # a trial started
        >>> progress.rows["random"].running
        1
    """

    def __init__(
        self, strategies: list[str], *, budget: int, metric: str, mode: str, enabled: bool = True,
        console: Console | None = None, refit: str | None = None,
        refit_on_val: bool = False, objectives: Objectives | None = None,
    ):
        self.rows = {name: _Row(budget) for name in strategies}
        if refit is not None:  # the campaign's final refit: a row of its one trial
            self.rows[refit] = _Row(1)
        self.trained_on_val = refit if refit_on_val else None  # its value is not held out
        self.metric = metric
        self.mode = mode
        self.objectives = objectives if objectives is not None and objectives.multi else None
        self.console = console or Console()
        self._live = Live(get_renderable=self.render, console=self.console, refresh_per_second=4,
                          transient=False) if enabled else None

    def __enter__(self) -> CampaignProgress:
        if self._live:
            self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live:
            self._live.stop()
            self.console.line()

    def on_event(self, strategy: str, record: TrialRecord | None) -> None:
        """A trial started (``record`` is None) or ended."""
        row = self.rows[strategy]
        if record is None:
            row.running += 1
            row.started = row.started or time.monotonic()
            return
        row.running -= 1
        row.done += 1
        if row.done >= row.budget:
            row.ended = time.monotonic()
        if self.objectives is not None:
            row.ended_trials.append(record)
            row.front = int(pareto_mask(objective_points(row.ended_trials, self.objectives),
                                        self.objectives.directions).sum())
        if record.state not in (TrialStateName.COMPLETE, TrialStateName.PRUNED):
            row.failed += 1
        elif record.value is not None and record.feasible and (
            row.best is None or (record.value > row.best if self.mode == "max" else record.value < row.best)
        ):
            row.best = record.value

    def render(self) -> Table:
        table = Table(title=f"sweepforge — best {self.metric} ({self.mode}) so far",
                      caption=TRAINED_ON_VAL_NOTE if self.trained_on_val else None)
        columns = ["strategy", "status", "done", "running", "failed", f"best {self.metric}", "time"]
        if self.objectives is not None:
            columns.insert(-1, "front")
        for column in columns:
            table.add_column(column, justify="left" if column in ("strategy", "status") else "right")
        for name, row in self.rows.items():
            mark = TRAINED_ON_VAL if name == self.trained_on_val else ""
            cells = [name, row.status, f"{row.done}/{row.budget}", str(row.running), str(row.failed),
                     "-" if row.best is None else f"{row.best:.4f}{mark}"]
            if self.objectives is not None:
                cells.append(str(row.front))
            table.add_row(*cells, f"{row.elapsed:.0f}s")
        return table
