"""Torch-free post-processing of bottom-up models: decoding, grouping, NMS, image mapping.

What runs after the network graph (a torch forward or an exported ONNX/TorchScript one):

- :func:`decode_associative_embedding`: heatmaps ``(B, K, H, W)`` + tags ``(B, L·K, H, W)``
  → instances by tag grouping (the ``associative_embedding`` codec).
- :func:`decode_root_displacement`: DEKR heatmaps ``(B, K+1, H, W)`` + displacements
  ``(B, 2K, H, W)`` → instances at root-map peaks, scored ``root score × keypoint score``
  (keypoint heatmaps sampled as MMPose: :func:`keypoint_heatmap_scores`), then
  :func:`nearby_joints_nms`.
- :func:`input_to_image`: input-space keypoints → image pixels
  (``kp / input_size · input_scale + input_center − input_scale / 2``).

Every function takes and returns numpy arrays; keypoints are in pixel-centre coordinates.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np


def max_nms(maps: np.ndarray, kernel: int) -> np.ndarray:
    """Zero every value of ``maps (B, C, H, W)`` that is not its ``kernel²`` window maximum."""
    from scipy.ndimage import maximum_filter

    m = np.ascontiguousarray(maps, np.float32)
    peak = maximum_filter(m, size=(1, 1, kernel, kernel), mode="constant", cval=-np.inf)
    return np.where(m == peak, m, 0).astype(np.float32)


def bilinear_sample(maps: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Values of ``maps (K, H, W)`` at ``points (N, K, 2)`` (x, y in map pixels), bilinear
    with zeros outside → ``(N, K)``."""
    k, h, w = maps.shape
    x, y = points[..., 0], points[..., 1]
    x0, y0 = np.floor(x).astype(np.int64), np.floor(y).astype(np.int64)
    fx, fy = x - x0, y - y0
    ch = np.broadcast_to(np.arange(k), x.shape)
    out = np.zeros(x.shape, np.float64)
    for dx, dy, wt in (
        (0, 0, (1 - fx) * (1 - fy)),
        (1, 0, fx * (1 - fy)),
        (0, 1, (1 - fx) * fy),
        (1, 1, fx * fy),
    ):
        xi, yi = x0 + dx, y0 + dy
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        v = maps[ch, np.clip(yi, 0, h - 1), np.clip(xi, 0, w - 1)]
        out += np.where(inside, v * wt, 0.0)
    return out.astype(np.float32)


def keypoint_heatmap_scores(maps: np.ndarray, points: np.ndarray) -> np.ndarray:
    """MMPose's DEKR keypoint scores: ``maps (K, H, W)`` at ``points (N, K, 2)`` → ``(N, K)``
    as torch's ``grid_sample`` (bilinear, ``align_corners=False``, border padding) of the
    points normalised by ``W - 1``, ``H - 1``: read at ``x·W/(W-1) - 1/2`` (up to half a pixel
    off ``x``), clamped to the map, then :func:`bilinear_sample`d."""
    _, h, w = maps.shape

    def source(v: np.ndarray, n: int) -> np.ndarray:
        g = v.astype(np.float32) / np.float32(max(n - 1, 1)) * np.float32(2) - np.float32(1)
        return np.clip(g * np.float32(n / 2) + np.float32((n - 1) / 2), 0, n - 1)

    grid = np.stack((source(points[..., 0], w), source(points[..., 1], h)), axis=-1)
    return bilinear_sample(np.asarray(maps, np.float32), grid)


def nearby_joints_nms(
    keypoints: np.ndarray,
    scores: np.ndarray,
    dist_thr: float = 0.05,
    num_nearby_joints_thr: int | None = None,
    max_dets: int = 30,
) -> np.ndarray:
    """DEKR's NMS: two poses are duplicates when more than ``num_nearby_joints_thr``
    (default K // 2) of their joints are closer than ``dist_thr ×`` the pose's box diagonal;
    of each duplicate set the best-scored pose (mean keypoint score) is kept.

    Args:
        keypoints: ``(N, K, 2)``. scores: ``(N, K)``.

    Returns:
        indices of the kept poses (best first within the order of the greedy pass).
    """
    n, k, _ = keypoints.shape
    if n == 0:
        return np.zeros(0, np.int64)
    thr_n = k // 2 if num_nearby_joints_thr is None else int(num_nearby_joints_thr)
    s = scores.mean(axis=1)
    span = keypoints.max(axis=1) - keypoints.min(axis=1)
    diag = np.sqrt((span**2).sum(axis=1))  # (N,)
    dist = np.sqrt(((keypoints[:, None] - keypoints[None]) ** 2).sum(-1))  # (N, N, K)
    close = (dist < diag[:, None, None] * dist_thr).sum(2) > thr_n  # (N, N)
    # A pose is its own duplicate even when its extent is zero (all joints at one point,
    # where ``dist < 0`` would leave it in no group at all).
    close[np.arange(n), np.arange(n)] = True
    ignored: set[int] = set()
    keep: list[int] = []
    for i in np.argsort(s)[::-1]:
        if int(i) in ignored:
            continue
        group = np.flatnonzero(close[i])
        best = int(group[np.argmax(s[group])])
        if best not in ignored:
            keep.append(best)
            ignored |= {int(g) for g in group}
    out = np.asarray(keep, np.int64)
    if max_dets > 0 and len(out) > max_dets:
        out = out[np.argsort(s[out])[::-1][:max_dets]]
    return out


