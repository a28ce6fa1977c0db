"""Helpers of the bottom-up codecs: heatmap NMS, top-k, CornerNet radius, instance roots."""

from __future__ import annotations

import numpy as np


def heatmap_nms(heatmaps: np.ndarray, kernel: int = 5) -> np.ndarray:
    """Zero every pixel that is not the maximum of its ``kernel × kernel`` neighbourhood.

    Args:
        heatmaps: (B, C, H, W).
        kernel: odd window size.
    """
    if int(kernel) != kernel or kernel % 2 == 0:
        raise ValueError(f"NMS kernel must be an odd integer, got {kernel!r}")
    from scipy.ndimage import maximum_filter  # numpy only: the runtime runs it without torch

    t = np.ascontiguousarray(heatmaps, dtype=np.float32)
    pooled = maximum_filter(t, size=(1, 1, kernel, kernel), mode="constant", cval=-np.inf)
    return t * (t == pooled)


def topk(values: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-``k`` values and flat indices along the last axis, sorted descending."""
    k = min(int(k), values.shape[-1])
    part = np.argpartition(-values, k - 1, axis=-1)[..., :k]
    vals = np.take_along_axis(values, part, axis=-1)
    order = np.argsort(-vals, axis=-1, kind="stable")
    return np.take_along_axis(vals, order, -1), np.take_along_axis(part, order, -1)


def gaussian_radius(size: np.ndarray, min_overlap: float = 0.7) -> np.ndarray:
    """CornerNet radius for boxes ``size (..., 2)`` = (w, h): the smallest of its three cases."""
    w = size[..., 0].astype(np.float64)
    h = size[..., 1].astype(np.float64)
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 - np.sqrt(np.maximum(b1**2 - 4 * c1, 0))) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 - np.sqrt(np.maximum(b2**2 - 16 * c2, 0))) / 8
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + np.sqrt(np.maximum(b3**2 - 4 * a3 * c3, 0))) / (2 * a3)
    return np.minimum(np.minimum(r1, r2), r3)


ROOT_TYPES = ("kpt_center", "bbox_center")


def check_root_type(root_type: str) -> str:
    """Return ``root_type`` if it is one of :data:`ROOT_TYPES`; ``ValueError`` otherwise."""
    if root_type not in ROOT_TYPES:
        raise ValueError(f"root_type must be 'kpt_center' or 'bbox_center', got {root_type!r}")
    return root_type


def instance_roots(
    keypoints: np.ndarray, visible: np.ndarray, root_type: str
) -> tuple[np.ndarray, np.ndarray]:
    """Root of every instance: mean of visible keypoints (``kpt_center``) or centre of their box.

    Returns:
        ``roots (N, 2)`` and ``roots_visible (N,)`` (1 where any keypoint is visible).
    """
    check_root_type(root_type)
    vis = visible > 0
    count = vis.sum(axis=1)
    safe = np.maximum(count, 1)[:, None]
    if root_type == "kpt_center":
        roots = (keypoints * vis[..., None]).sum(axis=1) / safe
    elif root_type == "bbox_center":
        big = np.where(vis[..., None], keypoints, np.inf)
        small = np.where(vis[..., None], keypoints, -np.inf)
        roots = (big.min(axis=1) + small.max(axis=1)) / 2
        roots = np.where(count[:, None] > 0, roots, 0)
    return roots.astype(np.float32), (count > 0).astype(np.float32)
