"""What a failed trial's error says, and the one error that stops the whole campaign.

A trial's error reaches the master as the text Ray Tune wrote (the worker's traceback, in
``trial.error_file``). Most errors belong to one trial: the campaign goes on, the trial ends
FAILED with its error in MLflow. One does not: a user's function that never reports the
campaign's ``metric`` (:class:`~sweepforge.trainables.user_function.MetricNotReported`) fails
every trial the same way, and that cannot be known before the first trial has run. So
:class:`StopOnMetricNotReported` stops the campaign after the first such trial, with a
:class:`~..config.CampaignError` naming what the function did report, instead of running the
whole budget into nothing.

Example:
    >>> callbacks = [trial_logger, StopOnMetricNotReported()]   # after the MLflow logger  # doctest: +SKIP
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ray.tune import Callback

from sweepforge.trainables.user_function import MetricNotReported

from ..config import CampaignError

if TYPE_CHECKING:
    from ray.tune.experiment import Trial

_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


def trial_error_text(trial: Trial) -> str:
    """The trial's error as Ray Tune wrote it (with the worker's traceback), colours removed."""
    path = getattr(trial, "error_file", None)
    if path and Path(path).is_file():
        text = Path(path).read_text(errors="replace")
    else:
        text = str(getattr(trial, "error_msg", "") or "")
    return _ANSI_ESCAPE.sub("", text)


def metric_not_reported(text: str) -> str | None:
    """The message of a :class:`MetricNotReported` in a trial's error ``text``, else ``None``."""
    marker = f"{MetricNotReported.__name__}: "
    for line in reversed(text.splitlines()):
        if marker in line:
            return line.split(marker, 1)[1].strip()
    return None


class StopOnMetricNotReported(Callback):
    """A Tune callback that ends the Tune run at the next step boundary once a trial failed
    because the user's function does not report the campaign's metric, raising
    :class:`CampaignError` with its message. Put it after the MLflow logger, which records the
    trial FAILED first; trials still running are ended KILLED by the session."""

    def __init__(self) -> None:
        self.message: str | None = None

    def _note(self, trial: Trial) -> None:
        if self.message is None:
            self.message = metric_not_reported(trial_error_text(trial))

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._note(trial)

    def on_trial_recover(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._note(trial)  # a retry would fail the same way

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if self.message is not None:
            named = self.message.startswith(("objectives: ", "constraints: "))
            raise CampaignError(
                f"{'' if named else 'metric: '}{self.message}. The campaign stopped after this "
                "trial: every trial would fail the same way.")
