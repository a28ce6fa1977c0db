"""Heatmap losses: MMPose's weighted MSE and a spatial-softmax cross-entropy.

Inputs: ``pred``/``target`` heatmaps ``(B,K,H,W)``, ``weight (B,K)`` or ``None``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class KeypointMSELoss(nn.Module):
    """Mean squared error over heatmaps, each keypoint's map multiplied by its weight.

    ``skip_empty_channel`` also zeroes channels whose target is all zero.
    """

    def __init__(
        self,
        use_target_weight: bool = False,
        skip_empty_channel: bool = False,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.use_target_weight = use_target_weight
        self.skip_empty_channel = skip_empty_channel
        self.loss_weight = loss_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        mask: torch.Tensor | None = None
        if self.use_target_weight and weight is not None:
            mask = weight.reshape(*weight.shape, *([1] * (pred.ndim - weight.ndim)))
        if self.skip_empty_channel:
            nonempty = (target != 0).flatten(2).any(dim=2).to(pred.dtype)[..., None, None]
            mask = nonempty if mask is None else mask * nonempty
        if mask is None:
            return F.mse_loss(pred, target) * self.loss_weight
        return (F.mse_loss(pred, target, reduction="none") * mask).mean() * self.loss_weight


class HeatmapSoftmaxCELoss(nn.Module):
    """Spatial-softmax cross-entropy: ``-Σ t̂ · log_softmax(pred·beta)`` over H·W per keypoint.

    ``t̂`` is the target heatmap normalised to sum 1. Unlike MSE, the all-zero prediction is not
    a minimum, so short CPU trainings do not collapse (see the CPU training notes). Keypoints
    with an empty target or zero weight do not count; the loss is the weighted mean.
    """

    def __init__(
        self, beta: float = 1.0, use_target_weight: bool = True, loss_weight: float = 1.0
    ) -> None:
        super().__init__()
        self.beta = beta
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
    ) -> torch.Tensor:
        logits = pred.flatten(2) * self.beta
        t = target.flatten(2).clamp(min=0)
        total = t.sum(dim=-1)
        t = t / total.clamp(min=1e-12)[..., None]
        per = -(t * F.log_softmax(logits, dim=-1)).sum(dim=-1)  # (B,K)
        w = (total > 0).to(per.dtype)
        if self.use_target_weight and weight is not None:
            w = w * weight.reshape(per.shape).to(per.dtype)
        return (per * w).sum() / w.sum().clamp(min=1.0) * self.loss_weight
