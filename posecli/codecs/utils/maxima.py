"""Argmax of heatmaps and SimCC vectors, vectorised over any leading batch dimensions."""

from __future__ import annotations

import numpy as np


def heatmap_maximum(heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Location and value of each map's maximum (first maximum in row-major order).

    Args:
        heatmaps: (..., H, W).

    Returns:
        ``locs (..., 2)`` float32 as ``(x, y)`` heatmap pixels and ``vals (...)``; where the
        maximum is ≤ 0 the location is ``-1`` (MMPose's convention for "no keypoint").
    """
    heatmaps = np.asarray(heatmaps)
    *lead, h, w = heatmaps.shape
    flat = heatmaps.reshape(-1, h * w)
    idx = flat.argmax(axis=1)
    vals = np.take_along_axis(flat, idx[:, None], axis=1)[:, 0]
    locs = np.stack((idx % w, idx // w), axis=-1).astype(np.float32)
    locs[vals <= 0] = -1
    return locs.reshape(*lead, 2), vals.reshape(lead)


def _softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def simcc_maximum(
    simcc_x: np.ndarray, simcc_y: np.ndarray, apply_softmax: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Bin of the maximum on each axis and the smaller of the two maxima as score.

    Args:
        simcc_x: (..., Wx) x-axis vectors.
        simcc_y: (..., Wy) y-axis vectors (same leading shape).
        apply_softmax: take the softmax of each vector first (visibility decoding).

    Returns:
        ``locs (..., 2)`` float32 bins ``(x, y)`` and ``vals (...)`` = ``min(max_x, max_y)``;
        locations whose score is ≤ 0 are ``-1``.
    """
    simcc_x = np.asarray(simcc_x)
    simcc_y = np.asarray(simcc_y)
    if simcc_x.shape[:-1] != simcc_y.shape[:-1]:
        raise ValueError(
            f"simcc_x {tuple(simcc_x.shape)} and simcc_y {tuple(simcc_y.shape)} leading shapes differ"
        )
    if apply_softmax:
        simcc_x, simcc_y = _softmax(simcc_x), _softmax(simcc_y)
    ix = simcc_x.argmax(axis=-1)
    iy = simcc_y.argmax(axis=-1)
    vx = np.take_along_axis(simcc_x, ix[..., None], axis=-1)[..., 0]
    vy = np.take_along_axis(simcc_y, iy[..., None], axis=-1)[..., 0]
    locs = np.stack((ix, iy), axis=-1).astype(np.float32)
    vals = np.where(vx > vy, vy, vx)
    locs[vals <= 0] = -1
    return locs, vals
