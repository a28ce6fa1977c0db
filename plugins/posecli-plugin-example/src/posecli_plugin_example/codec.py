"""A soft-argmax heatmap codec: gaussian targets, expected-position decode.

Coordinates follow posecli's convention: keypoints ``(N, K, 2)`` in input-crop pixels
(pixel i covers [i-0.5, i+0.5]); heatmaps ``(K, H, W)``; ``scale = input_size / heatmap_size``.
"""

from __future__ import annotations

from typing import Any

import numpy as np


class SoftArgmaxHeatmap:
    """Gaussian heatmap targets; decode by the expected position under the heatmap.

    The non-negative part of each heatmap, normalised to sum 1, is read as a distribution
    over pixels and its mean is the keypoint (integral regression / soft-argmax). For a
    gaussian away from the border this is exact, with no quantisation to the heatmap grid.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(w, h)``.
        sigma: gaussian sigma in heatmap pixels.
    """

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float = 2.0,
    ) -> None:
        if sigma <= 0:
            raise ValueError(f"sigma must be positive, got {sigma}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.heatmap_size = (int(heatmap_size[0]), int(heatmap_size[1]))
        self.sigma = float(sigma)
        self.scale = np.array(self.input_size, np.float32) / np.array(self.heatmap_size, np.float32)

    def encode(
        self, keypoints: np.ndarray, keypoints_visible: np.ndarray | None = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints ``(1, K, 2)`` → ``heatmaps (K, H, W)`` and ``keypoint_weights (1, K)``."""
        keypoints = np.asarray(keypoints, np.float32)
        if keypoints.ndim != 3 or keypoints.shape[0] != 1 or keypoints.shape[2] != 2:
            raise ValueError(f"expected keypoints of shape (1, K, 2), got {keypoints.shape}")
        k = keypoints.shape[1]
        vis = (
            np.ones((1, k), np.float32)
            if keypoints_visible is None
            else np.asarray(keypoints_visible, np.float32)
        )
        w, h = self.heatmap_size
        centres = keypoints[0] / self.scale  # (K, 2) heatmap pixels
        inside = (centres >= 0).all(1) & (centres[:, 0] < w) & (centres[:, 1] < h)
        weights = vis * inside[None]
        xs = np.arange(w, dtype=np.float32)
        ys = np.arange(h, dtype=np.float32)
        gx = np.exp(-((xs[None] - centres[:, :1]) ** 2) / (2 * self.sigma**2))  # (K, W)
        gy = np.exp(-((ys[None] - centres[:, 1:]) ** 2) / (2 * self.sigma**2))  # (K, H)
        heatmaps = gy[:, :, None] * gx[:, None, :] * (weights[0] > 0)[:, None, None]
        return {"heatmaps": heatmaps.astype(np.float32), "keypoint_weights": weights}

    def batch_decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(N, K, H, W)`` → keypoints ``(N, K, 2)`` in input pixels and scores ``(N, K)``."""
        heatmaps = np.asarray(heatmaps, np.float32)
        n, k, h, w = heatmaps.shape
        mass = np.clip(heatmaps, 0, None)
        total = mass.reshape(n, k, -1).sum(-1)[..., None, None]
        prob = mass / np.where(total > 0, total, 1.0)
        x = (prob.sum(2) * np.arange(w, dtype=np.float32)).sum(-1)
        y = (prob.sum(3) * np.arange(h, dtype=np.float32)).sum(-1)
        keypoints = np.stack([x, y], -1) * self.scale
        return keypoints.astype(np.float32), heatmaps.reshape(n, k, -1).max(-1)

    def decode(self, heatmaps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """One sample: heatmaps ``(K, H, W)`` → keypoints ``(1, K, 2)``, scores ``(1, K)``."""
        return self.batch_decode(np.asarray(heatmaps)[None])
