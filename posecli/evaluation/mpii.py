"""MPII's PCKh (MMPose ``MpiiPCKAccuracy``): PCKh@0.5 per body part, its mean, and PCKh@0.1.

Rules (MMPose 1.3.2):

* predictions are moved by ``+1`` px before they are compared: MPII's ground truth uses
  MATLAB's 1-based pixel indices (``shift``);
* distances are divided by the instance's ``head_size`` (:mod:`posecli.data.converters.mpii`);
  a joint is correct when strictly below the threshold (:mod:`posecli.evaluation.keypoints`);
* a part is the mean of its joints (left and right); ``PCK`` and ``PCK@0.1`` weight each joint
  by its share of the labelled joints, pelvis and thorax left out;
* values are percentages, named as MMPose names them (``Head PCK`` ... ``PCK``, ``PCK@0.1``).

Shapes: ``pred``/``gt`` ``(N, 16, 2)`` image pixels, ``mask`` ``(N, 16)`` bool, ``head_size (N,)``.
"""

from __future__ import annotations

import numpy as np

from posecli.errors import DataError
from posecli.evaluation.keypoints import distances, pck_per_keypoint
from posecli.evaluation.metrics import Arrays, Metric, batch_head_size

__all__ = ["MPII_PARTS", "MpiiPCK", "mpii_joint_weights", "mpii_pckh"]

NUM_JOINTS = 16
#: Joints of each reported part, MPII order (0 right ankle ... 9 head top ... 15 left wrist).
MPII_PARTS: dict[str, tuple[int, ...]] = {
    "Head": (9,),
    "Shoulder": (13, 12),
    "Elbow": (14, 11),
    "Wrist": (15, 10),
    "Hip": (3, 2),
    "Knee": (4, 1),
    "Ankle": (5, 0),
}
#: Pelvis and thorax: left out of the weighted means.
LEFT_OUT = (6, 7)
#: The second threshold MMPose reports (``PCK@0.1``).
LOW_THR = 0.1


def mpii_joint_weights(mask: np.ndarray) -> np.ndarray:
    """``(16,)`` share of each joint among the labelled joints ``mask (N, 16)``, pelvis and
    thorax weighted 0 (all 0 when nothing is labelled)."""
    count = np.asarray(mask, bool).sum(axis=0).astype(np.float64)
    count[list(LEFT_OUT)] = 0.0
    return count / max(count.sum(), 1.0)


def mpii_pckh(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray,
    head_size: np.ndarray,
    thr: float = 0.5,
    shift: float = 1.0,
) -> dict[str, float]:
    """MPII PCKh values in percent.

    Args:
        pred: Predicted keypoints ``(N, 16, 2)``, 0-based image pixels.
        gt: Ground truth ``(N, 16, 2)`` as MPII stores it (1-based).
        mask: Labelled joints ``(N, 16)``.
        head_size: ``(N,)`` normaliser (0.6 × head-box diagonal).
        thr: Threshold of ``PCK`` and the parts, a fraction of the head size.
        shift: Added to ``pred`` before comparing (1: MATLAB indices).

    Returns:
        ``{"Head PCK", ..., "Ankle PCK", "PCK", "PCK@0.1"}``.
    """
    pred = np.asarray(pred, np.float64)
    if pred.ndim != 3 or pred.shape[1] != NUM_JOINTS:
        raise DataError(f"MPII PCKh needs MPII's {NUM_JOINTS} joints, got keypoints {pred.shape}")
    dist = distances(pred + shift, gt, mask, head_size)
    per_joint = 100.0 * pck_per_keypoint(dist, thr)  # -100 where a joint is never labelled
    low = (100.0 * pck_per_keypoint(dist, LOW_THR)).astype(np.float32)  # as MMPose: float32
    weights = mpii_joint_weights(mask)
    values = {f"{part} PCK": float(per_joint[list(j)].mean()) for part, j in MPII_PARTS.items()}
    values["PCK"] = float(per_joint @ weights)
    values[f"PCK@{LOW_THR:g}"] = float(low.astype(np.float64) @ weights)
    return values


class MpiiPCK(Metric):
    """MPII PCKh (MMPose ``MpiiPCKAccuracy``): ``Head PCK`` ... ``Ankle PCK``, ``PCK`` (all at
    ``thr``) and ``PCK@0.1``, in percent; needs ``head_size`` (the ``mpii`` dataset's
    ``headbox_file``).

    Args:
        thr: Threshold as a fraction of the head size.
        shift: Pixels added to the predictions before comparing (MPII's 1-based ground truth).
    """

    name = "mpii_pck"

    def __init__(self, thr: float = 0.5, shift: float = 1.0) -> None:
        super().__init__()
        self.thr = float(thr)
        self.shift = float(shift)

    def reported_names(self) -> list[str]:
        return [*(f"{part} PCK" for part in MPII_PARTS), "PCK", f"PCK@{LOW_THR:g}"]

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        out = self._base(predictions, batch_meta)
        out["head"] = batch_head_size(batch_meta, self.name)
        return out

    def _compute(self, data: dict[str, np.ndarray]) -> dict[str, float]:
        return mpii_pckh(data["pred"], data["gt"], data["mask"], data["head"], self.thr, self.shift)
