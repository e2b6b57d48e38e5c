"""Where and how reproducibly a trainable runs: the torch device and the seeded RNG block.

Example:
    >>> with seeded(check_seed(0), resolve_device("cpu")):
    ...     first = torch.rand(1)
    >>> with seeded(0, resolve_device("cpu")):
    ...     torch.equal(torch.rand(1), first)
    True
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch

from ._errors import ConfigError


def resolve_device(device: str | torch.device) -> torch.device:
    """Turn ``"cpu"`` / ``"cuda:0"`` / a ``torch.device`` into a usable device, or raise.

    Example:
        >>> resolve_device("cpu")
        device(type='cpu')
    """
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ConfigError(
            f"device={device!r} is not a valid torch device; use e.g. 'cpu' or 'cuda:0'",
            field="device",
        ) from None
    if resolved.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(
                f"device={device!r} is not available here: torch.cuda.is_available() is False",
                field="device",
            )
        if resolved.index is not None and resolved.index >= torch.cuda.device_count():
            raise ConfigError(
                f"device={device!r} does not exist; this machine has "
                f"{torch.cuda.device_count()} CUDA device(s)",
                field="device",
            )
    return resolved


def check_seed(seed: int) -> int:
    """Return ``seed`` if it is a non-negative int, else raise :class:`ConfigError`."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed={seed!r} is not allowed; it must be an int >= 0", field="seed")
    return seed


@contextmanager
def seeded(seed: int, device: torch.device) -> Iterator[None]:
    """Seed torch's RNGs for ``device`` inside the block and restore the caller's state after."""
    devices: list[int] = []
    if device.type == "cuda":
        devices = [device.index if device.index is not None else torch.cuda.current_device()]
    with torch.random.fork_rng(devices=devices):
        torch.random.default_generator.manual_seed(seed)
        if device.type == "cuda":
            with torch.cuda.device(devices[0]):
                torch.cuda.manual_seed(seed)
        yield
