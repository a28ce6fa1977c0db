"""SimCC classification losses over x/y bins: KL divergence (RTMPose) and soft cross-entropy."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class KLDiscretLoss(nn.Module):
    """MMPose's ``KLDiscretLoss`` for SimCC vectors.

    Per axis: ``KL(softmax(label·label_beta) ‖ softmax(pred·beta))`` per bin, averaged over bins,
    times the keypoint weight, summed over B·K; the x and y terms are added and divided by K
    (not by B: MMPose's normalisation).

    Args:
        beta: temperature on predictions.
        label_softmax: softmax the labels (else they are used as given).
        label_beta: temperature on labels when ``label_softmax``.
        use_target_weight: weight keypoints by ``keypoint_weights``.
        loss_weight: final multiplier.
        mask / mask_weight: keypoints whose terms are multiplied by ``mask_weight`` (RTMW
            halves its 68 face points: ``mask = 23..90``, ``mask_weight = 0.5``).

    Inputs: ``pred = (x (B,K,Wx), y (B,K,Wy))``, ``target`` likewise, ``weight (B,K)``.
    """

    def __init__(
        self,
        beta: float = 1.0,
        label_softmax: bool = False,
        label_beta: float = 10.0,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
        mask: Sequence[int] | None = None,
        mask_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.beta = beta
        self.label_softmax = label_softmax
        self.label_beta = label_beta
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight
        self.mask = None if mask is None else [int(i) for i in mask]
        self.mask_weight = float(mask_weight)

    def _criterion(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        log_pt = F.log_softmax(pred * self.beta, dim=1)
        if self.label_softmax:
            target = F.softmax(target * self.label_beta, dim=1)
        kl = F.kl_div(log_pt, target, reduction="none")
        return kl.mean(dim=1)

    def forward(
        self,
        pred: Sequence[torch.Tensor],
        target: Sequence[torch.Tensor],
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        k = pred[0].shape[1]
        w = weight.reshape(-1) if (self.use_target_weight and weight is not None) else 1.0
        if self.mask is not None:  # MMPose: these keypoints' terms × mask_weight (RTMW: face)
            scale = pred[0].new_ones(k)
            scale[self.mask] = self.mask_weight
            w = (pred[0].new_ones(pred[0].shape[:2]) * scale).reshape(-1) * w
        loss = pred[0].new_zeros(())
        for p, t in zip(pred, target, strict=True):
            per = self._criterion(p.reshape(-1, p.shape[-1]), t.reshape(-1, t.shape[-1]))
            loss = loss + (per * w).sum()
        return loss / k * self.loss_weight


class SoftmaxCELoss(nn.Module):
    """Soft-label cross-entropy over SimCC bins, with optional label smoothing.

    Labels are normalised to a distribution per keypoint; ``label_smoothing`` mixes it with the
    uniform distribution. The loss is ``-Σ t·log_softmax(pred·beta)`` per keypoint, weighted,
    averaged over B·K, summed over the axes.

    Inputs: ``pred``/``target`` tuples of ``(B,K,W)`` tensors (one per axis), ``weight (B,K)``.
    A single tensor (e.g. a flattened heatmap) is accepted as a one-axis tuple.
    """

    def __init__(
        self,
        beta: float = 1.0,
        label_smoothing: float = 0.0,
        use_target_weight: bool = True,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        if not 0.0 <= label_smoothing < 1.0:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.beta = beta
        self.label_smoothing = label_smoothing
        self.use_target_weight = use_target_weight
        self.loss_weight = loss_weight

    def forward(
        self,
        pred: Sequence[torch.Tensor] | torch.Tensor,
        target: Sequence[torch.Tensor] | torch.Tensor,
        weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        preds = (pred,) if isinstance(pred, torch.Tensor) else tuple(pred)
        targets = (target,) if isinstance(target, torch.Tensor) else tuple(target)
        loss = preds[0].new_zeros(())
        for p, t in zip(preds, targets, strict=True):
            t = t.clamp(min=0)
            t = t / t.sum(dim=-1, keepdim=True).clamp(min=1e-12)
            if self.label_smoothing:
                t = (1 - self.label_smoothing) * t + self.label_smoothing / t.shape[-1]
            per = -(t * F.log_softmax(p * self.beta, dim=-1)).sum(dim=-1)  # (B,K)
            if self.use_target_weight and weight is not None:
                per = per * weight.reshape(per.shape)
            loss = loss + per.mean()
        return loss * self.loss_weight
