"""Crops cut from images for top-down inference (numpy only: no torch on this path)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from posecli.inference.boxes import Boxes

log = logging.getLogger(__name__)


@dataclass
class CropBatch:
    """Model inputs cut from images.

    Attributes:
        images: ``(M, H, W, 3)`` BGR uint8 crops (input space, ``H, W`` = model input).
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
        return CropBatch(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.centers for p in parts]),
            np.concatenate([p.scales for p in parts]),
        )


def drop_empty_boxes(boxes: Boxes) -> Boxes:
    """Boxes with positive, finite width and height (a zero-size box cannot be cropped)."""
    xyxy = np.asarray(boxes.xyxy, np.float32).reshape(-1, 4)
    ok = np.isfinite(xyxy).all(1) & ((xyxy[:, 2:] - xyxy[:, :2]) > 0).all(1)
    if not ok.all():
        log.warning("skipped %d zero-size or non-finite box(es)", int((~ok).sum()))
    return Boxes(xyxy[ok], np.asarray(boxes.scores, np.float32).reshape(-1)[ok])


def infer_in_batches(
    crops: CropBatch,
    batch_size: int,
    num_keypoints: int,
    run: Callable[[np.ndarray, np.ndarray, np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> tuple[np.ndarray, np.ndarray]:
    """Keypoints ``(M, K, 2)`` and scores ``(M, K)`` of a crop batch, ``batch_size`` at a time.

    ``run(images, centers, scales)`` infers one slice of the batch; an empty batch gives empty
    arrays of ``num_keypoints``.
    """
    k = num_keypoints
    if len(crops) == 0:
        return np.zeros((0, k, 2), np.float32), np.zeros((0, k), np.float32)
    kps, scs = [], []
    for s in range(0, len(crops), batch_size):
        e = s + batch_size
        kp, sc = run(crops.images[s:e], crops.centers[s:e], crops.scales[s:e])
        kps.append(kp)
        scs.append(sc)
    return np.concatenate(kps), np.concatenate(scs)


__all__ = ["CropBatch", "drop_empty_boxes", "infer_in_batches"]
