"""The checkpoint of each strategy's best trial, kept in the campaign folder until its model is
logged.

Ray Tune's storage loses every ended trial's checkpoints (:class:`~..tune.checkpoints.
DropCheckpoints`), so a 10,000-trial campaign never holds 10,000 models. Before they go, the
session offers each ended trial here (:meth:`BestCheckpoints.offer`): the last checkpoint of a
trial that beats its strategy's best so far is copied to
``<campaign folder>/best/<strategy>/trial-<id>/`` and the previous best's copy is deleted. At
the end the strategy's model is built from that copy (:mod:`..tracking.models`).

A copy is complete before it is named the best: ``best.json`` is replaced atomically after the
folder is written, so a master killed mid-copy leaves the previous best in place, and a resumed
session goes on from what ``best.json`` names.

Example:
    >>> best = BestCheckpoints(folder / "best", mode="max")                 # doctest: +SKIP
    >>> best.offer(record, "/tmp/tune/trial-ab/checkpoint_000004")          # doctest: +SKIP
    >>> best.kept("tpe").trial_id                                           # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..schema import TrialStateName

if TYPE_CHECKING:
    from ..tracking.trial_logger import TrialRecord

POINTER = "best.json"
"""The file in a strategy's folder that names its best trial and the copy of its checkpoint."""


@dataclass(frozen=True)
class KeptCheckpoint:
    """A strategy's best trial and the copy of its last checkpoint."""

    strategy: str
    trial_id: int
    value: float
    epochs: int
    state: str  # COMPLETE or PRUNED
    config: dict[str, Any]
    folder: Path  # the checkpoint's copy (it holds checkpoint.pt)


class BestCheckpoints:
    """Keeps the last checkpoint of each strategy's best trial (by ``mode``) under ``root``.

    Ties keep the first trial offered, as the comparison table's best does.
    """

    def __init__(self, root: Path, mode: str):
        if mode not in ("max", "min"):
            raise ValueError(f"mode={mode!r} must be 'max' or 'min'")
        self.root = Path(root)
        self.mode = mode

    def offer(self, record: TrialRecord, checkpoint: str | os.PathLike[str] | None) -> bool:
        """Keeps ``checkpoint`` (a folder) when ``record`` is its strategy's best trial so far;
        returns whether it did. Failed trials, trials that break a hard limit (``constraints:``)
        and trials without a value or a checkpoint are never kept."""
        if (record.state not in (TrialStateName.COMPLETE.value, TrialStateName.PRUNED.value)
                or record.value is None or not record.feasible
                or checkpoint is None or not Path(checkpoint).is_dir()):
            return False
        current = self.kept(record.strategy)
        if current is not None and not self._better(record.value, current.value):
            return False
        home = self._home(record.strategy)
        target = home / f"trial-{record.trial_id}"
        partial = home / f"trial-{record.trial_id}.partial"
        shutil.rmtree(partial, ignore_errors=True)
        shutil.copytree(checkpoint, partial)
        shutil.rmtree(target, ignore_errors=True)
        os.replace(partial, target)
        kept = KeptCheckpoint(record.strategy, record.trial_id, float(record.value),
                              int(record.epochs), record.state, dict(record.config), target)
        _write_json(home / POINTER, {**asdict(kept), "folder": target.name})
        for other in home.iterdir():  # the previous best, and copies a kill left half-made
            if other.is_dir() and other != target:
                shutil.rmtree(other, ignore_errors=True)
        return True

    def kept(self, strategy: str) -> KeptCheckpoint | None:
        """The best trial of ``strategy`` kept so far, or ``None``."""
        pointer = self._home(strategy) / POINTER
        try:
            saved = json.loads(pointer.read_text())
        except (OSError, ValueError):
            return None
        folder = pointer.parent / str(saved.get("folder", ""))
        if not folder.is_dir():
            return None
        return KeptCheckpoint(
            strategy=strategy, trial_id=int(saved["trial_id"]), value=float(saved["value"]),
            epochs=int(saved["epochs"]), state=str(saved["state"]), config=dict(saved["config"]),
            folder=folder,
        )

    def drop(self, strategy: str) -> None:
        """Deletes what is kept for ``strategy`` (its model is logged)."""
        shutil.rmtree(self._home(strategy), ignore_errors=True)
        try:
            self.root.rmdir()  # once every strategy's model is logged
        except OSError:
            pass

    def _better(self, value: float, than: float) -> bool:
        return value > than if self.mode == "max" else value < than

    def _home(self, strategy: str) -> Path:
        return self.root / safe_folder_name(strategy)


def safe_folder_name(name: str) -> str:
    """``name`` as one folder name: characters other than letters, digits, ``-``, ``_`` and
    ``.`` become ``_``, and a name of dots only gets a leading ``_``.

    Example:
        >>> safe_folder_name("../tpe gp")
        '.._tpe_gp'
        >>> safe_folder_name("..")
        '_..'
    """
    safe = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "_"
    return "_" + safe if set(safe) == {"."} else safe


def _write_json(path: Path, value: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(value, default=str))
    os.replace(partial, path)
