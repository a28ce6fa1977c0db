"""Bounding-box providers for top-down inference, and the box arithmetic they share.

Boxes are ``(M, 4)`` float32 ``x1, y1, x2, y2`` in image pixels with scores ``(M,)`` float32.
Providers map a :class:`~posecli.inference.sources.Frame` to :class:`Boxes`:

- :class:`WholeFrameBoxes`: one box ``[0, 0, w, h]`` per frame (MMPose's whole-image box).
- :class:`FileBoxes`: a COCO detection-results file
  (``[{image_id, category_id, bbox: [x, y, w, h], score}]``).
- :class:`DetectorBoxes`: any ``image -> (boxes, scores)`` callable, e.g. a torchvision detector.
- :class:`FollowBoxes`: runs another provider every ``N`` frames and, in between, follows the
  instances with boxes built from their last keypoints (``--det-every N``).

All of them pass their boxes through :func:`filter_boxes` (clip, zero-size removal, score
threshold, NMS, max instances).
"""

from __future__ import annotations

import json
import logging
import sys
from collections import defaultdict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NamedTuple, Protocol

import numpy as np

from posecli.errors import DataError
from posecli.inference.sources import Frame

__all__ = [
    "BoxProvider",
    "Boxes",
    "DetectorBoxes",
    "FileBoxes",
    "FollowBoxes",
    "WholeFrameBoxes",
    "box_iou",
    "boxes_from_keypoints",
    "filter_boxes",
    "nms",
    "xywh_to_xyxy",
    "xyxy_to_xywh",
]

log = logging.getLogger(__name__)


class Boxes(NamedTuple):
    """Boxes of one frame: ``xyxy`` ``(M, 4)`` float32 and ``scores`` ``(M,)`` float32."""

    xyxy: np.ndarray
    scores: np.ndarray

    @classmethod
    def empty(cls) -> Boxes:
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def __len__(self) -> int:  # type: ignore[override]
        return int(self.xyxy.shape[0])


class BoxProvider(Protocol):
    """Anything mapping a frame to the boxes of the instances to estimate."""

    def __call__(self, frame: Frame) -> Boxes: ...


def xywh_to_xyxy(boxes: np.ndarray) -> np.ndarray:
    """``(M, 4)`` ``x, y, w, h`` → ``(M, 4)`` ``x1, y1, x2, y2`` (float32)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], axis=1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``(M, 4)`` ``x1, y1, x2, y2`` → ``(M, 4)`` ``x, y, w, h`` (float32)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], axis=1)


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise IoU of ``(M, 4)`` and ``(N, 4)`` xyxy boxes → ``(M, N)`` float32 (0 for empty)."""
    a = np.asarray(a, np.float32).reshape(-1, 4)
    b = np.asarray(b, np.float32).reshape(-1, 4)
    lt = np.maximum(a[:, None, :2], b[None, :, :2])
    rb = np.minimum(a[:, None, 2:], b[None, :, 2:])
    inter = np.clip(rb - lt, 0, None).prod(axis=2)
    area_a = np.clip(a[:, 2:] - a[:, :2], 0, None).prod(axis=1)
    area_b = np.clip(b[:, 2:] - b[:, :2], 0, None).prod(axis=1)
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0).astype(np.float32)


