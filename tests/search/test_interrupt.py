"""The first Ctrl-C of a campaign is deferred to a Tune step boundary; the second is not."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sweepforge.search.tune.interrupt import InterruptFlag, StopOnInterrupt


def _interrupt_self() -> None:
    os.kill(os.getpid(), signal.SIGINT)
    time.sleep(0.05)  # Python runs the handler at the next bytecode boundary of the main thread


def test_first_sigint_only_sets_the_flag_and_the_step_boundary_raises():
    flag = InterruptFlag()
    stop = StopOnInterrupt(flag)
    with flag.armed():
        stop.on_step_begin(iteration=0, trials=[])  # nothing pending: no-op
        try:
            _interrupt_self()
        except KeyboardInterrupt:  # caught here, or it would end the whole pytest session
            pytest.fail("the first SIGINT raised at once instead of being deferred")
        assert flag.is_set
        with pytest.raises(KeyboardInterrupt):
            stop.on_step_end(iteration=0, trials=[])


def test_second_sigint_raises_at_once():
    # the second SIGINT goes to the handler from before arming: make that Python's own, whatever
    # earlier tests in this process left installed
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    flag = InterruptFlag()
    try:
        with flag.armed():
            try:
                _interrupt_self()
            except KeyboardInterrupt:
                pytest.fail("the first SIGINT raised at once instead of being deferred")
            with pytest.raises(KeyboardInterrupt):
                _interrupt_self()
    finally:
        signal.signal(signal.SIGINT, previous)


def test_the_previous_handler_comes_back():
    before = signal.getsignal(signal.SIGINT)
    with InterruptFlag().armed():
        assert signal.getsignal(signal.SIGINT) is not before
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_it_changes_nothing():
    before, seen = signal.getsignal(signal.SIGINT), []

    def arm() -> None:
        with InterruptFlag().armed():
            seen.append(signal.getsignal(signal.SIGINT))

    worker = threading.Thread(target=arm)
    worker.start()
    worker.join()
    assert seen == [before]
