"""What the runtime hands out: crops of a frame and the predictions of one frame."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass
class FramePrediction:
    """The predictions of one frame (what :meth:`Predictor.stream` yields and sinks write).

    Attributes:
        frame: frame index in the source.
        time_s: frame time in seconds (``None`` for still images).
        keypoints: ``(N, K, 2)`` image pixels (pixel-centre convention).
        keypoint_scores: ``(N, K)``.
        bboxes: ``(N, 4)`` xyxy image pixels.
        bbox_scores: ``(N,)``.
        track_ids: ``(N,)`` ints, or ``None`` without tracking.
        name: image file name or ``video#index``.
        extras: results of later stages by name (e.g. ``keypoints_3d``); arrays with one row
            per instance are written into each instance's record.
    """

    frame: int
    time_s: float | None
    keypoints: np.ndarray
    keypoint_scores: np.ndarray
    bboxes: np.ndarray
    bbox_scores: np.ndarray
    track_ids: np.ndarray | None = None
    name: str | None = None
    extras: dict[str, Any] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        kpts = np.asarray(self.keypoints, np.float32)
        self.keypoints = kpts[None] if kpts.ndim == 2 else kpts
        n, k = self.keypoints.shape[:2]
        self.keypoint_scores = np.asarray(self.keypoint_scores, np.float32).reshape(n, k)
        self.bboxes = np.asarray(self.bboxes, np.float32).reshape(n, 4)
        self.bbox_scores = np.asarray(self.bbox_scores, np.float32).reshape(n)
        if self.track_ids is not None:
            self.track_ids = np.asarray(self.track_ids, np.int64).reshape(n)

    def __len__(self) -> int:
        return int(self.keypoints.shape[0])

    def to_record(self, decimals: int = 3) -> dict[str, Any]:
        """The JSON record of this frame (``predictions.json`` layout, :mod:`~posecli.inference.writers`)."""
        kpts = np.round(self.keypoints.astype(np.float64), decimals)
        sc = np.round(self.keypoint_scores.astype(np.float64), 4)
        boxes = np.round(self.bboxes.astype(np.float64), decimals)
        bsc = np.round(self.bbox_scores.astype(np.float64), 4)
        instances = [
            {
                "keypoints": nan_to_none(kpts[i].tolist()),
                "keypoint_scores": nan_to_none(sc[i].tolist()),
                "bbox": nan_to_none(boxes[i].tolist()),
                "bbox_score": nan_to_none(float(bsc[i])),
                "track_id": None if self.track_ids is None else int(self.track_ids[i]),
            }
            for i in range(len(self))
        ]
        for name, value in self.extras.items():  # per-instance results of later stages
            if isinstance(value, np.ndarray) and value.ndim >= 1 and len(value) == len(self):
                rounded = np.round(value.astype(np.float64), 5)
                for i, inst in enumerate(instances):
                    inst[name] = nan_to_none(rounded[i].tolist())
        time_s = None if self.time_s is None else round(float(self.time_s), 6)
        return {
            "frame": int(self.frame),
            "time_s": time_s,
            "name": self.name,
            "instances": instances,
        }


def nan_to_none(value: Any) -> Any:
    """JSON has no NaN: replace non-finite floats by ``None`` in nested lists."""
    if isinstance(value, list):
        return [nan_to_none(v) for v in value]
    if isinstance(value, float) and not np.isfinite(value):
        return None
    return value


@dataclass
class CropBatch:
    """Model inputs cut from images.

    Attributes:
        images: ``(M, h, w, 3)`` BGR uint8 crops (input space, ``(w, h)`` = model input).
        centers: ``(M, 2)`` float32 crop centres in image pixels.
        scales: ``(M, 2)`` float32 crop sizes in image pixels (aspect-fixed, padded).
    """

    images: np.ndarray
    centers: np.ndarray
    scales: np.ndarray

    def __len__(self) -> int:
        return int(self.images.shape[0])

    @staticmethod
    def concat(parts: Sequence[CropBatch], input_size: tuple[int, int]) -> CropBatch:
        """Concatenate crop batches (an empty list gives an empty batch of ``input_size``)."""
        w, h = input_size
        if not parts:
            return CropBatch(
                np.zeros((0, h, w, 3), np.uint8),
                np.zeros((0, 2), np.float32),
                np.zeros((0, 2), np.float32),
            )
        if len(parts) == 1:
            return parts[0]
        return CropBatch(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.centers for p in parts]),
            np.concatenate([p.scales for p in parts]),
        )


__all__ = ["CropBatch", "FramePrediction", "nan_to_none"]
