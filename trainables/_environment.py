"""What the trainables read from the process environment, and the runtime facts they report.

Whoever runs trainables elsewhere (a campaign on Ray workers) uses two calls and needs to know
nothing else: :func:`check_environment` before anything starts, so a bad setting is refused
once instead of failing every trial, and :func:`runtime_tags` once a trial trains, for the
facts worth recording with its results. Neither imports torch: a trainable that does not use
it leaves its worker free of it.

The settings read today:

* ``SWEEPFORGE_LINEAR_BACKEND`` (``auto``, ``onednn`` or ``torch``): which backend
  :class:`~.components.Dense` runs large CPU products in (see :mod:`.components.dense`).

Example:
    >>> check_environment()  # raises ConfigError naming a bad variable and what is allowed
    >>> runtime_tags("cuda")  # on a CPU, once Dense is in use: {'linear_backend': 'onednn'}
    {}
"""

from __future__ import annotations

import os
import sys

from ._errors import ConfigError

__all__ = [
    "LINEAR_BACKENDS",
    "LINEAR_BACKEND_VAR",
    "check_environment",
    "check_linear_backend_name",
    "linear_backend_setting",
    "runtime_tags",
]

LINEAR_BACKEND_VAR = "SWEEPFORGE_LINEAR_BACKEND"
LINEAR_BACKENDS = ("auto", "onednn", "torch")

_DENSE = "sweepforge.trainables.components.dense"  # imported by whatever builds a Dense layer


def check_environment() -> None:
    """Raise :class:`ConfigError` if an environment variable the trainables read is invalid.

    An unknown value names the variable, the value and the allowed ones. An explicit
    ``SWEEPFORGE_LINEAR_BACKEND=onednn`` is also refused where this torch cannot run oneDNN's
    linear correctly (checking that imports torch; nothing else here does).

    Example (with ``SWEEPFORGE_LINEAR_BACKEND=mkl`` in the environment)::

        >>> check_environment()  # doctest: +SKIP
        Traceback (most recent call last):
        ...
        sweepforge.trainables.ConfigError: SWEEPFORGE_LINEAR_BACKEND='mkl' is not a linear
        backend; use one of auto, onednn, torch
    """
    backend = check_linear_backend_name(linear_backend_setting(), LINEAR_BACKEND_VAR)
    if backend == "onednn":
        from .components.dense import check_linear_backend

        check_linear_backend(backend, what=LINEAR_BACKEND_VAR)


def runtime_tags(device: str) -> dict[str, str]:
    """The runtime facts of a trial that trains on ``device`` (``"cpu"``, ``"cuda:0"``, ...),
    worth recording with its results: ``{"linear_backend": "onednn" | "torch"}`` on a CPU once
    a :class:`~.components.Dense` layer's module is in use, else nothing. Call it once training
    has started; it imports nothing.

    Example:
        >>> runtime_tags("cuda:0")
        {}
    """
    dense = sys.modules.get(_DENSE)
    if dense is None or str(device).partition(":")[0] != "cpu":
        return {}
    return {"linear_backend": dense.linear_backend()}


def linear_backend_setting() -> str:
    """``SWEEPFORGE_LINEAR_BACKEND`` as given (trimmed, lower case), ``"auto"`` when unset or
    empty; not checked."""
    return os.environ.get(LINEAR_BACKEND_VAR, "auto").strip().lower() or "auto"


def check_linear_backend_name(name: str, what: str) -> str:
    """Return ``name`` if it is one of :data:`LINEAR_BACKENDS`, else raise :class:`ConfigError`
    naming ``what`` (a variable or argument), the value and the allowed ones."""
    if name not in LINEAR_BACKENDS:
        raise ConfigError(
            f"{what}={name!r} is not a linear backend; use one of {', '.join(LINEAR_BACKENDS)}",
            field=what,
        )
    return name
