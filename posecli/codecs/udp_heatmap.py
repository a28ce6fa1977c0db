"""UDP heatmaps (unbiased data processing): sub-pixel gaussians or class+offset maps."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.blur import blur_reflect
from posecli.codecs.utils.gaussian import udp_gaussian_heatmaps, udp_offset_heatmaps
from posecli.codecs.utils.maxima import heatmap_maximum
from posecli.codecs.utils.refine import refine_dark_udp

HEATMAP_TYPES = ("gaussian", "combined")


class UDPHeatmap(BaseCodec):
    """UDP heatmaps: encode with ``p = kp · (hm-1)/(input-1)``, decode with DARK-UDP.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        heatmap_type: ``"gaussian"`` (K maps) or ``"combined"`` (3K maps: class, x/y offset).
        sigma: gaussian σ (``gaussian``).
        radius_factor: offset radius ``R = radius_factor · max(W, H)`` (``combined``).
        blur_kernel_size: DARK-UDP blur kernel; ``combined`` blurs class maps with ``2k+1``.
        udp_exact_scale: decode with ``(input-1)/(hm-1)``, the inverse of the encode scale.
            MMPose (default) multiplies by ``input/(hm-1)``, stretching x by ``w/(w-1)``
            (up to +1 px at the right edge for w=192).

    Encoded: ``heatmaps (K|3K, H, W)``, ``keypoint_weights (1, K)``.
    ``batch_decode(heatmaps (B, K|3K, H, W))`` → ``(B, K, 2)``, ``(B, K)``.
    """

    name = "udp_heatmap"
    mmpose_name = "UDPHeatmap"
    single_instance = True

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        heatmap_type: str = "gaussian",
        sigma: float = 2.0,
        radius_factor: float = 0.0546875,
        blur_kernel_size: int = 11,
        udp_exact_scale: bool = False,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.heatmap_size = size2(heatmap_size, "heatmap_size")
        if heatmap_type not in HEATMAP_TYPES:
            raise ValueError(
                f"UDPHeatmap got invalid heatmap_type {heatmap_type!r}; "
                f"should be one of {', '.join(HEATMAP_TYPES)}"
            )
        if min(self.heatmap_size) < 2:
            raise ValueError(f"heatmap_size must be at least 2×2 for UDP, got {heatmap_size!r}")
        if int(blur_kernel_size) != blur_kernel_size or blur_kernel_size % 2 == 0:
            raise ValueError(f"blur_kernel_size must be an odd integer, got {blur_kernel_size!r}")
        self.heatmap_type = heatmap_type
        self.sigma = float(sigma)
        self.radius_factor = float(radius_factor)
        self.blur_kernel_size = int(blur_kernel_size)
        self.udp_exact_scale = bool(udp_exact_scale)
        inp = np.array(self.input_size, np.float32)
        hm1 = np.array(self.heatmap_size, np.float32) - 1
        self.scale_factor = ((inp - 1) / hm1).astype(np.float32)
        self.decode_scale = (inp - 1) / hm1 if udp_exact_scale else inp / hm1

    @property
    def num_channels_per_keypoint(self) -> int:
        return 1 if self.heatmap_type == "gaussian" else 3

    @property
    def flip_config(self) -> dict[str, Any]:
        mode = "heatmap" if self.heatmap_type == "gaussian" else "udp_combined"
        return {"mode": mode, "shift_heatmap": False}

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (1, K, 2) → ``heatmaps`` and ``keypoint_weights (1, K)``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        p = kp / self.scale_factor
        if self.heatmap_type == "gaussian":
            heatmaps, weights = udp_gaussian_heatmaps(self.heatmap_size, p, vis, self.sigma)
        else:
            heatmaps, weights = udp_offset_heatmaps(self.heatmap_size, p, vis, self.radius_factor)
        return {"heatmaps": heatmaps, "keypoint_weights": weights}

    def batch_decode(self, heatmaps: Any) -> tuple[Any, Any]:
        """Heatmaps (B, K|3K, H, W) → keypoints (B, K, 2) in input pixels, scores (B, K).

        An all-zero ``gaussian`` map decodes to NaN, as in MMPose.
        """
        back = restorer(heatmaps)
        hm = to_numpy(heatmaps)
        check_ndim(type(self).__name__, "heatmaps", hm, 4, "(B, K, H, W)")
        if self.heatmap_type == "gaussian":
            locs, scores = heatmap_maximum(hm)
            locs = refine_dark_udp(locs, hm, self.blur_kernel_size, maxima=scores)
        else:
            locs, scores = self._decode_combined(hm)
        keypoints = (locs * self.decode_scale).astype(np.float32)
        return back(keypoints), back(scores.astype(np.float32))

    def _decode_combined(self, hm: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        b, c, h, w = hm.shape
        if c % 3:
            raise ValueError(f"UDPHeatmap(combined): channels must be 3K, got {c}")
        k = c // 3
        maps = hm.reshape(b, k, 3, h, w)
        cls = blur_reflect(maps[:, :, 0], 2 * self.blur_kernel_size + 1)
        locs, scores = heatmap_maximum(cls)
        radius = self.radius_factor * max(w, h)
        # Flat index into each sample's offset maps, wrapping like MMPose for empty maps (-1).
        idx = (locs[..., 0] + locs[..., 1] * w).astype(np.int64) + np.arange(k) * (h * w)
        idx = idx % (k * h * w)
        xo = np.take_along_axis(maps[:, :, 1].reshape(b, -1), idx, axis=1) * radius
        yo = np.take_along_axis(maps[:, :, 2].reshape(b, -1), idx, axis=1) * radius
        return locs + np.stack((xo, yo), axis=-1), scores
