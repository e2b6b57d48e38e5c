"""Checkpoints of a training run: model, optimizer, epoch and RNG state, to resume or to clone.

A train function that accepts ``checkpoint=`` takes a :class:`Checkpointer`. Before its first
epoch it calls :meth:`Checkpointer.load` and, when a state comes back, continues from it; after
every epoch (before ``report``) it calls :meth:`Checkpointer.save`. Resuming is exact on CPU:
two epochs, a checkpoint and two more give the same weights as four epochs straight. A
population-based scheduler clones a trial by handing another trial the same state; the clone's
own learning rate replaces the one saved with the optimizer.

The state is a dict of tensors, numbers and strings, so it loads with
``torch.load(weights_only=True)``: a checkpoint file is never unpickled as arbitrary code.

Example:
    >>> import tempfile
    >>> from sweepforge.trainables import get_trainable, load_dataset
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     spec, data = get_trainable("mlp"), load_dataset("iris")
    ...     first = spec.train({"epochs": 1}, data, checkpoint=DirectoryCheckpointer(folder))
    ...     again = spec.train({"epochs": 2}, data, checkpoint=DirectoryCheckpointer(folder))
    >>> again["epoch"]  # resumed after epoch 1, so only epoch 2 ran
    2
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import torch

CHECKPOINT_FILE = "checkpoint.pt"
FORMAT_VERSION = 1

State = dict[str, Any]
"""``{"format", "epoch", "model", "optimizer", "rng", "metrics", ...}``; see :func:`capture`."""


@runtime_checkable
class Checkpointer(Protocol):
    """Where a train function keeps its state between epochs."""

    def load(self) -> State | None:
        """The state to resume from, or ``None`` to start fresh."""

    def save(self, state: State) -> None:
        """Keep ``state``, the run's state at the end of an epoch."""


class MemoryCheckpointer:
    """Keeps the latest state in memory (``self.state``); handy in tests and notebooks.

    Example:
        >>> keeper = MemoryCheckpointer()
        >>> keeper.load() is None
        True
    """

    def __init__(self, state: State | None = None):
        self.state = state

    def load(self) -> State | None:
        return self.state

    def save(self, state: State) -> None:
        self.state = state


class DirectoryCheckpointer:
    """Keeps the latest state as ``<directory>/checkpoint.pt``, replaced atomically.

    ``load`` reads it with ``weights_only=True`` onto the CPU; the train function moves tensors
    to its device.
    """

    def __init__(self, directory: str | os.PathLike[str]):
        self.directory = Path(directory)
        self.path = self.directory / CHECKPOINT_FILE

    def load(self) -> State | None:
        if not self.path.is_file():
            return None
        return load_state_file(self.path)

    def save(self, state: State) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        partial = self.path.with_suffix(".partial")
        torch.save(state, partial)
        os.replace(partial, self.path)  # a crash mid-write leaves the previous checkpoint whole


def load_state_file(path: str | os.PathLike[str]) -> State:
    """Read a state written by :class:`DirectoryCheckpointer`, refusing pickled code.

    Raises:
        ValueError: the file is not a sweepforge checkpoint of a known format.
    """
    state = torch.load(path, map_location="cpu", weights_only=True)
    if not isinstance(state, dict) or state.get("format") != FORMAT_VERSION:
        raise ValueError(
            f"{path} is not a sweepforge checkpoint (format {FORMAT_VERSION}); found "
            f"{type(state).__name__} with format {getattr(state, 'get', lambda _: None)('format')!r}"
        )
    return state


def capture(
    *,
    epoch: int,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device,
    metrics: dict[str, float],
    extra: dict[str, Any] | None = None,
) -> State:
    """The state after ``epoch``: copies of the weights, optimizer, the shuffling generator and
    torch's global RNG (dropout, noise) on the CPU and, on CUDA, on ``device``."""
    rng: dict[str, torch.Tensor] = {"cpu": torch.get_rng_state(), "shuffle": generator.get_state()}
    if device.type == "cuda":
        rng["cuda"] = torch.cuda.get_rng_state(device)
    return {
        "format": FORMAT_VERSION,
        "epoch": epoch,
        "model": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
        "optimizer": _to_cpu(optimizer.state_dict()),
        "rng": rng,
        "metrics": dict(metrics),
        "extra": extra or {},
    }


def restore(
    state: State,
    *,
    model: torch.nn.Module,
    optimizer: torch.optim.Optimizer,
    generator: torch.Generator,
    device: torch.device,
) -> int:
    """Load ``state`` into the objects; return the epoch it was taken after.

    The optimizer's hyperparameters (learning rate, momentum, ...) stay those it was built
    with, so a clone with a mutated config trains with the new values on the old moments.
    """
    model.load_state_dict(state["model"])
    built_with = [{k: v for k, v in group.items() if k != "params"} for group in optimizer.param_groups]
    optimizer.load_state_dict(state["optimizer"])
    for group, settings in zip(optimizer.param_groups, built_with):
        group.update(settings)
    rng = state["rng"]
    torch.set_rng_state(rng["cpu"])
    generator.set_state(rng["shuffle"])
    if device.type == "cuda" and "cuda" in rng:
        torch.cuda.set_rng_state(rng["cuda"], device)
    return int(state["epoch"])


def _to_cpu(value: Any) -> Any:
    if isinstance(value, torch.Tensor):
        return value.detach().to("cpu", copy=True)
    if isinstance(value, dict):
        return {k: _to_cpu(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_to_cpu(v) for v in value)
    return value
