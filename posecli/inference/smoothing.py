"""Temporal smoothing of keypoints: the One-Euro filter (Casiez, Roussel & Vogel, CHI 2012).

A One-Euro filter is an exponential smoother whose cut-off frequency rises with the signal's
speed: ``cutoff = min_cutoff + beta · |dx/dt|``, so slow motion is strongly smoothed (low
jitter) and fast motion is followed with little lag. :class:`OneEuroFilter` filters an array of
points at once (vectorised over keypoints and coordinates); :class:`KeypointSmoother` keeps one
filter per track id.

Missing samples (NaN coordinates, or keypoints the caller marks invalid) leave that keypoint's
state untouched and pass through as given; when it reappears the time step is measured from its
last valid sample, and after ``reset_after_s`` without a sample its state restarts.
"""

from __future__ import annotations

import numpy as np

__all__ = ["KeypointSmoother", "OneEuroFilter"]


def _alpha(cutoff: np.ndarray | float, dt: np.ndarray) -> np.ndarray:
    """Smoothing factor of an exponential filter with ``cutoff`` Hz for time steps ``dt`` s."""
    tau = 1.0 / (2.0 * np.pi * np.asarray(cutoff, np.float64))
    return 1.0 / (1.0 + tau / dt)


class OneEuroFilter:
    """One-Euro filter of ``(K, D)`` points, each coordinate filtered on its own.

    Args:
        min_cutoff: minimum cut-off frequency (Hz); lower = smoother when still.
        beta: speed coefficient; higher = less lag when moving.
        d_cutoff: cut-off frequency (Hz) of the derivative estimate.
        reset_after_s: a keypoint unseen for longer restarts from its next sample.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        *,
        reset_after_s: float = 1.0,
    ) -> None:
        if min_cutoff <= 0 or d_cutoff <= 0 or beta < 0:
            raise ValueError("One-Euro filter needs min_cutoff > 0, d_cutoff > 0 and beta >= 0")
        self.min_cutoff, self.beta, self.d_cutoff = min_cutoff, beta, d_cutoff
        self.reset_after_s = reset_after_s
        self._x: np.ndarray | None = None  # (K, D) filtered value
        self._dx: np.ndarray | None = None  # (K, D) filtered derivative
        self._t: np.ndarray | None = None  # (K,) time of the last valid sample (NaN: never)

    def reset(self) -> None:
        """Forget the state of every keypoint."""
        self._x = self._dx = self._t = None

    def __call__(self, x: np.ndarray, t: float, valid: np.ndarray | None = None) -> np.ndarray:
        """Filter the sample ``x`` ``(K, D)`` taken at time ``t`` seconds.

        Args:
            x: points; NaN rows count as missing.
            t: time stamp in seconds, increasing between calls.
            valid: ``(K,)`` booleans; ``False`` rows are missing (state kept, passed through).

        Returns:
            ``(K, D)`` float64: filtered points for valid rows, ``x`` itself for missing ones.
        """
        x = np.asarray(x, np.float64)
        ok = np.isfinite(x).all(axis=1)
        if valid is not None:
            ok &= np.asarray(valid, bool).reshape(-1)
        if self._x is None or self._x.shape != x.shape:
            self._x = np.where(ok[:, None], x, np.nan)
            self._dx = np.zeros_like(x)
            self._t = np.where(ok, float(t), np.nan)
            return x.copy()
        assert self._dx is not None and self._t is not None
        dt = float(t) - self._t
        stale = ~np.isfinite(dt) | (dt > self.reset_after_s)
        start = ok & stale  # first sample, or a sample after a long gap
        step = ok & ~stale & (dt > 0)
        out = x.copy()
        if step.any():
            d = dt[step][:, None]
            dx = (x[step] - self._x[step]) / d
            dx_hat = self._dx[step] + _alpha(self.d_cutoff, d) * (dx - self._dx[step])
            cutoff = self.min_cutoff + self.beta * np.abs(dx_hat)
            x_hat = self._x[step] + _alpha(cutoff, d) * (x[step] - self._x[step])
            self._x[step], self._dx[step] = x_hat, dx_hat
            out[step] = x_hat
        keep = ok & ~stale & (dt <= 0)  # same time stamp again: return the current estimate
        out[keep] = self._x[keep]
        self._x[start], self._dx[start] = x[start], 0.0
        self._t[step | start] = float(t)
        return out


class KeypointSmoother:
    """One :class:`OneEuroFilter` per track, for ``(N, K, 2)`` keypoints of successive frames.

    Args:
        min_cutoff, beta, d_cutoff, reset_after_s: see :class:`OneEuroFilter`.
        kpt_thr: keypoints scoring below this are treated as missing.
        max_idle_s: tracks unseen for longer are forgotten.
    """

    def __init__(
        self,
        min_cutoff: float = 1.0,
        beta: float = 0.0,
        d_cutoff: float = 1.0,
        *,
        reset_after_s: float = 1.0,
        kpt_thr: float = 0.0,
        max_idle_s: float = 5.0,
    ) -> None:
        self.params = {
            "min_cutoff": min_cutoff,
            "beta": beta,
            "d_cutoff": d_cutoff,
            "reset_after_s": reset_after_s,
        }
        self.kpt_thr, self.max_idle_s = kpt_thr, max_idle_s
        self._filters: dict[int, tuple[OneEuroFilter, float]] = {}

    def __call__(
        self,
        keypoints: np.ndarray,
        t: float,
        track_ids: np.ndarray | None = None,
        scores: np.ndarray | None = None,
    ) -> np.ndarray:
        """Smooth one frame.

        Args:
            keypoints: ``(N, K, 2)`` image pixels.
            t: frame time in seconds.
            track_ids: ``(N,)`` ids (default ``0..N-1``: instance order is the identity).
            scores: ``(N, K)`` keypoint scores (keypoints below ``kpt_thr`` pass through).

        Returns:
            ``(N, K, 2)`` float32 smoothed keypoints.
        """
        kpts = np.asarray(keypoints, np.float32)
        n = kpts.shape[0]
        ids = np.arange(n) if track_ids is None else np.asarray(track_ids).reshape(n)
        out = np.empty_like(kpts)
        for i in range(n):
            tid = int(ids[i])
            filt = self._filters.get(tid, (None, 0.0))[0] or OneEuroFilter(**self.params)
            valid = None if scores is None else np.asarray(scores[i]) >= self.kpt_thr
            out[i] = filt(kpts[i], t, valid).astype(np.float32)
            self._filters[tid] = (filt, float(t))
        self._filters = {k: v for k, v in self._filters.items() if t - v[1] <= self.max_idle_s}
        return out
