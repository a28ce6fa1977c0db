"""YOLOX-Pose / RTMO annotation processor: instances as boxes, labels and areas; box-NMS decode.

One-stage models regress every instance from anchor points, so the training "targets" are the
instances themselves (MMPose ``YOLOXPoseAnnotationProcessor``): boxes (optionally grown to
hold every visible keypoint), labels (``category_id - 1``) and areas (the annotation's, else
the box's), next to the sample's ``keypoints`` and ``keypoints_visible``.

Decoding is the model-independent part of RTMO's test: instance scores above ``score_thr``,
greedy box NMS at ``nms_thr`` (1.0: off), in numpy so that an exported graph (which ends at the
top-scoring candidates, see :class:`posecli.models.heads.rtmo_head.RTMOHead`) gets the same.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec, size2
from posecli.codecs.utils.backend import restorer, to_numpy


def box_nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy NMS: indices (descending score) of ``boxes (N, 4)`` xyxy kept at ``iou_thr``."""
    order = np.argsort(-scores, kind="stable")
    boxes = np.asarray(boxes, np.float64)
    areas = np.clip(boxes[:, 2] - boxes[:, 0], 0, None) * np.clip(
        boxes[:, 3] - boxes[:, 1], 0, None
    )
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        lt = np.maximum(boxes[i, :2], boxes[rest, :2])
        rb = np.minimum(boxes[i, 2:], boxes[rest, 2:])
        inter = np.prod(np.clip(rb - lt, 0, None), axis=1)
        iou = inter / np.maximum(areas[i] + areas[rest] - inter, 1e-12)
        order = rest[iou <= iou_thr]
    return np.asarray(keep, np.int64)


class YOLOXPoseAnnotationProcessor(BaseCodec):
    """Instances → ``bboxes``/``labels``/``areas``; candidates → thresholded, NMS'd instances.

    Args:
        input_size: model input ``(w, h)`` (kept for export and checks).
        expand_bbox: grow each box to hold its visible keypoints.
        score_thr: minimum instance score kept at decode (MMPose ``test_cfg.score_thr``).
        nms_thr: box IoU above which the lower-scoring instance is dropped (1.0: no NMS).

    Encoded (input space): ``bboxes (N, 4)`` xyxy float32, ``labels (N,)`` int64,
    ``areas (N,)`` float32, ``keypoints_visible (N, K)``.
    ``batch_decode(scores (B, T), bboxes (B, T, 4), keypoints (B, T, K, 2),
    keypoint_scores (B, T, K))`` → lists of B arrays ``keypoints (N_i, K, 2)``,
    ``keypoint_scores (N_i, K)``, ``bboxes (N_i, 4)`` and ``scores (N_i,)``.
    """

    name = "yolox_pose"
    mmpose_name = "YOLOXPoseAnnotationProcessor"
    #: sample keys :class:`~posecli.data.transforms.target.GenerateTarget` passes to ``encode``
    auxiliary_encode_keys = ("bbox", "category_id", "area")

    def __init__(
        self,
        input_size: Sequence[int] = (640, 640),
        expand_bbox: bool = False,
        score_thr: float = 0.01,
        nms_thr: float = 1.0,
    ) -> None:
        self._capture(locals())
        self.input_size = size2(input_size, "input_size")
        self.expand_bbox = bool(expand_bbox)
        self.score_thr = float(score_thr)
        self.nms_thr = float(nms_thr)
        if not 0.0 <= self.nms_thr <= 1.0:
            raise ValueError(f"nms_thr must be in [0, 1], got {nms_thr!r}")

    def encode(  # type: ignore[override]
        self,
        keypoints: np.ndarray,
        keypoints_visible: np.ndarray | None = None,
        bbox: np.ndarray | None = None,
        category_id: Any = None,
        area: np.ndarray | None = None,
        **_: Any,
    ) -> dict[str, np.ndarray]:
        kp, vis = self._check_keypoints(keypoints, keypoints_visible)
        n = kp.shape[0]
        if bbox is None:
            boxes = keypoint_hull(kp, vis)
        else:
            boxes = np.asarray(bbox, np.float32).reshape(-1, 4).copy()
            if len(boxes) != n:
                raise ValueError(
                    f"{type(self).__name__}.encode: {len(boxes)} boxes for {n} instances"
                )
            if self.expand_bbox:
                hull = keypoint_hull(kp, vis, empty=np.nan)
                has = ~np.isnan(hull[:, 0])
                boxes[has, :2] = np.minimum(boxes[has, :2], hull[has, :2])
                boxes[has, 2:] = np.maximum(boxes[has, 2:], hull[has, 2:])
        if category_id is None:
            labels = np.zeros(n, np.int64)
        else:
            labels = np.asarray(category_id, np.int64).reshape(-1) - 1
            labels = labels if len(labels) == n else np.zeros(n, np.int64)
        if area is None or np.asarray(area).size != n:
            areas = np.prod(np.clip(boxes[:, 2:] - boxes[:, :2], 0, None), axis=1)
        else:
            areas = np.asarray(area, np.float32).reshape(-1)
        return {
            "bboxes": boxes.astype(np.float32),
            "labels": labels,
            "areas": areas.astype(np.float32),
            "keypoints_visible": vis.astype(np.float32),
        }

    def batch_decode(  # type: ignore[override]
        self, scores: Any, bboxes: Any, keypoints: Any, keypoint_scores: Any
    ) -> tuple[list[Any], list[Any], list[Any], list[Any]]:
        restore = restorer(keypoints)
        s = to_numpy(scores, np.float32)
        b = to_numpy(bboxes, np.float32)
        kp = to_numpy(keypoints, np.float32)
        ks = to_numpy(keypoint_scores, np.float32)
        s = s.reshape(s.shape[0], -1)
        out: tuple[list[Any], list[Any], list[Any], list[Any]] = ([], [], [], [])
        w, h = self.input_size
        for i in range(s.shape[0]):
            keep = np.flatnonzero(s[i] > self.score_thr)
            keep = keep[np.argsort(-s[i][keep], kind="stable")]
            if len(keep) and self.nms_thr < 1.0:
                keep = keep[box_nms(b[i][keep], s[i][keep], self.nms_thr)]
            box = b[i][keep].copy()
            box[:, 0::2] = box[:, 0::2].clip(0, w)
            box[:, 1::2] = box[:, 1::2].clip(0, h)
            for lst, value in zip(out, (kp[i][keep], ks[i][keep], box, s[i][keep]), strict=True):
                lst.append(restore(np.ascontiguousarray(value)))
        return out


def keypoint_hull(kp: np.ndarray, vis: np.ndarray, empty: float = 0.0) -> np.ndarray:
    """xyxy hull ``(N, 4)`` of each instance's visible keypoints (``empty`` when none)."""
    seen = (vis > 0)[..., None]
    lo = np.where(seen, kp, np.inf).min(axis=1)
    hi = np.where(seen, kp, -np.inf).max(axis=1)
    boxes = np.concatenate([lo, hi], axis=1).astype(np.float32)
    boxes[~np.isfinite(boxes).all(axis=1)] = empty
    return boxes


__all__ = ["YOLOXPoseAnnotationProcessor", "box_nms", "keypoint_hull"]
