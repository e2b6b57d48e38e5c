"""What a trained model costs: its size, its inference latency and its training time.

Every bundled family reports three cost metrics with its final metrics (the last epoch's report
and the dict its train function returns, next to the ``test_*`` metrics), so that a campaign can
minimise them as objectives:

* ``n_params``: the number of trainable parameters, ``Σ p.numel()`` over the parameters with
  ``requires_grad`` (an int; a parameter shared between layers counts once).
* ``latency_ms``: the median wall time, in milliseconds, of one forward pass of the trained model
  in eval mode under ``torch.no_grad()`` over one batch: the first ``batch_size`` rows of the
  validation split, already preprocessed and on the trial's device. After the last epoch,
  :data:`WARMUP_PASSES` untimed passes, then the median of :data:`TIMED_PASSES` timed ones; on
  CUDA the device is synchronized before and after each. Full precision, as the validation and
  test metrics are computed, even for an ``amp`` run.
* ``train_s``: the wall time of training in seconds: the epochs' training passes and validation
  evaluations, summed; checkpoint saving, ``report`` calls, the test evaluation and the latency
  measurement are left out. A run resumed from a checkpoint adds its epochs to the seconds the
  checkpoint recorded, so a resumed trial reports the training time of the whole model. A trial
  restored after its last epoch (nothing left to train) returns the costs its checkpoint saved;
  from a checkpoint that holds none (written before they existed) it measures ``n_params`` and
  ``latency_ms`` then, with ``train_s`` 0.

The measurement draws nothing from torch's random generators and changes no weight, so every
other metric is the same, bit for bit, as without it. A diverged run (non-finite loss) reports
every metric but ``epoch`` as NaN, these three included. ``latency_ms`` and ``train_s`` are
timings, so two runs with the same seed report different values: compare them between trials of
one campaign on one kind of machine, not across machines.

Example:
    >>> import torch
    >>> from torch import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> costs = model_costs(model, torch.zeros(16, 4), train_s=1.5)
    >>> costs["n_params"], costs["train_s"], costs["latency_ms"] > 0
    (67, 1.5, True)
    >>> sorted(COST_METRICS)
    ['latency_ms', 'n_params', 'train_s']
"""

from __future__ import annotations

import statistics
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # torch is imported when a cost is measured: the names cost nothing to import
    import torch
    from torch import nn

__all__ = [
    "COST_METRICS",
    "COST_METRIC_NAMES",
    "TIMED_PASSES",
    "WARMUP_PASSES",
    "TrainClock",
    "count_parameters",
    "forward_latency_ms",
    "model_costs",
]

COST_METRIC_NAMES = ("n_params", "latency_ms", "train_s")
"""The cost metrics of a trained model, reported with the final metrics of every bundled family."""
COST_METRICS = frozenset(COST_METRIC_NAMES)

WARMUP_PASSES = 2
"""Untimed forward passes before the timed ones (first-call allocations, caches, lazy setup)."""
TIMED_PASSES = 5
"""Timed forward passes; ``latency_ms`` is their median."""


def count_parameters(model: nn.Module) -> int:
    """The number of trainable parameters of ``model`` (``requires_grad``; shared ones once).

    Example:
        >>> from torch import nn
        >>> layer = nn.Linear(3, 2)
        >>> layer.bias.requires_grad_(False)  # doctest: +ELLIPSIS
        Parameter containing:
        ...
        >>> count_parameters(layer)
        6
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def forward_latency_ms(
    model: nn.Module,
    batch: torch.Tensor,
    *,
    warmup: int = WARMUP_PASSES,
    repeats: int = TIMED_PASSES,
) -> float:
    """The median time, in milliseconds, of ``model(batch)`` in eval mode under ``no_grad``.

    ``warmup`` untimed passes come first; on CUDA the device is synchronized around each timed
    pass. The model's train/eval mode is restored afterwards, and torch's random generators (CPU
    and the batch's CUDA device) are left as they were, even for a model that draws in eval mode.

    Raises:
        ValueError: ``repeats < 1`` or ``warmup < 0``.

    Example:
        >>> import torch
        >>> forward_latency_ms(torch.nn.Linear(4, 2), torch.zeros(8, 4)) > 0
        True
    """
    import torch

    if repeats < 1 or warmup < 0:
        raise ValueError(f"need repeats >= 1 and warmup >= 0, got {repeats=}, {warmup=}")
    device = batch.device
    devices = [device.index if device.index is not None else torch.cuda.current_device()] \
        if device.type == "cuda" else []
    was_training = model.training
    times: list[float] = []
    try:
        with torch.random.fork_rng(devices=devices), torch.no_grad():
            model.eval()
            for _ in range(warmup):
                model(batch)
            for _ in range(repeats):
                _synchronize(device)
                start = time.perf_counter()
                model(batch)
                _synchronize(device)
                times.append((time.perf_counter() - start) * 1e3)
    finally:
        model.train(was_training)
    return statistics.median(times)


def model_costs(
    model: nn.Module,
    batch: torch.Tensor,
    *,
    train_s: float,
    warmup: int = WARMUP_PASSES,
    repeats: int = TIMED_PASSES,
) -> dict[str, float]:
    """``{"n_params", "latency_ms", "train_s"}`` of a trained ``model``: its trainable
    parameters, :func:`forward_latency_ms` over ``batch`` (a batch of validation inputs on the
    model's device) and ``train_s``, the training time measured by the caller (a
    :class:`TrainClock`).

    Example:
        >>> import torch
        >>> sorted(model_costs(torch.nn.Linear(4, 2), torch.zeros(8, 4), train_s=0.0))
        ['latency_ms', 'n_params', 'train_s']
    """
    return {
        "n_params": count_parameters(model),
        "latency_ms": forward_latency_ms(model, batch, warmup=warmup, repeats=repeats),
        "train_s": float(train_s),
    }


class TrainClock:
    """Adds up the wall time of the blocks it times (``with clock: ...``), in seconds.

    ``seconds`` starts at ``start_s`` (what a checkpoint recorded, for a resumed run). With a
    CUDA ``device`` the device is synchronized before the clock stops, so queued kernels count.

    Example:
        >>> clock = TrainClock(start_s=2.0)
        >>> with clock:
        ...     _ = sum(range(1000))
        >>> clock.seconds > 2.0
        True
    """

    def __init__(self, start_s: float = 0.0, device: torch.device | None = None) -> None:
        self.seconds = float(start_s)
        self.device = device
        self._started: float | None = None

    def __enter__(self) -> TrainClock:
        self._started = time.perf_counter()
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.device is not None:
            _synchronize(self.device)
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started
            self._started = None


def _synchronize(device: torch.device) -> None:
    """Wait for the kernels queued on ``device`` (CUDA, MPS); nothing to wait for on the CPU."""
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
