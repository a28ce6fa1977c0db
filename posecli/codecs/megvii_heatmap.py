"""Megvii heatmaps (MSPN/RSN): blurred one-hot targets scaled to 255."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, heatmap_scale, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.blur import blur_reflect, gaussian_blur
from posecli.codecs.utils.maxima import heatmap_maximum


class MegviiHeatmap(BaseCodec):
    """One-hot at ``int(p)`` blurred by ``cv2.GaussianBlur(kernel_size)`` and scaled to 255.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        kernel_size: odd gaussian kernel size (σ from OpenCV's rule).

    Encoded: ``heatmaps (K, H, W)`` (peak 255), ``keypoint_weights (1, K)``.
    ``batch_decode(heatmaps (B, K, H, W))`` → keypoints ``(B, K, 2)``, scores
    ``max/255 + 0.5`` ``(B, K)``.
    """

    name = "megvii_heatmap"
    mmpose_name = "MegviiHeatmap"
    single_instance = True

    def __init__(
        self, input_size: tuple[int, int], heatmap_size: tuple[int, int], kernel_size: int
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.heatmap_size = size2(heatmap_size, "heatmap_size")
        if int(kernel_size) != kernel_size or kernel_size < 1 or kernel_size % 2 == 0:
            raise ValueError(f"kernel_size must be a positive odd integer, got {kernel_size!r}")
        self.kernel_size = int(kernel_size)
        self.scale_factor = heatmap_scale(self.input_size, self.heatmap_size)

    @property
    def flip_config(self) -> dict[str, Any]:
        return {"mode": "heatmap", "shift_heatmap": True}

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (1, K, 2) → ``heatmaps (K, H, W)`` and ``keypoint_weights (1, K)``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        w, h = self.heatmap_size
        k = kp.shape[1]
        cell = (kp[0] / self.scale_factor).astype(np.int64)  # truncation, as MMPose
        drawn = vis[0] >= 0.5
        inside = (cell[:, 0] >= 0) & (cell[:, 0] < w) & (cell[:, 1] >= 0) & (cell[:, 1] < h)
        weights = vis.copy()
        weights[0, drawn & ~inside] = 0
        drawn &= inside
        onehot = np.zeros((k, h, w), np.float32)
        ids = np.flatnonzero(drawn)
        onehot[ids, cell[ids, 1], cell[ids, 0]] = 1.0
        blurred = blur_reflect(onehot, self.kernel_size)
        peak = blurred[ids, cell[ids, 1], cell[ids, 0]]
        heatmaps = np.zeros_like(blurred)
        heatmaps[ids] = blurred[ids] / peak[:, None, None] * np.float32(255.0)
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def batch_decode(self, heatmaps: Any) -> tuple[Any, Any]:
        """Heatmaps (B, K, H, W) → keypoints (B, K, 2) in input pixels and scores (B, K)."""
        back = restorer(heatmaps)
        hm = to_numpy(heatmaps)
        check_ndim(type(self).__name__, "heatmaps", hm, 4, "(B, K, H, W)")
        b, k, h, w = hm.shape
        blurred = gaussian_blur(hm, self.kernel_size)
        locs, scores = heatmap_maximum(blurred)
        x = locs[..., 0].astype(np.int64)
        y = locs[..., 1].astype(np.int64)
        ok = (x > 1) & (x < w - 1) & (y > 1) & (y < h - 1)
        flat = blurred.reshape(b, k, -1)
        xc, yc = np.clip(x, 1, w - 2), np.clip(y, 1, h - 2)

        def at(xx: np.ndarray, yy: np.ndarray) -> np.ndarray:
            return np.take_along_axis(flat, (yy * w + xx)[..., None], axis=-1)[..., 0]

        diff = np.stack((at(xc + 1, yc) - at(xc - 1, yc), at(xc, yc + 1) - at(xc, yc - 1)), -1)
        step = np.sign(diff).astype(np.float32) * np.float32(0.25) + np.float32(0.5)
        locs = np.where(ok[..., None], locs + step, locs)
        keypoints = (locs * self.scale_factor).astype(np.float32)
        scores = (scores / np.float32(255.0) + np.float32(0.5)).astype(np.float32)
        return back(keypoints), back(scores)