def _nms_numpy(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    order = np.argsort(-scores, kind="stable")
    iou = box_iou(boxes, boxes)
    suppressed = np.zeros(len(boxes), bool)
    keep: list[int] = []
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= iou[i] > iou_thr
    return np.asarray(keep, np.int64)


def nms(boxes: np.ndarray, scores: np.ndarray, iou_thr: float) -> np.ndarray:
    """Greedy non-maximum suppression.

    Args:
        boxes: ``(M, 4)`` xyxy.
        scores: ``(M,)``.
        iou_thr: a box overlapping a higher-scored kept box with IoU ``> iou_thr`` is dropped.

    Returns:
        Indices of the kept boxes, ``(k,)`` int64, by decreasing score. Uses
        ``torchvision.ops.nms`` when torch is already loaded, else a vectorised numpy version
        (the exported-model path runs without torch).
    """
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    scores = np.asarray(scores, np.float32).reshape(-1)
    if len(boxes) == 0:
        return np.zeros((0,), np.int64)
    if "torch" not in sys.modules:
        return _nms_numpy(boxes, scores, iou_thr)
    import torch
    from torchvision.ops import nms as tv_nms

    keep = tv_nms(torch.from_numpy(boxes), torch.from_numpy(scores), float(iou_thr))
    return keep.numpy().astype(np.int64)


def filter_boxes(
    boxes: Boxes,
    *,
    image_size: tuple[int, int] | None = None,
    score_thr: float = 0.0,
    nms_thr: float | None = None,
    max_instances: int | None = None,
    min_size: float = 1.0,
) -> Boxes:
    """Clip, drop tiny boxes, threshold scores, apply NMS and keep the best ``max_instances``.

    Args:
        boxes: candidate boxes.
        image_size: ``(w, h)``; boxes are clipped to ``[0, w] x [0, h]`` when given.
        score_thr: keep boxes with ``score >= score_thr``.
        nms_thr: IoU threshold of :func:`nms`; ``None`` skips NMS.
        max_instances: keep at most this many, highest scores first.
        min_size: boxes narrower or lower than this (pixels, after clipping) are dropped and
            logged at debug level — a zero-size box cannot be cropped.

    Returns:
        The kept boxes, sorted by decreasing score.
    """
    xyxy = np.asarray(boxes.xyxy, np.float32).reshape(-1, 4).copy()
    scores = np.asarray(boxes.scores, np.float32).reshape(-1)
    if image_size is not None:
        w, h = image_size
        xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, w)
        xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, h)
    finite = np.isfinite(xyxy).all(axis=1) & np.isfinite(scores)
    big = finite & ((xyxy[:, 2:] - xyxy[:, :2]) >= min_size).all(axis=1)
    if (~big).any():
        log.debug(
            "dropped %d box(es) smaller than %.1f px or not finite", int((~big).sum()), min_size
        )
    keep = big & (scores >= score_thr)
    xyxy, scores = xyxy[keep], scores[keep]
    if nms_thr is not None and len(xyxy) > 1:
        idx = nms(xyxy, scores, nms_thr)
    else:
        idx = np.argsort(-scores, kind="stable")
    if max_instances is not None:
        idx = idx[: max(0, int(max_instances))]
    return Boxes(xyxy[idx], scores[idx])


def boxes_from_keypoints(
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    *,
    kpt_thr: float = 0.3,
    padding: float = 1.25,
    image_size: tuple[int, int] | None = None,
) -> Boxes:
    """Boxes around each instance's confident keypoints, enlarged by ``padding``.

    Args:
        keypoints: ``(N, K, 2)`` image pixels.
        scores: ``(N, K)`` keypoint scores (``None``: all keypoints count, score 1).
        kpt_thr: keypoints with ``score < kpt_thr`` or non-finite coordinates are ignored.
        padding: scale of the box about its centre (1.25 as MMPose's top-down crops).
        image_size: ``(w, h)`` to clip to.

    Returns:
        One box per instance, ``scores`` = mean score of the used keypoints. An instance with no
        usable keypoint gets a zero-size box at the origin with score 0, which
        :func:`filter_boxes` drops.
    """
    kpts = np.asarray(keypoints, np.float32).reshape(-1, *np.shape(keypoints)[-2:])
    n, k = kpts.shape[:2]
    sc = (
        np.ones((n, k), np.float32)
        if scores is None
        else np.asarray(scores, np.float32).reshape(n, k)
    )
    use = (sc >= kpt_thr) & np.isfinite(kpts).all(axis=2)
    big = np.float32(np.inf)
    lo = np.where(use[..., None], kpts, big).min(axis=1)
    hi = np.where(use[..., None], kpts, -big).max(axis=1)
    any_used = use.any(axis=1)
    lo[~any_used], hi[~any_used] = 0.0, 0.0
    centre = (lo + hi) / 2
    half = (hi - lo) / 2 * padding
    xyxy = np.concatenate([centre - half, centre + half], axis=1)
    xyxy[~any_used] = 0.0
    if image_size is not None:
        xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, image_size[0])
        xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, image_size[1])
    count = use.sum(axis=1)
    mean = np.where(count > 0, (sc * use).sum(axis=1) / np.maximum(count, 1), 0.0)
    return Boxes(xyxy.astype(np.float32), mean.astype(np.float32))


