"""A Ctrl-C raised inside a weakref callback is dropped by Python ("Exception ignored");
the latch the trainer holds still stops the run at its next check."""

from __future__ import annotations

import signal
import weakref
from collections.abc import Iterator

import pytest

from posecli.engine.interrupts import InterruptLatch


class _Object:
    pass


@pytest.fixture(autouse=True)
def _python_sigint_handler() -> Iterator[None]:
    """Python's own SIGINT handler, whatever the test process inherited (a shell's
    background job starts with SIGINT ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


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


def test_a_handler_set_by_someone_else_is_left_alone() -> None:
    """``nohup … &`` ignores SIGINT; an application may install its own: the latch keeps out."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    with InterruptLatch() as latch:
        assert signal.getsignal(signal.SIGINT) == signal.SIG_IGN
        signal.raise_signal(signal.SIGINT)  # ignored, as the process asked
    assert not latch.pending and signal.getsignal(signal.SIGINT) == signal.SIG_IGN
