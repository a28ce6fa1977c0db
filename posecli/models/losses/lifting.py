"""3D lifting losses on coordinates ``(B, [T,] K, 3)``; ``weight`` is per keypoint ``(B, [T,] K)``.

MMPose 1.3.2 numerics: ``MPJPELoss`` is the mean joint distance (weights multiply the
difference vectors), ``MPJPEVelocityJointLoss`` adds the scale-aligned N-MPJPE and the velocity
error over the frame axis, ``BoneLoss`` compares batch-mean bone lengths, ``MSELoss`` is the
coordinate MSE of SimpleBaseline3D.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


def _w(weight: torch.Tensor | None, ref: torch.Tensor) -> torch.Tensor | None:
    """Per-keypoint weights broadcast to ``ref`` (…, K, C)."""
    if weight is None:
        return None
    w = weight.to(ref)
    while w.ndim < ref.ndim:
        w = w.unsqueeze(-1)
    return w


def _mean_dist(diff: torch.Tensor, w: torch.Tensor | None) -> torch.Tensor:
    return torch.norm(diff if w is None else diff * w, dim=-1).mean()


def scale_align(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``pred`` scaled per pose by ``<pred, target> / <pred, pred>`` (over joints; N-MPJPE)."""
    num = (target * pred).sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
    den = pred.square().sum(dim=-1, keepdim=True).mean(dim=-2, keepdim=True)
    return pred * num / den.clamp_min(1e-12)


class MPJPELoss(nn.Module):
    """Mean per-joint position error (MMPose ``MPJPELoss``)."""

    def __init__(self, use_target_weight: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        w = _w(weight, pred) if self.use_target_weight else None
        return _mean_dist(pred - target, w) * self.loss_weight


class NMPJPELoss(nn.Module):
    """MPJPE after scaling each predicted pose to the target in the least-squares sense."""

    def __init__(self, use_target_weight: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        w = _w(weight, pred) if self.use_target_weight else None
        return _mean_dist(scale_align(pred, target) - target, w) * self.loss_weight


class MPJPEVelocityJointLoss(nn.Module):
    """MotionBERT: ``MPJPE + λ_scale·N-MPJPE + λ_vel·velocity MPJPE`` on ``(B, T, K, 3)``."""

    def __init__(
        self,
        use_target_weight: bool = False,
        loss_weight: float = 1.0,
        lambda_scale: float = 0.5,
        lambda_3d_velocity: float = 20.0,
    ) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.lambda_scale = lambda_scale
        self.lambda_3d_velocity = lambda_3d_velocity

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if pred.ndim < 4:
            raise ValueError(f"MPJPEVelocityJointLoss needs (B, T, K, 3), got {tuple(pred.shape)}")
        w = _w(weight, pred) if self.use_target_weight else None
        mpjpe = _mean_dist(pred - target, w)
        nmpjpe = _mean_dist(scale_align(pred, target) - target, w)
        vel = (pred[..., 1:, :, :] - pred[..., :-1, :, :]) - (
            target[..., 1:, :, :] - target[..., :-1, :, :]
        )
        wv = None if w is None else w[..., 1:, :, :]
        velocity = _mean_dist(vel, wv) if pred.shape[-3] > 1 else pred.new_zeros(())  # T = 1
        loss = mpjpe + self.lambda_scale * nmpjpe + self.lambda_3d_velocity * velocity
        return loss * self.loss_weight


class BoneLoss(nn.Module):
    """Mean absolute difference of batch-mean bone lengths (MMPose ``BoneLoss``).

    Args:
        joint_parents: parent of each joint (the root is its own parent).
    """

    def __init__(
        self,
        joint_parents: Sequence[int],
        use_target_weight: bool = False,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.joint_parents = [int(p) for p in joint_parents]
        self.non_root = [i for i, p in enumerate(self.joint_parents) if i != p]
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def _bones(self, x: torch.Tensor) -> torch.Tensor:
        return torch.norm(x - x[..., self.joint_parents, :], dim=-1)[..., self.non_root]

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        pb, tb = self._bones(pred), self._bones(target)
        if self.use_target_weight and weight is not None:
            w = weight.to(pb)[..., self.non_root]
            pb, tb = pb * w, tb * w
        return (pb.mean(dim=0) - tb.mean(dim=0)).abs().mean() * self.loss_weight


class MSELoss(nn.Module):
    """Coordinate MSE, mean over all elements (MMPose ``MSELoss``, SimpleBaseline3D)."""

    def __init__(self, use_target_weight: bool = False, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.use_target_weight and weight is not None:
            w = _w(weight, pred)
            pred, target = pred * w, target * w
        return F.mse_loss(pred, target) * self.loss_weight


__all__ = [
    "BoneLoss",
    "MPJPELoss",
    "MPJPEVelocityJointLoss",
    "MSELoss",
    "NMPJPELoss",
    "scale_align",
]