class WholeFrameBoxes:
    """One box covering the frame, ``[0, 0, w, h]`` with score 1 (as MMPose without boxes)."""

    def __call__(self, frame: Frame) -> Boxes:
        w, h = frame.size
        return Boxes(np.array([[0, 0, w, h]], np.float32), np.ones((1,), np.float32))


class DetectorBoxes:
    """Boxes from a detector callable ``image BGR (H, W, 3) -> (boxes (M, 4) xyxy, scores (M,))``.

    The raw detections go through :func:`filter_boxes` with the given thresholds.
    """

    def __init__(
        self,
        detector: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
        *,
        score_thr: float = 0.3,
        nms_thr: float | None = 0.3,
        max_instances: int | None = None,
    ) -> None:
        self.detector = detector
        self.score_thr, self.nms_thr, self.max_instances = score_thr, nms_thr, max_instances

    def __call__(self, frame: Frame) -> Boxes:
        xyxy, scores = self.detector(frame.image)
        return filter_boxes(
            Boxes(
                np.asarray(xyxy, np.float32).reshape(-1, 4),
                np.asarray(scores, np.float32).reshape(-1),
            ),
            image_size=frame.size,
            score_thr=self.score_thr,
            nms_thr=self.nms_thr,
            max_instances=self.max_instances,
        )


def _as_float_list(value: Any, n: int) -> list[float] | None:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        return None
    try:
        return [float(v) for v in value]
    except (TypeError, ValueError):
        return None


