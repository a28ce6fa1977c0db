"""The backend's thread count, measured instead of fixed.

Decoding, cropping and writing run in their own threads beside the backend; how many
intra-op threads the backend should take depends on how heavy those are next to the model
(a small model with a detector wants fewer, a large one all cores). :class:`ThreadTuner`
tries each candidate on real batches of the run (the results are used, nothing is wasted) and
keeps the one with the most frames per second end to end.
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

log = logging.getLogger(__name__)


def available_cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def thread_candidates(cores: int | None = None) -> list[int]:
    """Thread counts worth trying: all cores, one less, and half (distinct, ≥ 1), largest first."""
    n = cores or available_cores()
    return sorted({n, max(1, n - 1), max(1, n // 2)}, reverse=True)


class ThreadTuner:
    """Measure frames/s per thread count over the first batches of a stream.

    Call :meth:`step` before each batch with the number of frames it holds. Each candidate
    first runs one untimed batch (a switch can rebuild the backend's session, and a first run
    pays for allocation and kernel selection), then ``batches`` timed batches; afterwards the
    fastest is set and kept. :meth:`finish` returns a one-line report.

    Args:
        backend: anything with ``set_threads(n)``.
        candidates: thread counts to try (default :func:`thread_candidates`).
        batches: timed batches per candidate.
    """

    def __init__(self, backend: Any, candidates: list[int] | None = None, batches: int = 2) -> None:
        self.backend = backend
        self.candidates = candidates or thread_candidates()
        self.batches = int(batches)
        self.rates: dict[int, float] = {}
        self.chosen: int | None = None
        self._i = 0
        self._cold = True  # the batch now running is the candidate's untimed one
        self._running = False
        self._frames = self._batches = self._pending = 0
        self._t0 = 0.0
        backend.set_threads(self.candidates[0])
        if len(self.candidates) == 1:
            self.chosen = self.candidates[0]

    def step(self, frames: int) -> None:
        """Called before each batch, with the number of frames the batch holds."""
        if self.chosen is not None:
            return
        now = time.perf_counter()
        if self._running:  # the previous batch (``_pending`` frames) just finished
            if self._cold:
                self._cold, self._t0 = False, now
                self._frames = self._batches = 0
            else:
                self._frames += self._pending
                self._batches += 1
                if self._batches >= self.batches:
                    self.rates[self.candidates[self._i]] = self._frames / max(now - self._t0, 1e-9)
                    self._i += 1
                    if self._i >= len(self.candidates):
                        self._choose()
                        return
                    self.backend.set_threads(self.candidates[self._i])
                    self._cold = True
        self._running, self._pending = True, frames

    def _choose(self) -> None:
        self.chosen = max(self.rates, key=self.rates.__getitem__)
        self.backend.set_threads(self.chosen)

    def finish(self) -> str:
        """``threads N (measured: a → x frames/s, ...)``; sets the best one measured so far."""
        if self.chosen is None and self.rates:
            self._choose()
        chosen = self.chosen if self.chosen is not None else self.candidates[0]
        if not self.rates:
            return f"threads {chosen} (too few frames to measure)"
        measured = ", ".join(f"{n} → {r:.1f} frames/s" for n, r in sorted(self.rates.items()))
        return f"threads {chosen} (measured: {measured})"


__all__ = ["ThreadTuner", "available_cores", "thread_candidates"]
