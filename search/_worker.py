"""What runs inside a Ray worker for one trial: build the trainable's config and train.

The worker gives torch exactly as many threads as CPUs the trial reserved, so two trials on two
cores do not oversubscribe, and uses the GPU when Ray assigned one. The dataset is loaded once
per worker process and reused across trials (Ray Tune reuses actors): a registered one by name,
or the user's table (:class:`~.config.TableSource`) read from its absolute path.

Trainables that take ``checkpoint=`` (every bundled one) save their state each epoch; the worker
reports it to Ray Tune with that epoch's metrics (:class:`TuneCheckpointer`), so a trial that Ray
Tune restarts (``max_failures``, a lost node) resumes from ``tune.get_checkpoint()``, and a trial
resubmitted by ``sweepforge resume`` from the checkpoint directory the searcher names.
"""

from __future__ import annotations

import importlib
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from sweepforge.trainables import Dataset, get_trainable, load_dataset
from sweepforge.trainables.checkpoint import CHECKPOINT_FILE, State, load_state_file
from sweepforge.trainables.tables import load_table

from ._searcher import RESUME_FROM
from .config import TableSource


def load_campaign_dataset(source: str | TableSource, seed: int) -> Dataset:
    """A campaign's dataset split with ``seed``: registered ``source`` by name, or the table it
    describes (read afresh: the planner sees the file as it is now)."""
    if isinstance(source, TableSource):
        return load_table(
            source.path, target=source.target, categorical=source.categorical,
            task=source.task, seed=seed,
        )
    return load_dataset(source, seed=seed)


@lru_cache(maxsize=4)
def _dataset(source: str | TableSource, seed: int) -> Dataset:
    return load_campaign_dataset(source, seed)


def run_trial(
    config: dict[str, Any], *, trainable_name: str, trainable_module: str,
    dataset_name: str | TableSource, seed: int, fixed: dict[str, Any], cpus: float, gpus: float,
) -> None:
    """Ray Tune function trainable: trains ``config`` and reports every epoch to Tune.

    ``trainable_module`` is imported first, so a trainable registered in the user's own module
    (not only sweepforge's) is known in the worker too. ``dataset_name`` is the campaign's
    ``dataset``: a registered name or a :class:`~.config.TableSource`.
    """
    import ray
    import torch
    from ray import tune

    config = dict(config)
    checkpointer = TuneCheckpointer(config.pop(RESUME_FROM, None))
    if trainable_module != "__main__":
        importlib.import_module(trainable_module)

    torch.set_num_threads(max(1, int(cpus)))
    device = "cuda" if gpus > 0 and torch.cuda.is_available() else "cpu"
    spec = get_trainable(trainable_name)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    node = ray.get_runtime_context().get_node_id()
    reported = []

    def report(metrics: dict[str, float]) -> None:
        extra: dict[str, Any] = {"device": device, "node": node}
        if device == "cuda":  # evidence, from inside the trial, that it trained on the GPU
            extra["gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        checkpointer.report({**metrics, **extra})
        reported.append(True)

    keeps = {"checkpoint": checkpointer} if spec.supports_checkpoint else {}
    final = spec.train(spec.make_config({**fixed, **config}), _dataset(dataset_name, seed), report,
                       device=device, seed=seed, **keeps)
    if not reported and isinstance(final, dict) and final:
        # restored from a checkpoint of its last epoch: nothing left to train, so say how it ended
        tune.report({**final, "device": device, "node": node})


class TuneCheckpointer:
    """A :class:`~sweepforge.trainables.Checkpointer` over Ray Tune: each epoch's state goes to
    Tune with that epoch's report; :meth:`load` reads ``tune.get_checkpoint()`` (Tune restarted
    the trial) or else ``resume_from`` (a checkpoint directory of an earlier attempt).

    A checkpoint that cannot be read (cut off mid-copy by a crash) means starting afresh.
    """

    def __init__(self, resume_from: str | None = None):
        self.resume_from = resume_from
        self._state: State | None = None

    def load(self) -> State | None:
        from ray import tune

        checkpoint = tune.get_checkpoint()
        if checkpoint is None and self.resume_from:
            checkpoint = tune.Checkpoint(self.resume_from)
        if checkpoint is None:
            return None
        try:
            with checkpoint.as_directory() as folder:
                return load_state_file(Path(folder) / CHECKPOINT_FILE)
        except (OSError, ValueError, RuntimeError, EOFError) as err:
            print(f"sweepforge: checkpoint {checkpoint.path} unreadable ({err}); starting afresh")
            return None

    def save(self, state: State) -> None:
        self._state = state  # goes to Tune with the report that follows

    def report(self, metrics: dict[str, Any]) -> None:
        import torch
        from ray import tune

        if self._state is None:
            tune.report(metrics)
            return
        with tempfile.TemporaryDirectory(prefix="sweepforge-checkpoint-") as folder:
            torch.save(self._state, Path(folder) / CHECKPOINT_FILE)
            self._state = None
            tune.report(metrics, checkpoint=tune.Checkpoint.from_directory(folder))  # copied now
