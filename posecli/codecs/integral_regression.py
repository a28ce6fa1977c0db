"""Integral regression labels (DSNT/IPR): MSRA heatmaps plus normalised coordinates."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.msra_heatmap import MSRAHeatmap
from posecli.codecs.regression import RegressionLabel


class IntegralRegressionLabel(RegressionLabel):
    """Heatmaps from :class:`MSRAHeatmap`, labels and weights from :class:`RegressionLabel`.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        sigma: gaussian σ in heatmap pixels.
        unbiased: DARK heatmaps.
        blur_kernel_size: unused by decode (kept for MMPose compatibility).
        normalize: divide each heatmap by its sum (+1e-24) so it is a distribution.

    Encoded: ``heatmaps (K, H, W)``, ``keypoint_labels (1, K, 2)``, ``keypoint_weights (1, K)``.
    Decode is the regression decode of the head's integrated coordinates ``(B, K, 2)``.
    """

    name = "integral_regression"
    mmpose_name = "IntegralRegressionLabel"
    single_instance = True

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
        normalize: bool = True,
    ) -> None:
        super().__init__(input_size)
        self._capture(locals())
        self.heatmap_codec = MSRAHeatmap(
            input_size, heatmap_size, sigma, unbiased, blur_kernel_size
        )
        self.heatmap_size = self.heatmap_codec.heatmap_size
        self.sigma = self.heatmap_codec.sigma
        self.normalize = bool(normalize)

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (1, K, 2) → heatmaps, ``keypoint_labels`` and ``keypoint_weights``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        heatmaps = self.heatmap_codec.encode(kp, vis)["heatmaps"]
        encoded = super().encode(kp, vis)
        if self.normalize:
            total = heatmaps.sum(axis=(-2, -1), keepdims=True)
            heatmaps = (heatmaps / (total + 1e-24)).astype(np.float32)
        return {"heatmaps": heatmaps, **encoded}