class FileBoxes:
    """Boxes read from a COCO detection-results file.

    The file is a JSON list of ``{"image_id", "category_id", "bbox": [x, y, w, h], "score"}``
    (``score`` optional, default 1; an optional ``"file_name"`` is also indexed). A frame is
    matched, in this order, by its file name through ``images`` (file name → image id, e.g. the
    ``images`` table of a COCO annotation file), by a ``file_name`` key in the records, by the
    integer in its file stem (``000000000785.jpg`` → 785), and for video frames by
    ``frame.index + frame_offset``. A frame with no record gets no box.

    Args:
        path: the results file.
        category_id: keep only this category (COCO person is 1); ``None`` keeps all.
        images: optional file name → image id mapping.
        frame_offset: added to a video frame's index to form its image id.
        score_thr, nms_thr, max_instances, min_size: passed to :func:`filter_boxes`.

    Raises:
        DataError: unreadable file or malformed record (naming the file and record number).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        category_id: int | None = 1,
        images: Mapping[str, int] | None = None,
        frame_offset: int = 0,
        score_thr: float = 0.0,
        nms_thr: float | None = None,
        max_instances: int | None = None,
        min_size: float = 1.0,
    ) -> None:
        self.path = Path(path)
        self.images = dict(images or {})
        self.frame_offset = frame_offset
        self.score_thr, self.nms_thr = score_thr, nms_thr
        self.max_instances, self.min_size = max_instances, min_size
        try:
            records = json.loads(self.path.read_text())
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{self.path}: cannot read detection results: {exc}") from exc
        if not isinstance(records, list):
            raise DataError(
                f"{self.path}: expected a JSON list of detections, got {type(records).__name__}"
            )
        by_id: dict[Any, list[tuple[list[float], float]]] = defaultdict(list)
        by_name: dict[str, list[tuple[list[float], float]]] = defaultdict(list)
        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise DataError(f"{self.path}: record {i} is not an object")
            bbox = _as_float_list(rec.get("bbox"), 4)
            if bbox is None:
                raise DataError(f"{self.path}: record {i}: 'bbox' must be [x, y, w, h] numbers")
            if category_id is not None and int(rec.get("category_id", category_id)) != category_id:
                continue
            try:
                score = float(rec.get("score", 1.0))
            except (TypeError, ValueError) as exc:
                raise DataError(f"{self.path}: record {i}: 'score' is not a number") from exc
            if "image_id" not in rec and "file_name" not in rec:
                raise DataError(f"{self.path}: record {i}: missing 'image_id'")
            if "image_id" in rec:
                by_id[rec["image_id"]].append((bbox, score))
            if "file_name" in rec:
                by_name[Path(str(rec["file_name"])).name].append((bbox, score))
        self._by_id, self._by_name = dict(by_id), dict(by_name)

    def __len__(self) -> int:
        return sum(len(v) for v in self._by_id.values()) or sum(
            len(v) for v in self._by_name.values()
        )

    def _records(self, frame: Frame) -> list[tuple[list[float], float]]:
        names = [frame.name] + ([frame.path.name] if frame.path is not None else [])
        if frame.time_s is None:  # an image: match by name first
            for name in names:
                if name in self.images and self.images[name] in self._by_id:
                    return self._by_id[self.images[name]]
                if name in self._by_name:
                    return self._by_name[name]
                if name in self._by_id:
                    return self._by_id[name]
                stem = Path(name).stem
                if stem.isdigit() and int(stem) in self._by_id:
                    return self._by_id[int(stem)]
            return []
        return self._by_id.get(frame.index + self.frame_offset, [])

    def __call__(self, frame: Frame) -> Boxes:
        recs = self._records(frame)
        if not recs:
            return Boxes.empty()
        xywh = np.array([r[0] for r in recs], np.float32)
        scores = np.array([r[1] for r in recs], np.float32)
        return filter_boxes(
            Boxes(xywh_to_xyxy(xywh), scores),
            image_size=frame.size,
            score_thr=self.score_thr,
            nms_thr=self.nms_thr,
            max_instances=self.max_instances,
            min_size=self.min_size,
        )


class FollowBoxes:
    """Run ``provider`` every ``every`` frames; in between, follow the last keypoints.

    Call :meth:`update` with each frame's predicted keypoints; the next frame that is not a
    detection frame gets :func:`boxes_from_keypoints` of them. If no instance survives (all
    keypoints below ``kpt_thr``), the provider runs again at once.

    Args:
        provider: the box provider used on detection frames (the first, then every ``every``-th).
        every: detection period in frames (1: every frame).
        kpt_thr, padding: passed to :func:`boxes_from_keypoints`.
        min_size: boxes smaller than this are dropped.
    """

    def __init__(
        self,
        provider: BoxProvider,
        every: int = 1,
        *,
        kpt_thr: float = 0.3,
        padding: float = 1.25,
        min_size: float = 1.0,
    ) -> None:
        if every < 1:
            raise ValueError(f"det_every must be >= 1, got {every}")
        self.provider, self.every = provider, int(every)
        self.kpt_thr, self.padding, self.min_size = kpt_thr, padding, min_size
        self._last: Boxes | None = None
        self._since_detection = 0
        self.detector_calls = 0

    def update(
        self, keypoints: np.ndarray, scores: np.ndarray, image_size: tuple[int, int]
    ) -> None:
        """Record the predictions ``(N, K, 2)`` / ``(N, K)`` of the frame just processed."""
        boxes = boxes_from_keypoints(
            keypoints, scores, kpt_thr=self.kpt_thr, padding=self.padding, image_size=image_size
        )
        self._last = filter_boxes(boxes, image_size=image_size, min_size=self.min_size)

    def __call__(self, frame: Frame) -> Boxes:
        due = self.detector_calls == 0 or self._since_detection >= self.every
        if due or self._last is None or len(self._last) == 0:
            self.detector_calls += 1
            self._since_detection = 1
            boxes = self.provider(frame)
        else:
            self._since_detection += 1
            boxes = self._last
        self._last = None
        return boxes
