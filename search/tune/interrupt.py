"""Ctrl-C that lands between two steps of the Ray Tune loop, never inside an MLflow write.

Python raises ``KeyboardInterrupt`` wherever the main thread happens to be. Inside the Tune loop
that is often the middle of a callback: a trial's MLflow run created but not yet recorded (it
would stay RUNNING forever), or a SQLite transaction cut in half (the next write can then wait
on the database lock). So during a campaign the first Ctrl-C only raises a flag, and
:class:`StopOnInterrupt` turns it into ``KeyboardInterrupt`` at the next step boundary, a few
hundred milliseconds later. A second Ctrl-C raises at once, as usual.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ray.tune import Callback


class InterruptFlag:
    """Set by the first SIGINT while :meth:`armed` is active."""

    def __init__(self) -> None:
        self._event = threading.Event()

    @property
    def is_set(self) -> bool:
        return self._event.is_set()

    def set(self) -> None:
        self._event.set()

    @contextmanager
    def armed(self) -> Iterator[InterruptFlag]:
        """Catches SIGINT for the duration; a no-op outside the main thread, where Python
        does not deliver signals anyway."""
        if threading.current_thread() is not threading.main_thread():
            yield self
            return
        previous = signal.getsignal(signal.SIGINT)

        def first_interrupt(signum: int, frame: Any) -> None:
            self.set()
            signal.signal(signal.SIGINT, previous)  # the second Ctrl-C is not deferred

        signal.signal(signal.SIGINT, first_interrupt)
        try:
            yield self
        finally:
            signal.signal(signal.SIGINT, previous)


class StopOnInterrupt(Callback):
    """A Tune callback that raises ``KeyboardInterrupt`` at a step boundary once the flag is set."""

    def __init__(self, flag: InterruptFlag):
        self.flag = flag

    def __getstate__(self) -> dict[str, Any]:
        return {"flag": None}  # Tune pickles its callbacks; the flag only matters in this process

    def _check(self) -> None:
        if self.flag is not None and self.flag.is_set:
            raise KeyboardInterrupt

    def on_step_begin(self, iteration: int, trials: list, **info: Any) -> None:
        self._check()

    def on_step_end(self, iteration: int, trials: list, **info: Any) -> None:
        self._check()
