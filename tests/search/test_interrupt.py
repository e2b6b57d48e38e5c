"""The first Ctrl-C of a campaign is deferred to a Tune step boundary; the second is not."""

from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from sweepforge.search.tune.interrupt import (
    InterruptFlag,
    StopOnInterrupt,
    Terminated,
    sigterm_as_interrupt,
    stopped_by_sigterm,
)


def _interrupt_self(signum: int = signal.SIGINT) -> None:
    os.kill(os.getpid(), signum)
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


def test_sigterm_outside_the_tune_loop_raises_terminated():
    """While Ray starts, trials are settled or runs are closed (no Tune loop to defer to), a
    SIGTERM stops the campaign as Ctrl-C would, as :class:`Terminated` (exit 143), instead of
    Ray's own handler shutting Ray down and exiting with a stack dump."""
    seen = []

    def uncaught(signum, frame):  # a SIGTERM the campaign missed lands here, not in an exit
        seen.append(signum)

    before = signal.signal(signal.SIGTERM, uncaught)
    try:
        with pytest.raises(Terminated) as caught, sigterm_as_interrupt():
            _interrupt_self(signal.SIGTERM)
        assert stopped_by_sigterm(caught.value) and seen == []
        assert signal.getsignal(signal.SIGTERM) is uncaught  # the handler from before is back
    finally:
        signal.signal(signal.SIGTERM, before)


def test_sigterm_in_the_tune_loop_is_deferred_like_ctrl_c():
    """Inside the Tune loop the first SIGTERM only sets the flag; the step boundary raises
    :class:`Terminated`, so the runs are closed KILLED at a clean point."""
    flag = InterruptFlag()
    stop = StopOnInterrupt(flag)
    before = signal.signal(signal.SIGTERM, signal.SIG_IGN)  # not pytest's default (exit)
    try:
        with sigterm_as_interrupt(), flag.armed():
            try:
                _interrupt_self(signal.SIGTERM)
            except KeyboardInterrupt:
                pytest.fail("the first SIGTERM raised at once instead of being deferred")
            assert flag.is_set
            with pytest.raises(Terminated):
                stop.on_step_end(iteration=0, trials=[])
    finally:
        signal.signal(signal.SIGTERM, before)