def decode_associative_embedding(
    heatmaps: np.ndarray, tags: np.ndarray, codec: Any
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per image ``keypoints (N, K, 2)`` in input pixels and ``scores (N, K)``."""
    kps, scores = codec.batch_decode(np.asarray(heatmaps, np.float32), np.asarray(tags, np.float32))
    return [np.asarray(k, np.float32) for k in kps], [np.asarray(s, np.float32) for s in scores]


def decode_root_displacement(
    heatmaps: np.ndarray,
    displacements: np.ndarray,
    scale_factor: Sequence[float],
    *,
    max_instances: int = 30,
    nms_kernel: int = 5,
    root_thr: float = 0.01,
    nms_dist_thr: float = 0.0,
    nms_joints_thr: int | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray], list[np.ndarray]]:
    """DEKR decoding of a batch (see the module docstring).

    Returns per image ``keypoints (N, K, 2)`` (input pixels), ``scores (N, K)`` (root ×
    keypoint) and ``keypoint_scores (N, K)`` (keypoint heatmaps alone; the rescore net's input).
    """
    hm = np.asarray(heatmaps, np.float32)
    dp = np.asarray(displacements, np.float32)
    b, c, h, w = hm.shape
    k = dp.shape[1] // 2
    if c not in (k + 1, 1) or dp.shape[2:] != (h, w):
        raise ValueError(f"heatmaps {hm.shape} do not match displacements {dp.shape}")
    root = max_nms(hm[:, -1:], nms_kernel).reshape(b, -1)
    t = min(int(max_instances), h * w)
    order = np.argsort(-root, axis=1, kind="stable")[:, :t]
    vals = np.take_along_axis(root, order, 1)
    sf = np.asarray(scale_factor, np.float32).reshape(2)
    out_k, out_s, out_ks = [], [], []
    for i in range(b):
        sel = vals[i] > root_thr
        idx, rs = order[i][sel], vals[i][sel]
        d = dp[i].reshape(k, 2, h * w)[:, :, idx].transpose(2, 0, 1)  # (N, K, 2)
        grid = np.stack((idx % w, idx // w), -1).astype(np.float32)[:, None]
        kp = grid + d
        ks = (
            keypoint_heatmap_scores(hm[i, :k], kp)
            if c == k + 1
            else np.ones(kp.shape[:2], np.float32)
        )
        kp = (kp * sf).astype(np.float32)
        sc = (rs[:, None] * ks).astype(np.float32)
        if len(kp) and nms_dist_thr > 0:
            keep = nearby_joints_nms(kp, ks, nms_dist_thr, nms_joints_thr, int(max_instances))
            kp, sc, ks = kp[keep], sc[keep], ks[keep]
        out_k.append(kp)
        out_s.append(sc)
        out_ks.append(ks)
    return out_k, out_s, out_ks


def input_to_image(
    keypoints: np.ndarray,
    input_size: Sequence[float],
    input_center: Sequence[float],
    input_scale: Sequence[float],
) -> np.ndarray:
    """Input-space keypoints ``(..., 2)`` → image pixels (MMPose's bottom-up mapping)."""
    size = np.asarray(input_size, np.float32)
    scale = np.asarray(input_scale, np.float32)
    center = np.asarray(input_center, np.float32)
    return (np.asarray(keypoints, np.float32) / size * scale + center - 0.5 * scale).astype(
        np.float32
    )


def images_to_image_space(
    per_image: Sequence[np.ndarray],
    input_size: Sequence[float],
    centers: np.ndarray,
    scales: np.ndarray,
) -> list[np.ndarray]:
    """:func:`input_to_image` for each image's points (keypoints ``(N, K, 2)`` or xyxy boxes
    ``(N, 4)``: any array of (x, y) pairs), with that image's ``centers[i]``/``scales[i]``."""
    return [
        input_to_image(np.asarray(a).reshape(-1, 2), input_size, centers[i], scales[i]).reshape(
            np.shape(a)
        )
        for i, a in enumerate(per_image)
    ]


__all__ = [
    "bilinear_sample",
    "decode_associative_embedding",
    "decode_root_displacement",
    "images_to_image_space",
    "input_to_image",
    "keypoint_heatmap_scores",
    "max_nms",
    "nearby_joints_nms",
]
