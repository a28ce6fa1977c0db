"""A Ctrl-C raised inside a weakref callback is dropped by Python ("Exception ignored");
the latch the trainer holds still stops the run at its next check."""

from __future__ import annotations

import signal
import weakref

import pytest

from posecli.engine.interrupts import InterruptLatch


class _Object:
    pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_sigint_dropped_in_a_finaliser_is_raised_at_the_next_check() -> None:
    with InterruptLatch() as latch:
        assert signal.getsignal(signal.SIGINT) == latch.handle
        obj = _Object()
        ref = weakref.ref(obj, lambda _: latch.handle(signal.SIGINT, None))
        del obj  # the handler's KeyboardInterrupt goes to sys.unraisablehook, not here
        assert ref() is None and latch.pending
        with pytest.raises(KeyboardInterrupt):
            latch.check()
        latch.check()  # once only
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_sigint_raises_at_once_as_usual() -> None:
    with InterruptLatch() as latch, pytest.raises(KeyboardInterrupt):
        signal.raise_signal(signal.SIGINT)
    assert latch.pending  # nothing caught it, so the run stops there anyway
