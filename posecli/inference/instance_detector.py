"""A posecli bottom-up checkpoint used as a box detector (SLEAP's centroid stage).

``posecli predict VIDEO --checkpoint centred.pt --detector bottomup --detector-weights
centroid.pt``: the bottom-up model finds every instance in the whole frame; each instance's box
is the extent of its keypoints scored above ``kpt_thr`` (image pixels, xyxy; at least
``min_size`` a side) and its score the mean keypoint score. A model of one anchor point
(SLEAP's centroid model, ``recipes/flies-centroid.toml``) gives boxes centred on that point.
The top-down model cuts its crops around these boxes (with ``get_bbox_center_scale.fixed_size``
only their centres matter) and gives the keypoints at its own, finer resolution. Any bottom-up
recipe trains such a detector.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import CheckpointError
from posecli.runtime.bottomup_predictor import BottomupPredictor, keypoint_boxes
from posecli.runtime.frames import Frame

__all__ = ["InstanceDetector", "bottomup"]


class InstanceDetector:
    """Boxes of the instances a bottom-up :class:`~posecli.runtime.bottomup_predictor.
    BottomupPredictor` finds.

    Args:
        predictor: a bottom-up predictor (``predict_frame(Frame) -> FramePrediction``).
        kpt_thr: keypoints scored at or below this do not shape the box (all do when none
            is above it).
        min_size: boxes are grown about their centre to at least this many pixels a side (a
            one-point anchor model, SLEAP's centroid, gives points, not boxes).
    """

    category = "instance"  # what the boxes hold: whatever the bottom-up model was trained on

    def __init__(self, predictor: Any, *, kpt_thr: float = 0.1, min_size: float = 32.0) -> None:
        self.predictor = predictor
        self.kpt_thr = float(kpt_thr)
        self.min_size = float(min_size)

    def detect(self, images: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per BGR uint8 image ``(H, W, 3)``: ``(boxes (M, 4) float32 xyxy, scores (M,))`` by
        decreasing score."""
        results = []
        for i, image in enumerate(images):
            pred = self.predictor.predict_frame(Frame(i, None, image, f"image#{i}"))
            boxes = keypoint_boxes(pred.keypoints, pred.keypoint_scores, self.kpt_thr)
            centre = (boxes[:, :2] + boxes[:, 2:]) / 2
            half = np.maximum(boxes[:, 2:] - boxes[:, :2], self.min_size) / 2
            boxes = np.concatenate([centre - half, centre + half], axis=1).astype(np.float32)
            scores = np.asarray(pred.bbox_scores, np.float32).reshape(-1)
            order = np.argsort(-scores, kind="stable")
            results.append((boxes[order], scores[order]))
        return results

    def __call__(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Detect in one BGR uint8 image; see :meth:`detect`."""
        return self.detect([image])[0]


def bottomup(
    weights: str | Path | None = None,
    device: str = "cpu",
    kpt_thr: float = 0.1,
    min_size: float = 32.0,
) -> InstanceDetector:
    """The instances of a posecli bottom-up checkpoint (``--detector-weights``) as boxes.

    Raises:
        CheckpointError: no weights given, or the checkpoint is not a bottom-up model.
    """
    from posecli.inference.load import load_predictor

    if weights is None:
        raise CheckpointError(
            "detector bottomup: pass --detector-weights path/to/best.pt "
            "(a posecli bottom-up checkpoint, e.g. trained from recipes/flies-centroid.toml)"
        )
    predictor = load_predictor(str(weights), device=device, backend="torch")
    if not isinstance(predictor, BottomupPredictor):
        raise CheckpointError(f"{weights}: detector bottomup needs a bottom-up checkpoint")
    return InstanceDetector(predictor, kpt_thr=kpt_thr, min_size=min_size)
