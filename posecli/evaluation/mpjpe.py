"""3D keypoint metrics: MPJPE, P-MPJPE, N-MPJPE (Human3.6M) and 3D PCK / AUC (MPI-INF-3DHP).

Inputs are ``(N, K, 3)`` arrays in the data's units (metres for MMPose's Human3.6M files);
sequences ``(N, T, K, 3)`` are flattened to poses. Alignments (MMPose 1.3.2):

- ``none`` (MPJPE): mean joint distance over visible joints;
- ``scale`` (N-MPJPE): each prediction scaled by ``<p, g> / <p, p>`` (all joints);
- ``procrustes`` (P-MPJPE): each prediction mapped by the least-squares similarity transform
  (scale, rotation without reflection, translation) onto its ground truth (all joints).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from posecli.errors import DataError
from posecli.evaluation.metrics import Arrays, Metric, _get

ALIGNMENTS = ("none", "scale", "procrustes")


def similarity_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred (N, K, 3)`` after the per-pose similarity transform that best fits ``gt``."""
    mu_p, mu_g = pred.mean(axis=1, keepdims=True), gt.mean(axis=1, keepdims=True)
    x, y = pred - mu_p, gt - mu_g
    var = (x**2).sum(axis=(1, 2))
    cov = np.einsum("nki,nkj->nij", x, y)  # (N, 3, 3)
    u, _, vt = np.linalg.svd(cov)
    d = np.sign(np.linalg.det(np.einsum("nij,njk->nik", u, vt)))
    z = np.broadcast_to(np.eye(3), cov.shape).copy()
    z[:, 2, 2] = d
    rot = np.einsum("nji,njk,nlk->nil", vt, z, u)  # R = V Z Uᵀ
    scale = np.einsum("nii->n", np.einsum("nij,njk->nik", rot, cov)) / np.maximum(var, 1e-12)
    aligned = scale[:, None, None] * np.einsum("nij,nkj->nki", rot, x)
    return aligned + mu_g


