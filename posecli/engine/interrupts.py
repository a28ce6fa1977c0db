"""Ctrl-C that training never loses.

Python raises ``KeyboardInterrupt`` wherever the main thread is when SIGINT arrives; inside a
finaliser or a weakref callback (garbage collection) it is printed as "Exception ignored" and
dropped, and the run goes on. :class:`InterruptLatch` records every SIGINT besides raising it
as usual, and the trainer calls :meth:`InterruptLatch.check` after each iteration, so a
dropped one stops the run there.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType

from posecli._closing import Closing


class InterruptLatch(Closing):
    """Context manager: while active (main thread, Python's own SIGINT handler installed),
    a SIGINT sets :attr:`pending` and raises ``KeyboardInterrupt``; elsewhere it does
    nothing."""

    def __init__(self) -> None:
        self.pending = False
        self._installed = False

    def __enter__(self) -> InterruptLatch:
        main = threading.current_thread() is threading.main_thread()
        if main and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, self.handle)
            self._installed = True
        return self

    def handle(self, signum: int, frame: FrameType | None) -> None:
        """The SIGINT handler: remember, then Python's default (``KeyboardInterrupt``)."""
        self.pending = True
        signal.default_int_handler(signum, frame)

    def check(self) -> None:
        """Raise ``KeyboardInterrupt`` for a SIGINT whose exception was dropped."""
        if self.pending:
            self.pending = False
            raise KeyboardInterrupt

    def close(self) -> None:
        """Put Python's own handler back (when this latch replaced it)."""
        if self._installed:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            self._installed = False


__all__ = ["InterruptLatch"]
