"""Regression labels: keypoints normalised by the input size (DeepPose, RLE)."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, size2
from posecli.codecs.utils.backend import restorer, to_numpy


class RegressionLabel(BaseCodec):
    """``keypoint_labels = kp / (w, h)``; decode multiplies back.

    Args:
        input_size: model input ``(w, h)``.

    Encoded: ``keypoint_labels (N, K, 2)``, ``keypoint_weights (N, K)`` = 1 where the keypoint
    is visible (> 0.5) and inside ``[0, w-1] × [0, h-1]``. Several instances are allowed.
    ``batch_decode(coords (B, K, 2|4))`` → ``(B, K, 2)``, scores ``(B, K)``: 1 for 2 channels,
    ``mean(1 - σ)`` over the two σ channels for RLE's 4.
    """

    name = "regression"
    mmpose_name = "RegressionLabel"

    def __init__(self, input_size: tuple[int, int]) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")

    @property
    def flip_config(self) -> dict[str, Any]:
        return {"mode": "coords", "shift_coords": True, "input_size": list(self.input_size)}

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) → ``keypoint_labels (N, K, 2)``, ``keypoint_weights (N, K)``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        w, h = self.input_size
        inside = ((kp >= 0) & (kp <= np.array([w - 1, h - 1], np.float32))).all(axis=-1)
        valid = inside & (vis > 0.5)
        labels = (kp / np.array([w, h], np.float32)).astype(np.float32)
        return {"keypoint_labels": labels, "keypoint_weights": valid.astype(np.float32)}

    def decode(self, coords: Any) -> tuple[Any, Any]:
        """Coordinates (N, K, 2|4) of one sample → keypoints (N, K, 2), scores (N, K)."""
        return self.batch_decode(coords)

    def batch_decode(self, coords: Any) -> tuple[Any, Any]:
        """Normalised coordinates (B, K, 2|4) → keypoints (B, K, 2) in input pixels, scores."""
        back = restorer(coords)
        c = to_numpy(coords)
        check_ndim(type(self).__name__, "coords", c, 3, "(B, K, 2|4)")
        if c.shape[-1] == 2:
            scores = np.ones(c.shape[:-1], np.float32)
        elif c.shape[-1] == 4:
            scores = (1 - c[..., 2:]).mean(axis=-1).astype(np.float32)
        else:
            raise ValueError(
                f"RegressionLabel: coords last dimension must be 2 (x, y) or 4 (x, y, σx, σy), "
                f"got {c.shape[-1]}"
            )
        keypoints = (c[..., :2] * np.array(self.input_size, np.float32)).astype(np.float32)
        return back(keypoints), back(scores)
