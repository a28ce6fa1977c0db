"""Keypoint accuracy functions (PCK, AUC, EPE, NME), vectorised numpy.

Conventions follow MMPose 1.3.2 (``reference/mmpose.md`` §4):

* A pair (instance ``n``, keypoint ``k``) counts when ``mask[n, k]`` is true and no component of
  the instance's normaliser is zero; normalisers ``<= 0`` are replaced by ``1e6``.
* PCK is the mean over keypoints of the per-keypoint accuracy (keypoints with no valid pair
  are left out); a distance counts as correct when strictly below the threshold.
* EPE and NME average over all valid pairs.

Shapes: ``pred``/``gt`` ``(N, K, 2)`` image pixels, ``mask`` ``(N, K)`` bool, normalisers
``(N, 2)`` (or ``(N,)``, used for x and y alike).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

__all__ = [
    "NME_KEYPOINT_INDICES",
    "auc",
    "bbox_size",
    "distances",
    "epe",
    "interocular",
    "nme",
    "pck",
    "pck_per_keypoint",
    "torso_size",
]

#: Keypoint pairs whose distance normalises NME, per dataset (interocular / outer eye corners).
NME_KEYPOINT_INDICES: dict[str, tuple[int, int]] = {
    "300w": (36, 45),
    "face_300w": (36, 45),
    "face_300wlp": (36, 45),
    "face_300vw": (36, 45),
    "horse10": (0, 1),
    "coco_wholebody_face": (36, 45),
    "wflw": (60, 72),
    "cofw": (8, 9),
    "lapa": (66, 79),
}


def _as_norm(norm: np.ndarray | float, n: int) -> np.ndarray:
    arr = np.asarray(norm, dtype=np.float64)
    if arr.ndim == 0:
        arr = np.full((n,), float(arr))
    if arr.ndim == 1:
        arr = np.stack([arr, arr], axis=1)
    if arr.shape != (n, 2):
        raise ValueError(f"normaliser must have shape (N,) or (N, 2) with N={n}, got {arr.shape}")
    return arr


def distances(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray | float = 1.0
) -> np.ndarray:
    """Normalised distances, ``-1`` where the pair does not count.

    Args:
        pred: Predicted keypoints ``(N, K, 2)``.
        gt: Ground-truth keypoints ``(N, K, 2)``.
        mask: Which pairs count ``(N, K)``.
        norm: Normaliser ``(N, 2)``, ``(N,)`` or a scalar.

    Returns:
        ``(N, K)`` float64 distances ``‖(pred - gt) / norm‖``.
    """
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    n = pred.shape[0]
    norm = _as_norm(norm, n)
    valid = np.asarray(mask, dtype=bool) & ~np.any(norm == 0, axis=1)[:, None]
    safe = np.where(norm <= 0, 1e6, norm)
    dist = np.linalg.norm((pred - gt) / safe[:, None, :], axis=-1)
    return np.where(valid, dist, -1.0)


def pck_per_keypoint(dist: np.ndarray, thr: float) -> np.ndarray:
    """Per-keypoint accuracy ``(K,)`` from :func:`distances`; ``-1`` for keypoints never valid."""
    valid = dist != -1
    count = valid.sum(axis=0)
    hits = ((dist < thr) & valid).sum(axis=0)
    return np.where(count > 0, hits / np.maximum(count, 1), -1.0)


def pck(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray,
    norm: np.ndarray | float,
    thr: float = 0.05,
) -> float:
    """PCK@thr: mean over keypoints of the share of instances within ``thr × norm``.

    Args:
        pred: ``(N, K, 2)``.
        gt: ``(N, K, 2)``.
        mask: ``(N, K)``.
        norm: ``(N, 2)``, ``(N,)`` or scalar, e.g. :func:`bbox_size`.
        thr: Threshold as a fraction of the normaliser.

    Returns:
        The accuracy in [0, 1] (0 when no pair counts).
    """
    acc = pck_per_keypoint(distances(pred, gt, mask, norm), thr)
    good = acc[acc >= 0]
    return float(good.mean()) if good.size else 0.0


def auc(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray,
    norm_factor: float = 30.0,
    num_thrs: int = 20,
) -> float:
    """Area under the PCK curve for thresholds ``i / num_thrs`` (``i = 0..num_thrs-1``).

    Args:
        pred: ``(N, K, 2)``.
        gt: ``(N, K, 2)``.
        mask: ``(N, K)``.
        norm_factor: Fixed normaliser in pixels (30 px as in MMPose).
        num_thrs: Number of thresholds.

    Returns:
        ``mean_i PCK@(i / num_thrs)``.
    """
    dist = distances(pred, gt, mask, float(norm_factor))
    thrs = np.arange(num_thrs) / num_thrs
    valid = dist != -1
    count = valid.sum(axis=0)  # (K,)
    keep = count > 0
    if not keep.any():
        return 0.0
    hits = ((dist[None] < thrs[:, None, None]) & valid[None]).sum(axis=1)  # (T, K)
    per_thr = (hits[:, keep] / count[keep]).mean(axis=1)
    return float(per_thr.mean())


def epe(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray) -> float:
    """End-point error: mean pixel distance over valid pairs (0 when none). Shapes ``(N, K, 2)``."""
    dist = distances(pred, gt, mask, 1.0)
    good = dist[dist != -1]
    return float(good.sum() / max(1, good.size))


def nme(pred: np.ndarray, gt: np.ndarray, mask: np.ndarray, norm: np.ndarray | float) -> float:
    """Normalised mean error over valid pairs.

    Args:
        pred: ``(N, K, 2)``.
        gt: ``(N, K, 2)``.
        mask: ``(N, K)``.
        norm: ``(N,)``/``(N, 2)``/scalar, e.g. :func:`interocular` or :func:`bbox_size`.
    """
    dist = distances(pred, gt, mask, norm)
    good = dist[dist != -1]
    return float(good.sum() / max(1, good.size))


def bbox_size(bbox: np.ndarray) -> np.ndarray:
    """Longer side ``max(w, h)`` of xyxy boxes ``(N, 4)`` → ``(N,)``."""
    bbox = np.asarray(bbox, dtype=np.float64).reshape(-1, 4)
    return np.max(bbox[:, 2:] - bbox[:, :2], axis=1)


def interocular(gt: np.ndarray, indices: Sequence[int]) -> np.ndarray:
    """Distance between two ground-truth keypoints per instance, ``(N, K, 2)`` → ``(N,)``."""
    i, j = int(indices[0]), int(indices[1])
    gt = np.asarray(gt, dtype=np.float64)
    return np.linalg.norm(gt[:, i] - gt[:, j], axis=-1)


def torso_size(
    gt: np.ndarray, pred: np.ndarray | None = None, indices: Sequence[int] = (4, 5)
) -> np.ndarray:
    """Torso size per instance ``(N,)``: distance of two GT keypoints (JHMDB: 4 and 5).

    Where the ground-truth torso is shorter than 1 px, the prediction's torso is used instead
    (as MMPose does).
    """
    size = interocular(gt, indices)
    if pred is not None:
        size = np.where(size < 1, interocular(pred, indices), size)
    return size
