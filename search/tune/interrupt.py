"""Ctrl-C that lands between two steps of the Ray Tune loop, never inside an MLflow write.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Inside the Tune loop
that is often the middle of a callback: a trial's MLflow run created but not yet recorded (it
would stay RUNNING forever), or a SQLite transaction cut in half (the next write can then wait
on the database lock). So during a campaign the first Ctrl-C only raises a flag, and
:class:`StopOnInterrupt` turns it into ``KeyboardInterrupt`` at the next step boundary, a few
hundred milliseconds later. A second Ctrl-C raises at once, as usual.

SIGTERM (what ``timeout``, a job scheduler, Kubernetes or systemd send) is treated the same way:
inside the Tune loop it is deferred to a step boundary like Ctrl-C, elsewhere in a campaign it
raises :class:`Terminated` (a ``KeyboardInterrupt``) at once (:func:`sigterm_as_interrupt`).
So runs end KILLED and the campaign stays resumable, where Ray's own SIGTERM handler would kill
the local Ray under the trials (a C++ stack dump, runs FAILED). The command line exits 143.
"""

from __future__ import annotations

import os
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ray.tune import Callback


class Terminated(KeyboardInterrupt):
    """The campaign was stopped by SIGTERM; handled like Ctrl-C (runs KILLED, resumable)."""


class RayLost(KeyboardInterrupt):
    """The campaign's own Ray went away under it (its raylet or GCS process died). A
    ``KeyboardInterrupt``, so that it ends the campaign the way Ctrl-C does: trial, strategy
    and campaign runs KILLED, the campaign resumable."""


_last_signal: int | None = None  # the last SIGINT or SIGTERM a campaign of this process caught
_ray_lost: str | None = None  # why Ray went away, once it has


def stop_cause(err: KeyboardInterrupt) -> KeyboardInterrupt:
    """What really stopped a campaign that ended with ``err``: a :class:`RayLost` (with its
    message), a :class:`Terminated`, or ``err`` itself (Ctrl-C)."""
    if isinstance(err, (RayLost, Terminated)):
        return err
    return _exception(_last_signal) if _last_signal is not None else err


def stopped_by_sigterm(err: BaseException) -> bool:
    """Whether the ``KeyboardInterrupt`` ``err`` that ended a campaign came from SIGTERM."""
    return isinstance(err, KeyboardInterrupt) and isinstance(stop_cause(err), Terminated)


def report_ray_lost(reason: str) -> None:
    """From any thread: Ray went away (``reason``); the campaign stops as on SIGTERM (at the
    next Tune step boundary, or at once outside the Tune loop) and raises :class:`RayLost`."""
    global _ray_lost
    _ray_lost = reason
    os.kill(os.getpid(), signal.SIGTERM)  # handled in the main thread, by the handlers below


def _note(signum: int) -> None:
    global _last_signal
    _last_signal = signum


def _exception(signum: int | None) -> KeyboardInterrupt:
    if _ray_lost is not None:
        return RayLost(_ray_lost)
    return Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()


@contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """For the duration, SIGTERM raises :class:`Terminated` (put back after). Installed once
    Ray has started: ``ray.init`` sets a handler that shuts the local Ray down and exits, which
    leaves trial runs FAILED and prints a stack dump. A no-op outside the main thread."""
    global _last_signal, _ray_lost
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    _last_signal = _ray_lost = None
    previous = signal.getsignal(signal.SIGTERM)

    def terminate(signum: int, frame: Any) -> None:
        _note(signum)
        raise _exception(signum)

    signal.signal(signal.SIGTERM, terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


class InterruptFlag:
    """Set by the first SIGINT or SIGTERM while :meth:`armed` is active."""

    def __init__(self) -> None:
        self._event = threading.Event()
        self.signum: int | None = None

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self, signum: int = signal.SIGINT) -> None:
        self.signum = signum
        _note(signum)
        self._event.set()

    def exception(self) -> KeyboardInterrupt:
        """What to raise now that the flag is set: :class:`Terminated` after SIGTERM,
        :class:`RayLost` when Ray went away, else ``KeyboardInterrupt``."""
        return _exception(self.signum)

    @contextmanager
    def armed(self) -> Iterator[InterruptFlag]:
        """Catches SIGINT and SIGTERM for the duration; a no-op outside the main thread, where
        Python does not deliver signals anyway. After the first of them, both act at once again
        (through the handlers they had before)."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}

        def first_interrupt(signum: int, frame: Any) -> None:
            self.set(signum)
            for each, handler in previous.items():  # the second one is not deferred
                signal.signal(each, handler)

        for signum in previous:
            signal.signal(signum, first_interrupt)
        try:
            yield self
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


class StopOnInterrupt(Callback):
    """A Tune callback that raises ``KeyboardInterrupt`` at a step boundary once the flag is set."""

    def __init__(self, flag: InterruptFlag):
        self.flag = flag

    def __getstate__(self) -> dict[str, Any]:
        return {"flag": None}  # Tune pickles its callbacks; the flag only matters in this process

    def _check(self) -> None:
        if self.flag is not None and self.flag.is_set:
            raise self.flag.exception()

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        self._check()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self._check()
