"""MSRA heatmaps (SimpleBaseline/HRNet): integer-centred gaussians, quarter-offset or DARK decode."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, heatmap_scale, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.gaussian import msra_gaussian_heatmaps, unbiased_gaussian_heatmaps
from posecli.codecs.utils.maxima import heatmap_maximum
from posecli.codecs.utils.refine import refine_dark, refine_quarter


class MSRAHeatmap(BaseCodec):
    """Gaussian heatmaps on an integer grid (MSRA) or at sub-pixel centres (``unbiased``, DARK).

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        sigma: gaussian σ in heatmap pixels.
        unbiased: DARK encoding (float centres) and decoding (Taylor refinement).
        blur_kernel_size: blur kernel of the DARK decode (11 ↔ σ=2).
        refine_x_at_1: plain decode only; also refine maxima in column/row 1 and row/column 0,
            which MMPose skips (a 0.25 heatmap-px bias there). Off by default.

    Encoded: ``heatmaps (K, H, W)``, ``keypoint_weights (1, K)``.
    Decode input: ``heatmaps (K, H, W)``; ``batch_decode``: ``(B, K, H, W)`` → ``(B, K, 2)``,
    ``(B, K)`` in input pixels (``x_hm · input/heatmap``).
    """

    name = "msra_heatmap"
    mmpose_name = "MSRAHeatmap"
    single_instance = True

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float,
        unbiased: bool = False,
        blur_kernel_size: int = 11,
        refine_x_at_1: bool = False,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.heatmap_size = size2(heatmap_size, "heatmap_size")
        if not float(sigma) > 0:
            raise ValueError(f"sigma must be > 0, got {sigma!r}")
        if int(blur_kernel_size) != blur_kernel_size or blur_kernel_size % 2 == 0:
            raise ValueError(f"blur_kernel_size must be an odd integer, got {blur_kernel_size!r}")
        self.sigma = float(sigma)
        self.unbiased = bool(unbiased)
        self.blur_kernel_size = int(blur_kernel_size)
        self.refine_x_at_1 = bool(refine_x_at_1)
        self.scale_factor = heatmap_scale(self.input_size, self.heatmap_size)

    @property
    def flip_config(self) -> dict[str, Any]:
        return {"mode": "heatmap", "shift_heatmap": True}

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (1, K, 2) → ``heatmaps (K, H, W)`` and ``keypoint_weights (1, K)``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        gen = unbiased_gaussian_heatmaps if self.unbiased else msra_gaussian_heatmaps
        heatmaps, weights = gen(self.heatmap_size, kp / self.scale_factor, vis, self.sigma)
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def batch_decode(self, heatmaps: Any) -> tuple[Any, Any]:
        """Heatmaps (B, K, H, W) → keypoints (B, K, 2) in input pixels and scores (B, K)."""
        back = restorer(heatmaps)
        hm = to_numpy(heatmaps)
        check_ndim(type(self).__name__, "heatmaps", hm, 4, "(B, K, H, W)")
        locs, scores = heatmap_maximum(hm)
        if self.unbiased:
            locs = refine_dark(locs, hm, self.blur_kernel_size, maxima=scores)
        else:
            locs = refine_quarter(locs, hm, refine_x_at_1=self.refine_x_at_1)
        keypoints = (locs * self.scale_factor).astype(np.float32)
        return back(keypoints), back(scores.astype(np.float32))
