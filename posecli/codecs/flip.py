"""Flip-test helpers: bring outputs of a horizontally flipped input back to the plain frame.

All helpers take a batch (numpy or torch, same kind returned) and a ``flip_indices`` list (the
left/right partner of every keypoint). Semantics follow MMPose (reference §3):

- heatmaps ``(N, C, H, W)``: flip along W and reorder channels; ``udp_combined`` also negates
  the x-offset channel of each ``[class, x, y]`` triple, ``offset`` the x of each ``[x, y]``
  pair; ``shift_heatmap`` then moves everything one pixel right (MSRA/DARK configs: the flip
  is otherwise off by ``1 - 1/scale`` = 0.75 heatmap px; with the shift 0.25 px remain).
- SimCC ``(N, K, Wx)``/``(N, K, Wy)``: x reversed and reordered, y reordered. MMPose leaves
  a bias of ``ratio - 1`` bins (0.5 input px at ratio 2); ``shift_bins=ratio-1`` (see
  :func:`simcc_flip_shift`) removes it.
- normalised coordinates ``(N, K, D)``: ``x = 1 - x - 1/w`` (``shift_coords``), reordered:
  exact.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from posecli.codecs.utils.backend import is_tensor

FLIP_MODES = ("heatmap", "udp_combined", "offset")


def _xp_flip(x: Any, axis: int) -> Any:
    return x.flip(axis) if is_tensor(x) else np.flip(x, axis=axis)


def _copy(x: Any) -> Any:
    return x.clone() if is_tensor(x) else np.array(x, copy=True)


def _index(flip_indices: Sequence[int], n: int, what: str) -> list[int]:
    idx = [int(i) for i in flip_indices]
    if len(idx) != n:
        raise ValueError(f"flip_indices has {len(idx)} entries but {what} has {n} keypoints")
    return idx


def flip_heatmaps(
    heatmaps: Any,
    flip_indices: Sequence[int],
    flip_mode: str = "heatmap",
    shift_heatmap: bool = False,
) -> Any:
    """Flip back heatmaps ``(N, C, H, W)`` predicted on a flipped input.

    Args:
        heatmaps: (N, C, H, W); C = K (``heatmap``), 3K (``udp_combined``), 2K (``offset``).
        flip_indices: K partner indices.
        flip_mode: ``"heatmap"``, ``"udp_combined"`` or ``"offset"``.
        shift_heatmap: shift one pixel right after flipping (``h[..., 1:] = h[..., :-1]``).

    Returns:
        Flipped heatmaps, same shape and kind.
    """
    if flip_mode not in FLIP_MODES:
        raise ValueError(f"flip_mode must be one of {', '.join(FLIP_MODES)}, got {flip_mode!r}")
    if heatmaps.ndim != 4:
        raise ValueError(f"heatmaps must have shape (N, C, H, W), got {tuple(heatmaps.shape)}")
    n, c, h, w = heatmaps.shape
    per = {"heatmap": 1, "udp_combined": 3, "offset": 2}[flip_mode]
    if c % per:
        raise ValueError(f"{flip_mode} heatmaps need a multiple of {per} channels, got {c}")
    idx = _index(flip_indices, c // per, "heatmaps")
    out = _xp_flip(heatmaps.reshape(n, c // per, per, h, w), -1)[:, idx]
    out = _copy(out)
    if flip_mode == "udp_combined":
        out[:, :, 1] = -out[:, :, 1]
    elif flip_mode == "offset":
        out[:, :, 0] = -out[:, :, 0]
    out = out.reshape(n, c, h, w)
    if shift_heatmap:
        out[..., 1:] = _copy(out[..., :-1])
    return out


def simcc_flip_shift(simcc_split_ratio: float) -> float:
    """Bins by which MMPose's SimCC flip is off: ``ratio - 1`` (1 bin = 0.5 px at ratio 2)."""
    return float(simcc_split_ratio) - 1.0


def flip_simcc(
    simcc_x: Any, simcc_y: Any, flip_indices: Sequence[int], shift_bins: float = 0.0
) -> tuple[Any, Any]:
    """Flip back SimCC vectors ``(N, K, Wx)``, ``(N, K, Wy)`` predicted on a flipped input.

    Args:
        simcc_x, simcc_y: x and y vectors.
        flip_indices: K partner indices.
        shift_bins: move the reversed x vector this many bins toward 0 (linear interpolation,
            edge values repeated). ``0`` is MMPose; ``simcc_flip_shift(ratio)`` is unbiased.

    Returns:
        ``(simcc_x, simcc_y)`` flipped back, same kind.
    """
    if simcc_x.ndim != 3 or simcc_y.ndim != 3:
        raise ValueError(
            f"simcc vectors must have shape (N, K, W), got {tuple(simcc_x.shape)} and "
            f"{tuple(simcc_y.shape)}"
        )
    idx = _index(flip_indices, simcc_x.shape[1], "simcc_x")
    x = _copy(_xp_flip(simcc_x, -1)[:, idx])
    y = _copy(simcc_y[:, idx])
    if shift_bins:
        x = _shift_left(x, float(shift_bins))
    return x, y


def _shift_left(x: Any, s: float) -> Any:
    """``out[i] = x[i + s]`` by linear interpolation, clamped at the last bin."""
    n = x.shape[-1]
    pos = np.minimum(np.arange(n) + s, n - 1)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, n - 1)
    frac = (pos - lo).astype(np.float32)
    if is_tensor(x):
        import torch

        lo_t, hi_t = torch.from_numpy(lo).to(x.device), torch.from_numpy(hi).to(x.device)
        f = torch.from_numpy(frac).to(x.device, x.dtype)
        return x[..., lo_t] * (1 - f) + x[..., hi_t] * f
    return (x[..., lo] * (1 - frac) + x[..., hi] * frac).astype(x.dtype)


def flip_coordinates(
    coords: Any,
    flip_indices: Sequence[int],
    input_size: tuple[int, int],
    shift_coords: bool = True,
) -> Any:
    """Flip back normalised coordinates ``(N, K, D)`` (x in [0, 1] of the input width).

    ``x → 1 - x`` (minus ``1/w`` with ``shift_coords``, which makes it exact for pixel-centre
    coordinates), then channels reordered; other components (y, σ) are only reordered.
    """
    if coords.ndim != 3:
        raise ValueError(f"coords must have shape (N, K, D), got {tuple(coords.shape)}")
    idx = _index(flip_indices, coords.shape[1], "coords")
    out = _copy(coords[:, idx])
    out[..., 0] = 1.0 - out[..., 0]
    if shift_coords:
        out[..., 0] = out[..., 0] - 1.0 / float(input_size[0])
    return out
