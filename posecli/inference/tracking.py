"""Frame-to-frame tracking: stable ``track_id`` per instance (``posecli predict --track``).

Each new frame's instances are matched with the tracks seen in the last ``max_lost + 1`` frames
by keypoint similarity (OKS, with per-keypoint sigmas, scaled by the area of the track's
keypoints' bounding box) or box IoU. The assignment maximises the
total similarity (Hungarian, ``scipy.optimize.linear_sum_assignment``; greedy best-first when
scipy is missing); pairs below ``threshold`` are not matched. With ``metric="oks"``, the
instances and tracks OKS leaves unmatched are then matched by box IoU (``iou_fallback``, a
second stage as ByteTrack's): a pose whose keypoints jumped (a leg tip taken from a neighbour,
a blurred frame) keeps its track while its box still overlaps. Unmatched instances open new
tracks with fresh ids (0, 1, 2... never reused); a track unmatched for more than ``max_lost``
consecutive frames is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from posecli.inference.boxes import box_iou, boxes_from_keypoints

__all__ = ["DEFAULT_SIGMA", "Tracker", "assign", "oks_matrix", "pose_areas"]

#: Per-keypoint OKS sigma used when a skeleton gives none (the mean of COCO's 17 sigmas).
DEFAULT_SIGMA = 0.072


def oks_matrix(
    kpts_a: np.ndarray,
    kpts_b: np.ndarray,
    sigmas: np.ndarray,
    areas_b: np.ndarray,
    *,
    visible_a: np.ndarray | None = None,
    visible_b: np.ndarray | None = None,
) -> np.ndarray:
    """Object keypoint similarity of every instance of ``a`` with every instance of ``b``.

    ``OKS = mean over keypoints visible in both of exp(-d² / (2 · area_b · (2σ)²))``.

    Args:
        kpts_a: ``(M, K, 2)`` pixels.
        kpts_b: ``(N, K, 2)`` pixels (the reference, whose ``areas_b`` scale the distances).
        sigmas: ``(K,)`` per-keypoint sigmas.
        areas_b: ``(N,)`` object areas in pixels² (e.g. box ``w · h``).
        visible_a, visible_b: ``(M, K)`` / ``(N, K)`` booleans (default: finite coordinates).

    Returns:
        ``(M, N)`` float32 in [0, 1]; 0 where no keypoint is visible in both.
    """
    a = np.asarray(kpts_a, np.float64)
    b = np.asarray(kpts_b, np.float64)
    va = np.asarray(np.isfinite(a).all(-1) if visible_a is None else visible_a, bool)
    vb = np.asarray(np.isfinite(b).all(-1) if visible_b is None else visible_b, bool)
    d2 = ((np.nan_to_num(a)[:, None] - np.nan_to_num(b)[None]) ** 2).sum(-1)  # (M, N, K)
    var = (2.0 * np.asarray(sigmas, np.float64)) ** 2
    area = np.maximum(np.asarray(areas_b, np.float64), 1e-6)
    e = np.exp(-d2 / (2.0 * area[None, :, None] * var[None, None, :]))
    both = va[:, None, :] & vb[None, :, :]
    count = both.sum(-1)
    oks = np.where(count > 0, (e * both).sum(-1) / np.maximum(count, 1), 0.0)
    return oks.astype(np.float32)


def assign(similarity: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    """Pairs ``(row, col)`` maximising total similarity, each with similarity ``>= threshold``.

    Uses the Hungarian algorithm when scipy is installed, else greedy best-first matching.
    """
    sim = np.asarray(similarity, np.float64)
    if sim.size == 0:
        return []
    try:
        from scipy.optimize import linear_sum_assignment
    except ImportError:
        return _assign_greedy(sim, threshold)
    rows, cols = linear_sum_assignment(sim, maximize=True)
    return [(int(r), int(c)) for r, c in zip(rows, cols, strict=True) if sim[r, c] >= threshold]


def _assign_greedy(sim: np.ndarray, threshold: float) -> list[tuple[int, int]]:
    order = np.argsort(-sim, axis=None, kind="stable")
    used_r: set[int] = set()
    used_c: set[int] = set()
    pairs = []
    for flat in order:
        r, c = divmod(int(flat), sim.shape[1])
        if sim[r, c] < threshold:
            break
        if r not in used_r and c not in used_c:
            used_r.add(r)
            used_c.add(c)
            pairs.append((r, c))
    return pairs


def pose_areas(tracks: _Tracks) -> np.ndarray:
    """``(T,)`` OKS scale of each track: the area of its visible keypoints' bounding box (the
    object's extent, as COCO's ``area``), else its box's area when fewer than two keypoints are
    visible. (A detector's box can be far from the pose's extent: the fly recipe's thorax
    boxes are 32 px wide, which made OKS with σ = 0.025 a 1.6 px tolerance.)"""
    kp = np.asarray(tracks.keypoints, np.float64)
    vis = np.asarray(tracks.visible, bool) & np.isfinite(kp).all(-1)
    lo = np.where(vis[..., None], kp, np.inf).min(1)
    hi = np.where(vis[..., None], kp, -np.inf).max(1)
    extent = np.where(vis.sum(1) >= 2, np.prod(np.clip(hi - lo, 0, None), axis=1), 0.0)
    box = np.prod(np.clip(tracks.boxes[:, 2:] - tracks.boxes[:, :2], 0, None), axis=1)
    return np.where(extent > 0, extent, box)


@dataclass
class _Tracks:
    """Live tracks as arrays: ids ``(T,)``, keypoints ``(T, K, 2)``, visibility, boxes, lost."""

    ids: np.ndarray
    keypoints: np.ndarray
    visible: np.ndarray
    boxes: np.ndarray
    lost: np.ndarray


class Tracker:
    """Assigns stable track ids to the instances of successive frames.

    Args:
        metric: ``"oks"`` (keypoints, robust when boxes overlap) or ``"iou"`` (boxes).
        sigmas: ``(K,)`` OKS sigmas (default :data:`DEFAULT_SIGMA` for every keypoint).
        threshold: minimum similarity to continue a track.
        max_lost: frames a track may go unmatched before it is dropped.
        kpt_thr: keypoints scoring below this are ignored by OKS.
        iou_fallback: with ``metric="oks"``, the minimum box IoU that matches what OKS left
            unmatched (``None``: OKS only).
    """

    def __init__(
        self,
        *,
        metric: Literal["oks", "iou"] = "oks",
        sigmas: np.ndarray | None = None,
        threshold: float = 0.3,
        max_lost: int = 10,
        kpt_thr: float = 0.3,
        iou_fallback: float | None = 0.3,
    ) -> None:
        if metric not in ("oks", "iou"):
            raise ValueError(f"tracking metric must be 'oks' or 'iou', got {metric!r}")
        self.iou_fallback = None if metric == "iou" else iou_fallback
        self.metric, self.threshold, self.max_lost, self.kpt_thr = (
            metric,
            threshold,
            max_lost,
            kpt_thr,
        )
        self.sigmas = None if sigmas is None else np.asarray(sigmas, np.float64).reshape(-1)
        self.next_id = 0
        self._tracks: _Tracks | None = None

    def reset(self) -> None:
        """Forget every track (ids keep increasing)."""
        self._tracks = None

    @property
    def active_ids(self) -> list[int]:
        """Ids of the tracks currently kept (matched recently enough)."""
        return [] if self._tracks is None else [int(i) for i in self._tracks.ids]

    def _similarity(self, kpts: np.ndarray, vis: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        tr = self._tracks
        assert tr is not None
        if self.metric == "iou":
            return box_iou(boxes, tr.boxes)
        k = kpts.shape[1]
        sigmas = self.sigmas if self.sigmas is not None else np.full(k, DEFAULT_SIGMA)
        if sigmas.shape[0] != k:
            raise ValueError(f"tracker has {sigmas.shape[0]} sigmas for {k} keypoints")
        return oks_matrix(
            kpts, tr.keypoints, sigmas, pose_areas(tr), visible_a=vis, visible_b=tr.visible
        )

    def _match_left_by_iou(
        self, boxes: np.ndarray, pairs: list[tuple[int, int]]
    ) -> list[tuple[int, int]]:
        """Pairs ``(instance, track)`` by box IoU among those ``pairs`` leave unmatched."""
        tr = self._tracks
        assert tr is not None and self.iou_fallback is not None
        dets = np.setdiff1d(np.arange(len(boxes)), [d for d, _ in pairs])
        trks = np.setdiff1d(np.arange(len(tr.ids)), [t for _, t in pairs])
        if not len(dets) or not len(trks):
            return []
        sim = box_iou(boxes[dets], tr.boxes[trks])
        return [(int(dets[r]), int(trks[c])) for r, c in assign(sim, self.iou_fallback)]

    def update(
        self,
        keypoints: np.ndarray,
        scores: np.ndarray | None = None,
        bboxes: np.ndarray | None = None,
    ) -> np.ndarray:
        """Match one frame's instances with the tracks and return their ids.

        Args:
            keypoints: ``(N, K, 2)`` image pixels (NaN for missing keypoints).
            scores: ``(N, K)`` keypoint scores (default: 1 where finite).
            bboxes: ``(N, 4)`` xyxy (default: the tight box of the visible keypoints).

        Returns:
            ``(N,)`` int64 track ids.
        """
        kpts = np.asarray(keypoints, np.float32)
        if kpts.ndim != 3 or kpts.shape[-1] != 2:
            raise ValueError(f"keypoints must be (N, K, 2), got {kpts.shape}")
        n, k = kpts.shape[:2]
        finite = np.asarray(np.isfinite(kpts).all(-1), bool)
        sc = (
            finite.astype(np.float32)
            if scores is None
            else np.asarray(scores, np.float32).reshape(n, k)
        )
        vis = np.asarray(finite & (sc >= self.kpt_thr), bool)
        if bboxes is None:
            boxes = boxes_from_keypoints(
                kpts, np.where(vis, 1.0, 0.0), kpt_thr=0.5, padding=1.0
            ).xyxy
        else:
            boxes = np.asarray(bboxes, np.float32).reshape(n, 4)
        ids = np.full(n, -1, np.int64)
        matched_tracks: list[int] = []
        if self._tracks is not None and len(self._tracks.ids) and n:
            pairs = assign(self._similarity(kpts, vis, boxes), self.threshold)
            if self.iou_fallback is not None:
                pairs += self._match_left_by_iou(boxes, pairs)
            for det, trk in pairs:
                ids[det] = self._tracks.ids[trk]
                matched_tracks.append(trk)
        new = ids < 0
        ids[new] = np.arange(self.next_id, self.next_id + int(new.sum()))
        self.next_id += int(new.sum())
        self._store(ids, kpts, vis, boxes, matched_tracks)
        return ids

    def _store(
        self,
        ids: np.ndarray,
        kpts: np.ndarray,
        vis: np.ndarray,
        boxes: np.ndarray,
        matched: list[int],
    ) -> None:
        """Replace matched tracks by this frame's instances; age and prune unmatched ones."""
        tr = self._tracks
        keep_old = np.zeros(0, np.int64)
        if tr is not None:
            unmatched = np.setdiff1d(np.arange(len(tr.ids)), np.asarray(matched, np.int64))
            lost = tr.lost[unmatched] + 1
            keep_old = unmatched[lost <= self.max_lost]
            old_lost = tr.lost[keep_old] + 1
        cur = _Tracks(ids, kpts, vis, boxes, np.zeros(len(ids), np.int64))
        if tr is None or len(keep_old) == 0:
            self._tracks = cur
            return
        self._tracks = _Tracks(
            np.concatenate([cur.ids, tr.ids[keep_old]]),
            np.concatenate([cur.keypoints, tr.keypoints[keep_old]]),
            np.concatenate([cur.visible, tr.visible[keep_old]]),
            np.concatenate([cur.boxes, tr.boxes[keep_old]]),
            np.concatenate([cur.lost, old_lost]),
        )
