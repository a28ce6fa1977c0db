"""SPR (DEKR): root heatmap plus per-pixel displacements to every keypoint."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, heatmap_scale, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.bottom_up import check_root_type, heatmap_nms, instance_roots, topk
from posecli.codecs.utils.gaussian import msra_gaussian_heatmaps


class SPR(BaseCodec):
    """Structured pose representation: instances found at roots, keypoints by displacement.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        sigma: root gaussian σ; ``None`` → ``√(W·H)/32``. Keypoint heatmaps use σ/2.
        generate_keypoint_heatmaps: also encode K keypoint heatmaps (placed before the root).
        root_type: ``"kpt_center"`` (mean of visible keypoints) or ``"bbox_center"``.
        minimal_diagonal_length: lower bound of the instance diagonal in displacement weights.
        background_weight: heatmap weight where the target is 0.
        decode_nms_kernel: NMS window on the root map.
        decode_max_instances: top-k roots per image.
        decode_thr: minimum root score.

    Encoded: ``heatmaps (K+1|1, H, W)``, ``heatmap_weights`` (same), ``displacements (2K, H,
    W)`` (x, y per keypoint, heatmap px), ``displacement_weights (2K, H, W)``,
    ``keypoint_weights (N, K)``.
    ``batch_decode(heatmaps (B, C, H, W), displacements (B, 2K, H, W))`` → lists of B
    ``keypoints (N_i, K, 2)`` and ``scores (N_i, K)`` (root score, or the keypoint heatmap at
    the keypoint when keypoint heatmaps are predicted).
    """

    name = "spr"
    mmpose_name = "SPR"

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float | None = None,
        generate_keypoint_heatmaps: bool = False,
        root_type: str = "kpt_center",
        minimal_diagonal_length: float = 5,
        background_weight: float = 0.1,
        decode_nms_kernel: int = 5,
        decode_max_instances: int = 30,
        decode_thr: float = 0.01,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.heatmap_size = size2(heatmap_size, "heatmap_size")
        self.root_type = check_root_type(root_type)
        w, h = self.heatmap_size
        self.sigma = float(sigma) if sigma is not None else (w * h) ** 0.5 / 32
        self.generate_keypoint_heatmaps = bool(generate_keypoint_heatmaps)
        self.minimal_diagonal_length = float(minimal_diagonal_length)
        self.background_weight = float(background_weight)
        self.decode_nms_kernel = int(decode_nms_kernel)
        self.decode_max_instances = int(decode_max_instances)
        self.decode_thr = float(decode_thr)
        self.scale_factor = heatmap_scale(self.input_size, self.heatmap_size)

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) → root heatmap, displacement maps and their weights."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        p = kp / self.scale_factor
        n, k, _ = p.shape
        w, h = self.heatmap_size
        roots, roots_vis = instance_roots(p, vis, self.root_type)
        root_map, _ = msra_gaussian_heatmaps(
            self.heatmap_size, roots[:, None], roots_vis[:, None], self.sigma
        )
        maps = [root_map]
        if self.generate_keypoint_heatmaps:
            kpt_maps, _ = msra_gaussian_heatmaps(self.heatmap_size, p, vis, self.sigma / 2)
            maps.insert(0, kpt_maps)
        heatmaps = np.concatenate(maps, axis=0)
        heatmap_weights = np.where(heatmaps > 0, 1.0, self.background_weight).astype(np.float32)
        disp = np.zeros((k, 2, h, w), np.float32)
        disp_w = np.zeros((k, 2, h, w), np.float32)
        best_diag = np.full((h, w), np.inf)
        r = max(int(self.sigma), 0)
        gy, gx = np.mgrid[0:h, 0:w]
        for i in range(n):  # instances overlap: the smaller instance wins a pixel
            if roots_vis[i] == 0:
                continue
            v = vis[i] > 0
            extent = p[i][v].max(0) - p[i][v].min(0)
            diag = max(float(np.hypot(*extent)), self.minimal_diagonal_length)
            cx, cy = np.trunc(roots[i] + 0.5).astype(int)
            area = (abs(gx - cx) <= r) & (abs(gy - cy) <= r) & (diag < best_diag)
            best_diag[area] = diag
            d = p[i][:, :, None, None] - np.stack((gx, gy))[None]  # (K, 2, H, W)
            sel = area[None, None] & v[:, None, None, None]
            disp = np.where(sel, d, np.where(area[None, None], 0, disp)).astype(np.float32)
            disp_w = np.where(area[None, None], np.where(sel, 1 / diag, 0), disp_w)
        return {
            "heatmaps": heatmaps,
            "heatmap_weights": heatmap_weights,
            "displacements": disp.reshape(2 * k, h, w),
            "displacement_weights": disp_w.astype(np.float32).reshape(2 * k, h, w),
            "keypoint_weights": vis.copy(),
        }

    def decode(self, heatmaps: Any, displacements: Any) -> tuple[Any, Any]:
        """One image: heatmaps (C, H, W), displacements (2K, H, W) → (N, K, 2), (N, K)."""
        kps, scores = self.batch_decode(heatmaps[None], displacements[None])
        return kps[0], scores[0]

    def batch_decode(self, heatmaps: Any, displacements: Any) -> tuple[list[Any], list[Any]]:
        """Root NMS + top-k over the whole batch; keypoints = root + displacement there."""
        back = restorer(heatmaps)
        hm = to_numpy(heatmaps)
        dp = to_numpy(displacements)
        cls = type(self).__name__
        check_ndim(cls, "heatmaps", hm, 4, "(B, C, H, W)")
        check_ndim(cls, "displacements", dp, 4, "(B, 2K, H, W)")
        b, c, h, w = hm.shape
        k = dp.shape[1] // 2
        if dp.shape[0] != b or dp.shape[2:] != (h, w) or dp.shape[1] % 2:
            raise ValueError(f"{cls}: displacements {dp.shape} do not match heatmaps {hm.shape}")
        root = heatmap_nms(hm[:, -1:], self.decode_nms_kernel)[:, 0].reshape(b, -1)
        vals, idx = topk(root, self.decode_max_instances)  # (B, T)
        d = np.take_along_axis(dp.reshape(b, 2 * k, -1), idx[:, None, :], axis=2)  # (B, 2K, T)
        d = d.reshape(b, k, 2, -1).transpose(0, 3, 1, 2)  # (B, T, K, 2)
        grid = np.stack((idx % w, idx // w), axis=-1).astype(np.float32)  # (B, T, 2)
        kps = grid[:, :, None, :] + d
        scores = np.broadcast_to(vals[:, :, None], kps.shape[:3]).astype(np.float32)
        if c == k + 1:
            xi = np.clip(np.round(kps[..., 0]).astype(np.int64), 0, w - 1)
            yi = np.clip(np.round(kps[..., 1]).astype(np.int64), 0, h - 1)
            flat = hm[:, :k].reshape(b, 1, k, -1)
            scores = np.take_along_axis(flat, (yi * w + xi)[..., None], axis=3)[..., 0]
        kps = (kps * self.scale_factor).astype(np.float32)
        keep = vals > self.decode_thr
        return (
            [back(kps[i][keep[i]]) for i in range(b)],
            [back(np.ascontiguousarray(scores[i][keep[i]], np.float32)) for i in range(b)],
        )
