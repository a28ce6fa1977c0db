"""Losses of the bottom-up heads (MMPose 1.3.2 numerics).

- :class:`AssociativeEmbeddingLoss`: pull/push of per-keypoint tags (AE).
- :class:`SoftWeightSmoothL1Loss`: weighted smooth-L1 of displacement maps (DEKR).
- :class:`FocalHeatmapLoss`: CornerNet focal loss on sigmoid heatmaps (CID).
- :class:`InfoNCELoss`: contrastive loss of instance feature vectors (CID).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class AssociativeEmbeddingLoss(nn.Module):
    """Pull tags of one instance together, push the mean tags of instances apart.

    Per image with instances ``n`` (those with a valid keypoint) of mean tag ``t_n`` (L,):
    ``pull = mean_n mse(tags_nk, t_n)`` over its valid keypoints; ``push = (Σ_{a,b}
    exp(-‖t_a - t_b‖²) - N) / (N(N-1)) · push_loss_factor`` (0 when N < 2). Both are averaged
    over the batch and multiplied by ``loss_weight``.

    ``forward(tags (B, L·K, H, W), keypoint_indices [B × (N_i, K, 2)])`` with indices
    ``[y·W + x, valid]`` per keypoint (the ``associative_embedding`` codec's) →
    ``(pull, push)``.
    """

    def __init__(self, loss_weight: float = 1.0, push_loss_factor: float = 0.5) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)
        self.push_loss_factor = float(push_loss_factor)

    def _per_image(
        self, tags: torch.Tensor, indices: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        k = indices.shape[1]
        c, h, w = tags.shape
        flat = tags.reshape(c // k, k, h * w)  # (L, K, HW)
        zero = tags.sum() * 0
        inst_tags = []
        pull = zero
        for ind in indices:  # (K, 2); instances are few, keypoints vectorised
            valid = ind[:, 1] > 0
            if not bool(valid.any()):
                continue
            ks = torch.nonzero(valid).reshape(-1)
            kt = flat[:, ks, ind[ks, 0].clamp(0, h * w - 1)].t()  # (n_k, L)
            mean = kt.mean(0)
            pull = pull + F.mse_loss(kt, mean.expand_as(kt))
            inst_tags.append(mean)
        n = len(inst_tags)
        if n == 0:
            return zero, zero
        pull = pull / n
        if n < 2:
            return pull, zero
        t = torch.stack(inst_tags)  # (N, L)
        diff = t[:, None] - t[None]
        push = torch.exp(-diff.square().sum(-1)).sum() - n
        return pull, push / ((n - 1) * n) * self.push_loss_factor

    def forward(
        self, tags: torch.Tensor, keypoint_indices: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor]:
        pulls, pushes = [], []
        for i, ind in enumerate(keypoint_indices):
            ind = ind.to(tags.device).long().reshape(-1, *ind.shape[-2:])
            pl, ps = self._per_image(tags[i], ind)
            pulls.append(pl)
            pushes.append(ps)
        pull = torch.stack(pulls).mean() * self.loss_weight
        push = torch.stack(pushes).mean() * self.loss_weight
        return pull, push


class SoftWeightSmoothL1Loss(nn.Module):
    """Smooth-L1 multiplied by (soft) target weights (MMPose ``SoftWeightSmoothL1Loss``).

    With ``use_target_weight`` the weights broadcast over trailing dims; ``supervise_empty``
    averages over every element, otherwise over elements with a positive weight.
    """

    def __init__(
        self,
        use_target_weight: bool = False,
        supervise_empty: bool = True,
        beta: float = 1.0,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.use_target_weight = bool(use_target_weight)
        self.supervise_empty = bool(supervise_empty)
        self.beta = float(beta)
        self.loss_weight = float(loss_weight)

    def forward(
        self, output: torch.Tensor, target: torch.Tensor, target_weights: torch.Tensor | None = None
    ) -> torch.Tensor:
        loss = F.smooth_l1_loss(output, target, reduction="none", beta=self.beta)
        if self.use_target_weight and target_weights is not None:
            w = target_weights.to(loss)
            w = w.reshape(*w.shape, *([1] * (loss.ndim - w.ndim)))
            loss = loss * w
            if self.supervise_empty:
                loss = loss.mean()
            else:
                loss = loss.sum() / max(int((w > 0).sum()), 1)
        else:
            loss = loss.mean()
        return loss * self.loss_weight


class FocalHeatmapLoss(nn.Module):
    """CornerNet focal loss on heatmaps in (0, 1): positives where the target is exactly 1.

    ``forward(output, target, target_weights (B, K) | None, mask (B, [K|1], H, W) | None)``:
    ``-(Σ log(p)(1-p)^α·pos + Σ log(1-p) p^α (1-t)^β·neg) / num_pos`` (sum of the negative
    term alone when there is no positive).
    """

    def __init__(
        self,
        alpha: int = 2,
        beta: int = 4,
        use_target_weight: bool = False,
        skip_empty_channel: bool = False,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.alpha = alpha
        self.beta = beta
        self.use_target_weight = bool(use_target_weight)
        self.skip_empty_channel = bool(skip_empty_channel)
        self.loss_weight = float(loss_weight)

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_weights: torch.Tensor | None = None,
        mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        m = torch.ones_like(target)
        if self.use_target_weight and target_weights is not None:
            m = m * target_weights.to(m).reshape(*target_weights.shape, 1, 1)
        if mask is not None:
            m = m * mask.to(m)
        if self.skip_empty_channel:
            m = m * (target != 0).flatten(2).any(2).to(m)[..., None, None]
        pos = target.eq(1).to(m) * m
        neg = target.lt(1).to(m) * m
        neg_w = torch.pow(1 - target, self.beta)
        pos_loss = torch.log(output) * torch.pow(1 - output, self.alpha) * pos
        neg_loss = torch.log(1 - output) * torch.pow(output, self.alpha) * neg_w * neg
        num_pos = pos.sum()
        if float(num_pos) == 0:
            loss = -neg_loss.sum()
        else:
            loss = -(pos_loss.sum() + neg_loss.sum()) / num_pos
        return loss * self.loss_weight


class InfoNCELoss(nn.Module):
    """InfoNCE over instance features ``(N, D)``: each feature's own index is its class.

    ``cross_entropy(normalise(f) · normalise(f)ᵀ / temperature, arange(N), sum)``.
    """

    def __init__(self, temperature: float = 1.0, loss_weight: float = 1.0) -> None:
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}")
        self.temperature = float(temperature)
        self.loss_weight = float(loss_weight)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        n = features.shape[0]
        f = F.normalize(features, dim=1)
        logits = f @ f.t() / self.temperature
        target = torch.arange(n, device=features.device)
        return F.cross_entropy(logits, target, reduction="sum") * self.loss_weight


__all__ = [
    "AssociativeEmbeddingLoss",
    "FocalHeatmapLoss",
    "InfoNCELoss",
    "SoftWeightSmoothL1Loss",
]
