"""Crops cut from images for top-down inference (numpy only: no torch on this path)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
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


__all__ = ["CropBatch", "drop_empty_boxes"]
