"""Associative embedding (bottom-up): heatmaps plus per-pixel tags grouped by tag distance."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, check_ndim, size2
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.bottom_up import heatmap_nms, topk
from posecli.codecs.utils.gaussian import msra_gaussian_heatmaps, udp_gaussian_heatmaps
from posecli.codecs.utils.refine import refine_dark_udp, refine_quarter


class AssociativeEmbedding(BaseCodec):
    """Multi-instance heatmaps and keypoint indices; decode groups candidates by their tags.

    Args:
        input_size: model input ``(w, h)``.
        heatmap_size: heatmap ``(W, H)``.
        sigma: gaussian σ; ``None`` → ``√(W·H)/64``.
        use_udp: UDP scale and gaussians (and DARK-UDP refinement at decode).
        decode_keypoint_order: grouping order (default 0..K-1).
        decode_nms_kernel: max-pool NMS window.
        decode_gaussian_kernel: DARK-UDP blur kernel (``use_udp``).
        decode_keypoint_thr: minimum candidate response.
        decode_tag_thr: maximum tag distance to join a group.
        decode_topk: candidates per keypoint.
        decode_center_shift: added to the grouped keypoints' refined heatmap coordinates
            before scaling (not to the filled-in missing ones, as MMPose).
        decode_max_instances: keep at most this many groups.

    Encoded: ``heatmaps (K, H, W)``, ``keypoint_indices (N, K, 2)`` int64 ``[y·W + x, valid]``,
    ``keypoint_weights (N, K)``.
    ``batch_decode(heatmaps (B, K, H, W), tags (B, L·K, H, W))`` → lists of B arrays
    ``keypoints (N_i, K, 2)`` and ``scores (N_i, K)``.
    """

    name = "associative_embedding"
    mmpose_name = "AssociativeEmbedding"

    def __init__(
        self,
        input_size: tuple[int, int],
        heatmap_size: tuple[int, int],
        sigma: float | None = None,
        use_udp: bool = False,
        decode_keypoint_order: Sequence[int] = (),
        decode_nms_kernel: int = 5,
        decode_gaussian_kernel: int = 3,
        decode_keypoint_thr: float = 0.1,
        decode_tag_thr: float = 1.0,
        decode_topk: int = 30,
        decode_center_shift: float = 0.0,
        decode_max_instances: int | None = None,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.heatmap_size = size2(heatmap_size, "heatmap_size")
        w, h = self.heatmap_size
        self.sigma = float(sigma) if sigma is not None else (w * h) ** 0.5 / 64
        self.use_udp = bool(use_udp)
        self.decode_keypoint_order = [int(i) for i in decode_keypoint_order]
        self.decode_nms_kernel = int(decode_nms_kernel)
        self.decode_gaussian_kernel = int(decode_gaussian_kernel)
        self.decode_keypoint_thr = float(decode_keypoint_thr)
        self.decode_tag_thr = float(decode_tag_thr)
        self.decode_topk = int(decode_topk)
        self.decode_center_shift = float(decode_center_shift)
        self.decode_max_instances = decode_max_instances
        if self.decode_nms_kernel % 2 == 0:
            raise ValueError(f"decode_nms_kernel must be odd, got {decode_nms_kernel!r}")
        inp = np.array(self.input_size, np.float32)
        hm = np.array(self.heatmap_size, np.float32)
        self.scale_factor = ((inp - 1) / (hm - 1) if use_udp else inp / hm).astype(np.float32)

    @property
    def flip_config(self) -> dict[str, Any]:
        return {"mode": "heatmap", "shift_heatmap": not self.use_udp}

    def encode(
        self, keypoints: Any, keypoints_visible: Any = None, **aux: Any
    ) -> dict[str, np.ndarray]:
        """Keypoints (N, K, 2) → heatmaps, ``keypoint_indices`` and ``keypoint_weights``."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        p = kp / self.scale_factor
        gen = udp_gaussian_heatmaps if self.use_udp else msra_gaussian_heatmaps
        heatmaps, weights = gen(self.heatmap_size, p, vis, self.sigma)
        w, h = self.heatmap_size
        cell = np.trunc(p + 0.5).astype(np.int64)
        x, y = cell[..., 0], cell[..., 1]
        valid = (vis > 0.5) & (x >= 0) & (x < w) & (y >= 0) & (y < h)
        indices = np.stack((y * w + x, valid.astype(np.int64)), axis=-1)
        return {"heatmaps": heatmaps, "keypoint_indices": indices, "keypoint_weights": weights}

    def decode(self, heatmaps: Any, tags: Any) -> tuple[Any, Any]:
        """One image: heatmaps (K, H, W), tags (L·K, H, W) → (N, K, 2), (N, K)."""
        kps, scores = self.batch_decode(heatmaps[None], tags[None])
        return kps[0], scores[0]

    def batch_decode(self, heatmaps: Any, tags: Any) -> tuple[list[Any], list[Any]]:
        """Heatmaps (B, K, H, W) and tags (B, L·K, H, W) → per-image keypoints and scores.

        NMS and top-k run on the whole batch; grouping (Hungarian matching in
        ``decode_keypoint_order``) is sequential per image.
        """
        back = restorer(heatmaps)
        hm = to_numpy(heatmaps)
        tg = to_numpy(tags)
        cls = type(self).__name__
        check_ndim(cls, "heatmaps", hm, 4, "(B, K, H, W)")
        check_ndim(cls, "tags", tg, 4, "(B, L·K, H, W)")
        b, k, h, w = hm.shape
        if tg.shape[0] != b or tg.shape[2:] != (h, w) or tg.shape[1] % k:
            raise ValueError(f"{cls}: tags {tg.shape} do not match heatmaps {hm.shape}")
        n_tag = tg.shape[1] // k
        order = self.decode_keypoint_order or list(range(k))
        if sorted(order) != list(range(k)):
            raise ValueError(f"{cls}: decode_keypoint_order must be a permutation of 0..{k - 1}")
        nms = heatmap_nms(hm, self.decode_nms_kernel)
        vals, idx = topk(nms.reshape(b, k, -1), self.decode_topk)  # (B, K, T)
        tag_maps = tg.reshape(b, n_tag, k, h * w).transpose(0, 2, 3, 1)  # (B, K, HW, L)
        cand_tags = np.take_along_axis(tag_maps, idx[..., None], axis=2)  # (B, K, T, L)
        cand_locs = np.stack((idx % w, idx // w), axis=-1).astype(np.float32)
        out_k: list[Any] = []
        out_s: list[Any] = []
        for i in range(b):
            kps, sc = _group(
                vals[i],
                cand_tags[i],
                cand_locs[i],
                order,
                self.decode_keypoint_thr,
                self.decode_tag_thr,
                self.decode_max_instances,
            )
            if len(kps):  # as MMPose: refine and shift the grouped keypoints, then fill
                if self.use_udp:
                    maps = np.broadcast_to(hm[i], (len(kps), k, h, w))
                    kps = refine_dark_udp(kps, maps, self.decode_gaussian_kernel)
                else:  # per instance: no (N, K, H, W) copy of the maps
                    kps = np.stack([refine_quarter(kp, hm[i]) for kp in kps])
                kps = kps + self.decode_center_shift * (sc > 0)[..., None]
                kps, sc = _fill_missing(kps, sc, hm[i], tag_maps[i])
            kps = (kps * self.scale_factor).astype(np.float32)
            out_k.append(back(kps))
            out_s.append(back(sc.astype(np.float32)))
        return out_k, out_s


def _group(
    vals: np.ndarray,
    tags: np.ndarray,
    locs: np.ndarray,
    order: list[int],
    val_thr: float,
    tag_thr: float,
    max_groups: int | None,
) -> tuple[np.ndarray, np.ndarray]:
    """Greedy keypoint-by-keypoint grouping of candidates ``(K, T)`` by tag distance, as
    MMPose's: every group takes part (the first ``max_groups`` are kept at the end), a group
    is known by its first tag value (a new group whose first tag value equals a group's
    joins that group, its tags reset to the newcomer's) and its tag is the float32 mean."""
    from scipy.optimize import linear_sum_assignment

    k = vals.shape[0]
    kpts: list[np.ndarray] = []  # per group (K, 2)
    scores: list[np.ndarray] = []  # per group (K,)
    group_tags: list[list[np.ndarray]] = []
    by_key: dict[float, int] = {}

    def start(j: int, t: np.ndarray, v: float, loc: np.ndarray) -> None:
        gi = by_key.setdefault(float(t[0]), len(kpts))
        if gi == len(kpts):
            kpts.append(np.zeros((k, 2), np.float32))
            scores.append(np.zeros(k, np.float32))
            group_tags.append([])
        kpts[gi][j], scores[gi][j] = loc, v
        group_tags[gi] = [t]

    for j in order:
        valid = vals[j] > val_thr
        if not valid.any():
            continue
        t_j, v_j, l_j = tags[j, valid], vals[j, valid], locs[j, valid]
        if not kpts:
            for t, v, loc in zip(t_j, v_j, l_j, strict=True):
                start(j, t, v, loc)
            continue
        means = np.stack([np.mean(g, axis=0) for g in group_tags])  # float32, as MMPose
        dists = np.linalg.norm(t_j.astype(np.float64)[:, None] - means[None], axis=2)  # (M, G)
        m, g = dists.shape
        costs = np.round(dists) * 100 - v_j[:, None].astype(np.float64)
        if m > g:
            costs = np.concatenate((costs, np.full((m, m - g), 1e10)), axis=1)
        rows, cols = linear_sum_assignment(costs)
        for r, c in zip(rows, cols, strict=True):
            if c < g and dists[r, c] < tag_thr:
                kpts[c][j], scores[c][j] = l_j[r], v_j[r]
                group_tags[c].append(t_j[r])
            else:
                start(j, t_j[r], v_j[r], l_j[r])
    if max_groups is not None:
        kpts, scores = kpts[:max_groups], scores[:max_groups]
    if not kpts:
        return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
    return np.stack(kpts), np.stack(scores)


def _fill_missing(
    kps: np.ndarray, scores: np.ndarray, heatmaps: np.ndarray, tag_maps: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Place missing keypoints (score 0) at the best response near the instance's mean tag
    (float32, as MMPose), one keypoint type at a time (maps may be input-sized).

    Args:
        kps: (N, K, 2); scores: (N, K); heatmaps: (K, H, W); tag_maps: (K, H·W, L).
    """
    k = scores.shape[1]
    _, h, w = heatmaps.shape
    found = scores > 0
    x = np.clip(kps[..., 0].astype(np.int64), 0, w - 1)
    y = np.clip(kps[..., 1].astype(np.int64), 0, h - 1)
    kp_tags = tag_maps[np.arange(k)[None, :], y * w + x]  # (N, K, L)
    total = (kp_tags * found[..., None]).sum(1, dtype=np.float32)
    mean_tag = (total / np.maximum(found.sum(1), 1)[:, None]).astype(np.float32)  # (N, L)
    flat = heatmaps.reshape(k, -1)
    kps, scores = kps.copy(), scores.copy()
    for j in np.flatnonzero((~found).any(0)):
        nn = np.flatnonzero(~found[:, j])
        dist = np.linalg.norm(tag_maps[j][None] - mean_tag[nn][:, None, :], axis=-1)  # (n, HW)
        best = (np.round(dist) * 100 - flat[j]).argmin(axis=1)
        kps[nn, j] = np.stack((best % w, best // w), axis=-1)
        scores[nn, j] = flat[j, best]
    return kps, scores