def scale_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred (N, K, 3)`` scaled per pose by ``<pred, gt> / <pred, pred>``."""
    num = np.einsum("nkc,nkc->n", pred, gt)
    den = np.maximum(np.einsum("nkc,nkc->n", pred, pred), 1e-12)
    return pred * (num / den)[:, None, None]


def align(pred: np.ndarray, gt: np.ndarray, alignment: str = "none") -> np.ndarray:
    """``pred`` aligned to ``gt`` (``none``, ``scale`` or ``procrustes``)."""
    if alignment == "none":
        return pred
    if alignment == "scale":
        return scale_align(pred, gt)
    if alignment == "procrustes":
        return similarity_align(pred, gt)
    raise ValueError(f"alignment must be one of {', '.join(ALIGNMENTS)}, got {alignment!r}")


def joint_errors(pred: np.ndarray, gt: np.ndarray, alignment: str = "none") -> np.ndarray:
    """Per-joint distances ``(N, K)`` after the alignment."""
    pred = np.asarray(pred, np.float64)
    gt = np.asarray(gt, np.float64)
    if pred.shape != gt.shape or pred.ndim != 3:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} must both be (N, K, 3)")
    return np.linalg.norm(align(pred, gt, alignment) - gt, axis=-1)


def keypoint_mpjpe(
    pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None = None, alignment: str = "none"
) -> float:
    """Mean per-joint position error over the joints where ``mask (N, K)`` is true."""
    err = joint_errors(pred, gt, alignment)
    m = np.ones(err.shape, bool) if mask is None else np.asarray(mask, bool)
    if not m.any():
        raise DataError("MPJPE: no visible joint to evaluate")
    return float(err[m].mean())


def keypoint_3d_pck(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray | None = None,
    alignment: str = "none",
    thr: float = 0.15,
) -> float:
    """Percentage of visible joints closer than ``thr`` (data units) to the ground truth."""
    err = joint_errors(pred, gt, alignment)
    m = np.ones(err.shape, bool) if mask is None else np.asarray(mask, bool)
    return float((err[m] < thr).mean() * 100)


def keypoint_3d_auc(
    pred: np.ndarray,
    gt: np.ndarray,
    mask: np.ndarray | None = None,
    alignment: str = "none",
    max_thr: float = 0.15,
    num_thr: int = 31,
) -> float:
    """Area under the 3D PCK curve for thresholds ``linspace(0, max_thr, num_thr)`` (%)."""
    err = joint_errors(pred, gt, alignment)
    m = np.ones(err.shape, bool) if mask is None else np.asarray(mask, bool)
    thrs = np.linspace(0.0, max_thr, num_thr)
    return float((err[m][:, None] < thrs[None, :]).mean() * 100)


def _poses(a: np.ndarray, k: int | None = None) -> np.ndarray:
    a = np.asarray(a, np.float64)
    return a.reshape(-1, a.shape[-2], a.shape[-1]) if k is None else a.reshape(-1, k)


class _Pose3DMetric(Metric):
    """Shared extraction: predictions ``keypoints (B, [T,] K, 3)`` against the batch's
    ``lifting_target`` and ``lifting_target_visible``; ``action``/``subject`` per sample."""

    def _extract(self, predictions: Arrays, batch_meta: Arrays) -> dict[str, np.ndarray]:
        pred = _get(predictions, "keypoints", self.name)
        gt = _get(batch_meta, "lifting_target", self.name)
        if pred.shape != gt.shape:
            raise DataError(
                f"metric {self.name}: predictions {pred.shape} and lifting_target {gt.shape} differ"
            )
        vis = batch_meta.get("lifting_target_visible")
        k = gt.shape[-2]
        mask = (
            np.ones(gt.shape[:-1], bool)
            if vis is None
            else _get(batch_meta, "lifting_target_visible", self.name) > 0
        )
        per = int(np.prod(gt.shape[1:-2])) if gt.ndim == 4 else 1
        n = gt.shape[0]
        out = {"pred": _poses(pred), "gt": _poses(gt), "mask": _poses(mask, k)}
        for key in ("action", "subject"):
            values = batch_meta.get(key)
            arr = np.asarray(values if values is not None else [""] * n).astype(str).reshape(n)
            out[key] = np.repeat(arr, per)
        return out


class MPJPE(_Pose3DMetric):
    """MPJPE / P-MPJPE / N-MPJPE (MMPose ``MPJPE``) with an optional per-action breakdown.

    Args:
        mode: ``mpjpe`` (no alignment), ``p-mpjpe`` (Procrustes), ``n-mpjpe`` (scale).
        skip_list: ``"<subject>_<action>"`` entries left out (MotionBERT's protocol).
        per_action: also report ``<NAME>_<category>`` for every action category (the action
            name up to its first ``_``), with the same alignment.
        unit_scale: factor applied to the values (1: data units, metres for Human3.6M, as
            MMPose reports; 1000: millimetres).
    """

    name = "mpjpe"
    MODES: ClassVar[dict[str, str]] = {"mpjpe": "none", "p-mpjpe": "procrustes", "n-mpjpe": "scale"}

    def __init__(
        self,
        mode: str = "mpjpe",
        skip_list: Sequence[str] = (),
        per_action: bool = False,
        unit_scale: float = 1.0,
    ) -> None:
        super().__init__()
        if mode not in self.MODES:
            raise ValueError(f"mode must be one of {', '.join(self.MODES)}, got {mode!r}")
        self.mode = mode
        self.skip_list = set(skip_list)
        self.per_action = bool(per_action)
        self.unit_scale = float(unit_scale)

    def reported_names(self) -> list[str]:
        """``MPJPE``, ``P-MPJPE`` or ``N-MPJPE`` (per-action keys, when asked, come on top and
        depend on the data's actions)."""
        return [self.mode.upper()]

    def _compute(self, data: dict[str, Any]) -> dict[str, float]:
        keep = (
            ~np.isin(
                np.char.add(np.char.add(data["subject"], "_"), data["action"]), list(self.skip_list)
            )
            if self.skip_list
            else np.ones(len(data["gt"]), bool)
        )
        pred, gt, mask = data["pred"][keep], data["gt"][keep], data["mask"][keep]
        alignment = self.MODES[self.mode]
        name = self.mode.upper()
        out = {name: keypoint_mpjpe(pred, gt, mask, alignment) * self.unit_scale}
        if self.per_action:
            cats = np.char.partition(data["action"][keep], "_")[:, 0]
            for cat in np.unique(cats):
                sel = cats == cat
                out[f"{name}_{cat}"] = (
                    keypoint_mpjpe(pred[sel], gt[sel], mask[sel], alignment) * self.unit_scale
                )
        return out


class PCK3D(_Pose3DMetric):
    """3D PCK and its AUC (MPI-INF-3DHP): ``3DPCK`` at ``thr``, ``3DAUC`` over
    ``linspace(0, auc_max_thr, 31)`` (data units; metres), both in percent.

    Args:
        thr: PCK threshold (0.15 m = 150 mm).
        auc_max_thr: largest AUC threshold.
        alignment: ``none``, ``scale`` or ``procrustes``.
    """

    name = "pck_3d"

    def __init__(
        self, thr: float = 0.15, auc_max_thr: float = 0.15, alignment: str = "none"
    ) -> None:
        super().__init__()
        if alignment not in ALIGNMENTS:
            raise ValueError(f"alignment must be one of {', '.join(ALIGNMENTS)}, got {alignment!r}")
        self.thr, self.auc_max_thr, self.alignment = float(thr), float(auc_max_thr), alignment

    def reported_names(self) -> list[str]:
        return ["3DPCK", "3DAUC"]

    def _compute(self, data: dict[str, Any]) -> dict[str, float]:
        args = (data["pred"], data["gt"], data["mask"], self.alignment)
        return {
            "3DPCK": keypoint_3d_pck(*args, thr=self.thr),
            "3DAUC": keypoint_3d_auc(*args, max_thr=self.auc_max_thr),
        }


__all__ = [
    "MPJPE",
    "PCK3D",
    "align",
    "joint_errors",
    "keypoint_3d_auc",
    "keypoint_3d_pck",
    "keypoint_mpjpe",
    "scale_align",
    "similarity_align",
]
