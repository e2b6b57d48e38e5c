"""What runs inside a Ray worker for one trial: build the trainable's config and train.

The worker gives torch exactly as many threads as CPUs the trial reserved, so two trials on two
cores do not oversubscribe, and uses the GPU when Ray assigned one. The dataset is loaded once
per worker process and reused across trials (Ray Tune reuses actors): a registered one by name,
or the user's table (:class:`~.config.TableSource`) read from its absolute path.
"""

from __future__ import annotations

import importlib
from functools import lru_cache
from typing import Any

from sweepforge.trainables import Dataset, get_trainable, load_dataset
from sweepforge.trainables.tables import load_table

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
    import torch
    from ray import tune

    if trainable_module != "__main__":
        importlib.import_module(trainable_module)

    torch.set_num_threads(max(1, int(cpus)))
    device = "cuda" if gpus > 0 and torch.cuda.is_available() else "cpu"
    spec = get_trainable(trainable_name)
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()

    def report(metrics: dict[str, float]) -> None:
        extra: dict[str, Any] = {"device": device}
        if device == "cuda":  # evidence, from inside the trial, that it trained on the GPU
            extra["gpu_memory_mb"] = torch.cuda.max_memory_allocated() / 2**20
        tune.report({**metrics, **extra})

    spec.train(spec.make_config({**fixed, **config}), _dataset(dataset_name, seed), report,
               device=device, seed=seed)
