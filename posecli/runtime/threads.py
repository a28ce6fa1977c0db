"""The backend's thread count, measured instead of fixed.

Decoding, cropping and writing run in their own threads beside the backend; how many
intra-op threads the backend should take depends on how heavy those are next to the model
(a small model with a detector wants fewer, a large one all cores). :class:`ThreadTuner`
tries each candidate on real batches of the run (the results are used, nothing is wasted) and
keeps the one with the most frames per second end to end.

Trying a candidate is not free: each one starts cold (a new ONNX Runtime session, first runs
that allocate), which costs a few seconds on a 2-core machine. :class:`ThreadMemory` keeps
each measured choice in ``$POSECLI_CACHE_DIR/threads.json`` (default ``~/.cache/posecli``)
under a key naming the model file, the backend, the cores, the batch and the outputs, so the
next run of the same work starts with it (``--threads N`` still fixes the count; deleting the
file measures again).
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
from pathlib import Path
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


def cache_dir() -> Path:
    """posecli's cache folder: ``$POSECLI_CACHE_DIR`` or ``~/.cache/posecli``."""
    env = os.environ.get("POSECLI_CACHE_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "posecli"


class ThreadMemory:
    """Thread counts measured in earlier runs, one entry per work key, in a JSON file.

    An unreadable file is treated as empty and a failed write is logged, never raised: the
    memory only saves the next run its measurement.

    Args:
        path: the file (default ``cache_dir() / "threads.json"``).
    """

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or cache_dir() / "threads.json"

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def recall(self, key: str) -> tuple[int, dict[int, float]] | None:
        """``(threads, {threads: frames/s})`` measured for ``key``, or ``None``."""
        entry = self._read().get(key)
        try:
            rates = {int(n): float(r) for n, r in entry["rates"].items()}
            return int(entry["threads"]), rates
        except (TypeError, KeyError, ValueError, AttributeError):
            return None

    def remember(self, key: str, threads: int, rates: dict[int, float]) -> None:
        """Store the choice for ``key`` (the file is replaced atomically)."""
        data = self._read()
        data[key] = {
            "threads": int(threads),
            "rates": {str(n): round(r, 2) for n, r in rates.items()},
        }
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, suffix=".tmp")
            with os.fdopen(fd, "w") as fh:
                json.dump(data, fh, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        except OSError as exc:
            log.info("could not keep the measured thread count in %s (%s)", self.path, exc)


class ThreadTuner:
    """Measure frames/s per thread count over the first batches of a stream.

    Call :meth:`step` before each batch with the number of frames it holds. Each candidate
    first runs one untimed batch (a switch can rebuild the backend's session, and a first run
    pays for allocation and kernel selection), then ``batches`` timed batches; afterwards the
    fastest is set and kept. :meth:`finish` returns a one-line report.

    With a ``memory`` and a ``key``, a choice measured earlier for the same key (and still
    among the candidates) is used at once; a new measurement is stored once every candidate
    has been timed.

    Args:
        backend: anything with ``set_threads(n)``.
        candidates: thread counts to try (default :func:`thread_candidates`).
        batches: timed batches per candidate.
        memory: where measured choices are kept.
        key: what is being measured (model, backend, cores, batch, outputs).
    """

    def __init__(
        self,
        backend: Any,
        candidates: list[int] | None = None,
        batches: int = 2,
        *,
        memory: ThreadMemory | None = None,
        key: str | None = None,
    ) -> None:
        self.backend = backend
        self.candidates = candidates or thread_candidates()
        self.batches = int(batches)
        self.rates: dict[int, float] = {}
        self.chosen: int | None = None
        self.recalled = False
        self._memory = memory if key else None
        self._key = key or ""
        self._i = 0
        self._cold = True  # the batch now running is the candidate's untimed one
        self._running = False
        self._frames = self._batches = self._pending = 0
        self._t0 = 0.0
        earlier = self._memory.recall(self._key) if self._memory is not None else None
        if earlier is not None and earlier[0] in self.candidates:
            self.chosen, self.rates, self.recalled = earlier[0], earlier[1], True
            backend.set_threads(self.chosen)
            return
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
        if self._memory is not None and len(self.rates) == len(self.candidates):
            self._memory.remember(self._key, self.chosen, self.rates)

    def finish(self) -> str:
        """``threads N (measured: a → x frames/s, ...)``; sets the best one measured so far."""
        if self.chosen is None and self.rates:
            self._choose()
        chosen = self.chosen if self.chosen is not None else self.candidates[0]
        if not self.rates:
            return f"threads {chosen} (too few frames to measure)"
        measured = ", ".join(f"{n} → {r:.1f} frames/s" for n, r in sorted(self.rates.items()))
        when = "measured in an earlier run" if self.recalled else "measured"
        return f"threads {chosen} ({when}: {measured})"


__all__ = ["ThreadMemory", "ThreadTuner", "available_cores", "cache_dir", "thread_candidates"]
