"""Trial folders and checkpoints in Ray Tune's storage.

A campaign's Tune storage is ``<campaign folder>/tune/session-<n>/trial-<Ray trial id>/``; the
folder names are set here (:func:`tune_trial_dirname`), so a resume finds a trial's
checkpoints from the journal alone. Checkpoints of trials that have ended are deleted
(:class:`DropCheckpoints`): only trials in flight are ever resumed.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from ray.tune import Callback

from ._compat import checkpoint_dirs


class DropCheckpoints(Callback):
    """Deletes a trial's checkpoints once it has ended: only trials in flight are resumed.
    (Ray Tune's own ``CheckpointConfig(num_to_keep=...)`` would force a snapshot of its
    experiment state every few epochs, which sweepforge never reads.)

    With ``at_end`` (PBT), they are deleted when the Tune run ends instead: a trial that has
    ended may still be the donor of a clone waiting to start.
    """

    def __init__(self, at_end: bool = False):
        self.at_end = at_end
        self._ended: list[Any] = []

    def on_trial_complete(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended.append(trial) if self.at_end else self._drop(trial)

    def on_trial_error(self, iteration: int, trials: list, trial: Any, **info: Any) -> None:
        self._ended.append(trial) if self.at_end else self._drop(trial)

    def on_experiment_end(self, trials: list, **info: Any) -> None:
        for trial in self._ended:
            self._drop(trial)
        self._ended.clear()

    @staticmethod
    def _drop(trial: Any) -> None:
        for checkpoint in checkpoint_dirs(trial.path):
            shutil.rmtree(checkpoint, ignore_errors=True)


def newest_checkpoint(trial_dir: str | Path | None) -> Path | None:
    """The newest checkpoint folder with something in it that a trial left in ``trial_dir``
    (one cut off before its first file is skipped), or ``None``."""
    found = checkpoint_dirs(trial_dir) if trial_dir else []
    return next((c for c in reversed(found) if c.is_dir() and any(c.iterdir())), None)


def trial_dirname(tune_id: str) -> str:
    """The folder of one Ray Tune trial in a session's storage."""
    return f"trial-{tune_id}"


def tune_trial_dirname(trial: Any) -> str:
    """``TuneConfig(trial_dirname_creator=...)``: a name a resume can find from the journal."""
    return trial_dirname(trial.trial_id)


REFIT_DIRNAME = "refit"
"""The folder of the campaign's final refit in a session's Tune storage."""


def refit_dirname(trial: Any) -> str:
    """``TuneConfig(trial_dirname_creator=...)`` of the refit's one-trial run."""
    return REFIT_DIRNAME
