"""Decoupled heatmaps (CID): global keypoint/root heatmaps plus one heatmap set per instance."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, heatmap_scale, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.bottom_up import check_root_type, gaussian_radius, instance_roots
from posecli.codecs.utils.maxima import heatmap_maximum
from posecli.codecs.utils.refine import refine_quarter


def _gaussians(size: tuple[int, int], centres: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Peak-1 gaussians ``(M, H, W)`` at ``centres (M, 2)`` rounded to the nearest cell
    (``int(p + 0.5)``, as MMPose's ``generate_gaussian_heatmaps``: the peak is exactly 1,
    which the focal loss takes as the positive) with per-map ``sigmas``."""
    w, h = size
    c = np.trunc(centres + 0.5)
    ex = (np.arange(w) - c[:, 0, None]) ** 2
    ey = (np.arange(h) - c[:, 1, None]) ** 2
    s2 = 2 * sigmas[:, None, None] ** 2
    return np.exp(-(ey[:, :, None] + ex[:, None, :]) / s2).astype(np.float32)


class DecoupledHeatmap(BaseCodec):
    """CID targets: ``(K+1, H, W)`` global maps and per-instance keypoint maps.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        root_type: ``"kpt_center"`` or ``"bbox_center"``.
        heatmap_min_overlap: CornerNet overlap giving each instance's radius (σ = radius/3).
        encode_max_instances: at most this many instances are encoded.

    Encoded: ``heatmaps (K+1, H, W)`` (keypoints, then roots; instances max-merged),
    ``instance_heatmaps (M·K, H, W)``, ``instance_coords (M, 2)`` int64 root cells, jittered
    in a 3×3 neighbourhood (pass ``rng=np.random.Generator`` to ``encode`` for
    reproducibility), ``keypoint_weights (M, K)``.
    ``batch_decode(instance_heatmaps (B, M, K, H, W), instance_scores (B, M))`` →
    ``(B, M, K, 2)``, ``(B, M, K)`` (keypoint maxima × instance score).
    """

    name = "decoupled_heatmap"
    mmpose_name = "DecoupledHeatmap"

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        root_type: str = "kpt_center",
        heatmap_min_overlap: float = 0.7,
        encode_max_instances: int = 30,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.heatmap_size = size2(heatmap_size, "heatmap_size")
        self.root_type = check_root_type(root_type)
        if not 0 < heatmap_min_overlap < 1:
            raise ValueError(f"heatmap_min_overlap must be in (0, 1), got {heatmap_min_overlap!r}")
        self.heatmap_min_overlap = float(heatmap_min_overlap)
        self.encode_max_instances = int(encode_max_instances)
        self.scale_factor = heatmap_scale(self.input_size, self.heatmap_size)

    def encode(
        self,
        keypoints: Any,
        keypoints_visible: Any = None,
        bbox: Any = None,
        rng: np.random.Generator | None = None,
        **aux: Any,
    ) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) [and boxes (N, 4) xyxy in input px] → CID targets."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        rng = rng if rng is not None else np.random.default_rng()
        p = kp / self.scale_factor
        n, k, _ = p.shape
        w, h = self.heatmap_size
        roots, roots_vis = instance_roots(p, vis, self.root_type)
        if bbox is not None:
            box = to_numpy(bbox).reshape(n, 4) / np.tile(self.scale_factor, 2)
            size = box[:, 2:] - box[:, :2]
        else:
            v = vis[..., None] > 0
            size = np.where(v, p, -np.inf).max(1) - np.where(v, p, np.inf).min(1)
            size = np.where(np.isfinite(size), size, 0)
        sigma = np.maximum(gaussian_radius(np.maximum(size, 0), self.heatmap_min_overlap), 1) / 3
        keep = np.flatnonzero(roots_vis > 0)[: self.encode_max_instances]
        m = keep.size
        inst = _gaussians(self.heatmap_size, p[keep].reshape(-1, 2), np.repeat(sigma[keep], k))
        drawn = (vis[keep] >= 0.5).reshape(-1)
        inside = ((p[keep] >= 0) & (p[keep] < np.array([w, h]))).all(-1).reshape(-1)
        inst = np.where((drawn & inside)[:, None, None], inst, 0).astype(np.float32)
        root_maps = _gaussians(self.heatmap_size, roots[keep], sigma[keep])
        heatmaps = np.zeros((k + 1, h, w), np.float32)
        if m:
            heatmaps[:k] = inst.reshape(m, k, h, w).max(0)
            heatmaps[k] = root_maps.max(0)
        jitter = rng.integers(-1, 2, size=(m, 2))
        coords = np.clip(np.trunc(roots[keep] + 0.5).astype(np.int64) + jitter, 0, [w - 1, h - 1])
        weights = np.where(vis[keep] >= 0.5, 1.0, 0.0) * inside.reshape(m, k)
        return {
            "heatmaps": heatmaps,
            "instance_heatmaps": inst.reshape(m * k, h, w),
            "instance_coords": coords.astype(np.int64),
            "keypoint_weights": weights.astype(np.float32),
        }

    def decode(self, instance_heatmaps: Any, instance_scores: Any) -> tuple[Any, Any]:
        """One image: instance heatmaps (M, K, H, W), scores (M,) → (M, K, 2), (M, K)."""
        kps, scores = self.batch_decode(instance_heatmaps[None], instance_scores[None])
        return kps[0], scores[0]

    def batch_decode(self, instance_heatmaps: Any, instance_scores: Any) -> tuple[Any, Any]:
        """Instance heatmaps (B, M, K, H, W) → keypoints (B, M, K, 2), scores (B, M, K)."""
        back = restorer(instance_heatmaps)
        hm = to_numpy(instance_heatmaps)
        sc = to_numpy(instance_scores)
        check_ndim(type(self).__name__, "instance_heatmaps", hm, 5, "(B, M, K, H, W)")
        if sc.shape != hm.shape[:2]:
            raise ValueError(
                f"DecoupledHeatmap: instance_scores must have shape {hm.shape[:2]}, got {sc.shape}"
            )
        locs, vals = heatmap_maximum(hm)
        locs = refine_quarter(locs, hm)
        keypoints = (locs * self.scale_factor).astype(np.float32)
        scores = (vals * sc[..., None]).astype(np.float32)
        return back(keypoints), back(scores)
