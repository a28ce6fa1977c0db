"""Gaussian blur of heatmaps and SimCC vectors as MMPose does it, for whole batches at once.

MMPose blurs one map at a time: zero-pad by ``(k-1)/2``, ``cv2.GaussianBlur`` with ``sigma=0``
(OpenCV's rule ``σ = 0.3((k-1)/2 - 1) + 0.8``), crop, and rescale so the map keeps its maximum.
Here every map of a batch is stacked into one tall image with zero gaps between maps, so a single
OpenCV call blurs them all with exactly that zero padding.
"""

from __future__ import annotations

import cv2
import numpy as np


def gaussian_kernel_1d(kernel: int) -> np.ndarray:
    """OpenCV's 1-D gaussian kernel of odd size ``kernel`` with ``sigma=0``, shape (kernel,)."""
    _check_kernel(kernel)
    return cv2.getGaussianKernel(kernel, 0).astype(np.float64).ravel()


def _check_kernel(kernel: int) -> None:
    if int(kernel) != kernel or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"blur kernel size must be a positive odd integer, got {kernel!r}")


def blur_zero_padded(maps: np.ndarray, kernel: int) -> np.ndarray:
    """Blur every (H, W) map of ``maps (..., H, W)`` with zero padding, no rescaling.

    Returns a new float32 array of the same shape.
    """
    _check_kernel(kernel)
    maps = np.asarray(maps, dtype=np.float32)
    *lead, h, w = maps.shape
    if kernel == 1 or maps.size == 0:
        return maps.copy()
    b = (kernel - 1) // 2
    flat = maps.reshape(-1, h, w)
    m = flat.shape[0]
    # Tall image: [b zero rows] map0 [b zero rows] map1 ... ; BORDER_CONSTANT pads columns by 0.
    tall = np.zeros((b + m * (h + b), w), np.float32)
    tall[b:].reshape(m, h + b, w)[:, :h] = flat
    out = cv2.GaussianBlur(tall, (kernel, kernel), 0, borderType=cv2.BORDER_CONSTANT)
    return out[b:].reshape(m, h + b, w)[:, :h].reshape(*lead, h, w)


def gaussian_blur(heatmaps: np.ndarray, kernel: int = 11) -> np.ndarray:
    """MMPose's ``gaussian_blur`` on a batch: zero-padded blur, then each map keeps its maximum.

    Args:
        heatmaps: maps of shape (..., H, W).
        kernel: odd kernel size (11 ↔ σ=2, 17 ↔ σ≈3).

    Returns:
        float32 array (..., H, W). A map whose blurred maximum is 0 becomes NaN (0/0), as in MMPose.
    """
    heatmaps = np.asarray(heatmaps, dtype=np.float32)
    blurred = blur_zero_padded(heatmaps, kernel)
    origin_max = heatmaps.max(axis=(-2, -1), keepdims=True)
    new_max = blurred.max(axis=(-2, -1), keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        blurred *= origin_max / new_max
    return blurred


def gaussian_blur1d(vectors: np.ndarray, kernel: int = 11) -> np.ndarray:
    """MMPose's ``gaussian_blur1d``: zero-padded 1-D blur of ``(..., L)`` keeping each maximum."""
    _check_kernel(kernel)
    vectors = np.asarray(vectors, dtype=np.float32)
    *lead, n = vectors.shape
    if kernel == 1 or vectors.size == 0:
        return vectors.copy()
    flat = vectors.reshape(-1, n)
    # One row per vector; BORDER_CONSTANT along x is exactly MMPose's zero padding, and a
    # (kernel, 1) kernel never mixes rows.
    out = cv2.GaussianBlur(flat, (kernel, 1), 0, borderType=cv2.BORDER_CONSTANT)
    out = out.reshape(*lead, n)
    origin_max = vectors.max(axis=-1, keepdims=True)
    new_max = out.max(axis=-1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out *= origin_max / new_max
    return out


def blur_reflect(maps: np.ndarray, kernel: int) -> np.ndarray:
    """Plain ``cv2.GaussianBlur`` (default reflect-101 border, no rescale) of each (H, W) map."""
    _check_kernel(kernel)
    maps = np.asarray(maps, dtype=np.float32)
    *lead, h, w = maps.shape
    flat = maps.reshape(-1, h, w)
    if flat.shape[0] == 0:
        return maps.copy()
    # cv2 handles up to 4 channels per call; group the maps 4 at a time as channels.
    m = flat.shape[0]
    pad = (-m) % 4
    if pad:
        flat = np.concatenate([flat, np.zeros((pad, h, w), np.float32)])
    chans = np.ascontiguousarray(flat.reshape(-1, 4, h, w).transpose(0, 2, 3, 1))
    out = np.stack([cv2.GaussianBlur(c, (kernel, kernel), 0) for c in chans])
    out = out.transpose(0, 3, 1, 2).reshape(-1, h, w)[:m]
    return out.reshape(*lead, h, w)
