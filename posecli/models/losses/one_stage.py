"""Losses of the one-stage heads (YOLOX-Pose, RTMO) with MMPose 1.3.2 numerics.

- :class:`OKSLoss`: ``1 - OKS`` (or ``1 - OKS²``, ``-log OKS``) of regressed keypoints.
- :class:`IoULoss`: ``1 - IoU`` (or ``1 - IoU²``, ``-log IoU``) of aligned xyxy boxes.
- :class:`VariFocalLoss`: BCE weighted by the target score (positives) or ``α·p^γ`` (negatives).
- :class:`BCELoss`: binary cross-entropy with per-element weights (keypoint visibility).
- :class:`MLECCLoss`: likelihood of target 1-D distributions under predicted 1-D heatmaps
  (RTMO's dynamic coordinate classifier).

``reduction`` is ``"mean"``, ``"sum"`` or ``"none"`` everywhere; ``loss_weight`` multiplies the
reduced value. :class:`MLECCLoss` reduces per instance only (see there), as MMPose does.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

_REDUCTIONS = ("mean", "sum", "none")
_MODES = ("linear", "square", "log")


def _choice(value: str, allowed: tuple[str, ...], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what} must be one of {', '.join(map(repr, allowed))}; got {value!r}")
    return value


def _reduce(loss: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "sum":
        return loss.sum()
    if reduction == "mean":
        return loss.mean()
    return loss


def _similarity_loss(sim: torch.Tensor, mode: str, log_eps: float = 0.0) -> torch.Tensor:
    """A similarity in ``[0, 1]`` → loss: ``1 - s``, ``1 - s²`` or ``-log(s + log_eps)``."""
    if mode == "linear":
        return 1 - sim
    if mode == "square":
        return 1 - sim.pow(2)
    return -torch.log(sim + log_eps) if log_eps else -sim.log()


def _expand_weight(weight: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """Weights ``(N,)`` or ``(N, C)`` broadcast against ``like`` ``(N, C, ...)``."""
    weight = weight.to(like)
    if weight.ndim == 1 and like.ndim > 1:
        weight = weight[:, None]
    return weight.reshape(*weight.shape, *([1] * (like.ndim - weight.ndim)))


def aligned_iou(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """IoU of box ``a[i]`` with box ``b[i]`` (xyxy, ``(..., 4)``) → ``(...)``.

    The union is clamped below at ``eps`` (MMPose's ``bbox_overlaps(is_aligned=True)``);
    boxes with ``x2 < x1`` give a negative area, exactly as there.
    """
    area_a = (a[..., 2] - a[..., 0]) * (a[..., 3] - a[..., 1])
    area_b = (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])
    wh = (torch.minimum(a[..., 2:], b[..., 2:]) - torch.maximum(a[..., :2], b[..., :2])).clamp(
        min=0
    )
    inter = wh[..., 0] * wh[..., 1]
    union = (area_a + area_b - inter).clamp(min=eps)
    return inter / union


class OKSLoss(nn.Module):
    """Object keypoint similarity loss of regressed keypoints (YOLO-Pose; MMPose ``OKSLoss``).

    Per instance: ``d_k = ‖p_k - t_k‖ / √area / (2σ_k)`` (no ``√area`` division when ``areas``
    is ``None``; no ``2σ`` division without ``sigmas``), ``OKS = Σ_k w_k · exp(-d_k² / 2)`` with
    ``w = target_weight / K`` (or ``/ Σ_k target_weight`` with ``norm_target_weight``). Note
    MMPose's quirk kept here: without ``target_weight`` the sum is *not* divided by K.

    Args:
        sigmas: per-keypoint OKS sigmas (MMPose reads them from ``metainfo``). Kept as a
            non-persistent buffer: MMPose registers it persistently, so an MMPose state dict may
            carry ``head.loss_oks.sigmas``, which
            :func:`~posecli.models.mmpose_compat.convert_mmpose_keys` drops.
        reduction: over instances (default ``"mean"``; RTMO uses ``"none"``).
        mode: ``"linear"`` (``1 - OKS``, default), ``"square"`` or ``"log"``.
        eps: lower clamp of ``√area`` and of the weight sum.
        norm_target_weight: divide weights by their sum instead of by K.
        loss_weight: multiplier.

    ``forward(output (N, K, 2), target (N, K, 2), target_weight (N, K) | None, areas (N,) |
    None)`` → scalar, or ``(N,)`` with ``reduction="none"``.
    """

    sigmas: torch.Tensor | None

    def __init__(
        self,
        sigmas: Sequence[float] | None = None,
        reduction: str = "mean",
        mode: str = "linear",
        eps: float = 1e-8,
        norm_target_weight: bool = False,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.reduction = _choice(reduction, _REDUCTIONS, "reduction")
        self.mode = _choice(mode, _MODES, "mode")
        self.eps = float(eps)
        self.norm_target_weight = bool(norm_target_weight)
        self.loss_weight = float(loss_weight)
        sig = None if sigmas is None else torch.as_tensor([float(s) for s in sigmas])
        self.register_buffer("sigmas", sig, persistent=False)

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_weight: torch.Tensor | None = None,
        areas: torch.Tensor | None = None,
    ) -> torch.Tensor:
        dist = (output - target).norm(dim=-1)  # (N, K)
        if areas is not None:
            dist = dist / areas.to(dist).sqrt().clamp(min=self.eps).unsqueeze(-1)
        if self.sigmas is not None:
            if self.sigmas.numel() != dist.shape[-1]:
                raise ValueError(
                    f"oks_loss has {self.sigmas.numel()} sigmas for {dist.shape[-1]} keypoints"
                )
            dist = dist / (self.sigmas.to(dist) * 2)
        oks = torch.exp(-dist.pow(2) / 2)
        if target_weight is not None:
            w = target_weight.to(oks)
            if self.norm_target_weight:
                w = w / w.sum(dim=-1, keepdim=True).clamp(min=self.eps)
            else:
                w = w / w.shape[-1]
            oks = oks * w
        loss = _similarity_loss(oks.sum(dim=-1), self.mode)
        return _reduce(loss, self.reduction) * self.loss_weight


class IoULoss(nn.Module):
    """IoU loss of predicted boxes against their targets (MMPose ``IoULoss``).

    ``IoU`` of each aligned pair (union clamped at 1e-6), clamped below at ``eps``, then
    ``1 - IoU`` (``"linear"``), ``1 - IoU²`` (``"square"``, RTMO) or ``-log IoU`` (``"log"``,
    default).

    ``forward(output (N, 4), target (N, 4))`` xyxy → scalar (``"mean"``, default, or ``"sum"``)
    or ``(N,)`` (``"none"``).
    """

    def __init__(
        self,
        reduction: str = "mean",
        mode: str = "log",
        eps: float = 1e-16,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.reduction = _choice(reduction, _REDUCTIONS, "reduction")
        self.mode = _choice(mode, _MODES, "mode")
        self.eps = float(eps)
        self.loss_weight = float(loss_weight)

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        ious = aligned_iou(output, target.to(output)).clamp(min=self.eps)
        loss = _similarity_loss(ious, self.mode)
        return _reduce(loss, self.reduction) * self.loss_weight


class VariFocalLoss(nn.Module):
    """Varifocal loss (Zhang et al. 2021) as MMPose 1.3.2 computes it (``VariFocalLoss``).

    With ``p = σ(x)``, ``label = [t > 1e-4]``: ``weight = α·p^γ·(1 - label) + t`` and
    ``loss = BCE_logits(clip(x, -10, 10), t) · weight`` per element (the weight uses the
    unclipped logit and is not detached); infinite or NaN elements are zeroed.

    Args:
        use_target_weight: multiply by ``target_weight`` ``(N, C)`` or ``(N,)``.
        loss_weight: multiplier. reduction: ``"mean"`` (default), ``"sum"`` (RTMO) or ``"none"``.
        alpha: weight of the negatives' focal term. gamma: its exponent.
        use_sigmoid: ``pred`` are logits (default, MMPose). ``False``: ``pred`` are
            probabilities; ``p = pred``, plain BCE, no clipping.
        iou_weighted: positives weighted by their target score (default, MMPose). ``False``:
            by ``label`` (1) instead, as mmdet's option of that name.

    ``forward(output (N, C), target (N, C) scores in [0, 1], target_weight | None)`` → scalar
    (or ``(N, C)`` with ``"none"``).
    """

    def __init__(
        self,
        use_target_weight: bool = False,
        loss_weight: float = 1.0,
        reduction: str = "mean",
        alpha: float = 0.75,
        gamma: float = 2.0,
        use_sigmoid: bool = True,
        iou_weighted: bool = True,
    ) -> None:
        super().__init__()
        if alpha < 0:
            raise ValueError(f"alpha must be non-negative, got {alpha!r}")
        self.use_target_weight = bool(use_target_weight)
        self.loss_weight = float(loss_weight)
        self.reduction = _choice(reduction, _REDUCTIONS, "reduction")
        self.alpha = float(alpha)
        self.gamma = float(gamma)
        self.use_sigmoid = bool(use_sigmoid)
        self.iou_weighted = bool(iou_weighted)

    def _elementwise(self, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        label = (target > 1e-4).to(target)
        prob = output.sigmoid() if self.use_sigmoid else output
        pos = target if self.iou_weighted else label
        weight = self.alpha * prob.pow(self.gamma) * (1 - label) + pos
        if self.use_sigmoid:
            bce = F.binary_cross_entropy_with_logits(
                output.clamp(-10, 10), target, reduction="none"
            )
        else:
            bce = F.binary_cross_entropy(output, target, reduction="none")
        return bce * weight

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        target = target.to(output)
        loss = self._elementwise(output, target)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError("varifocal_loss: use_target_weight needs a target_weight")
            loss = loss * _expand_weight(target_weight, loss)
        loss = torch.where(torch.isfinite(loss), loss, torch.zeros_like(loss))
        return _reduce(loss, self.reduction) * self.loss_weight


class BCELoss(nn.Module):
    """Binary cross-entropy, optionally weighted per element (MMPose 1.3.2 ``BCELoss``).

    Args:
        use_target_weight: multiply the per-element loss by ``target_weight`` ``(N, K)`` or
            ``(N,)`` before reducing (RTMO's ``loss_vis``: ``True``).
        loss_weight: multiplier. reduction: ``"mean"`` (default), ``"sum"`` or ``"none"``.
        use_sigmoid: MMPose's flag with MMPose's meaning — "the prediction already went
            through a sigmoid": ``False`` (default) → ``output`` are logits (BCE with logits);
            ``True`` → ``output`` are probabilities (plain BCE).

    ``forward(output (N, K), target (N, K), target_weight | None)`` → scalar (or ``(N, K)``).
    """

    def __init__(
        self,
        use_target_weight: bool = False,
        loss_weight: float = 1.0,
        reduction: str = "mean",
        use_sigmoid: bool = False,
    ) -> None:
        super().__init__()
        self.use_target_weight = bool(use_target_weight)
        self.loss_weight = float(loss_weight)
        self.reduction = _choice(reduction, _REDUCTIONS, "reduction")
        self.use_sigmoid = bool(use_sigmoid)

    def forward(
        self,
        output: torch.Tensor,
        target: torch.Tensor,
        target_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        target = target.to(output)
        if self.use_sigmoid:
            loss = F.binary_cross_entropy(output, target, reduction="none")
        else:
            loss = F.binary_cross_entropy_with_logits(output, target, reduction="none")
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError("bce: use_target_weight needs a target_weight")
            loss = loss * _expand_weight(target_weight, loss)
        return _reduce(loss, self.reduction) * self.loss_weight


class MLECCLoss(nn.Module):
    """Maximum-likelihood loss of coordinate classification (MMPose ``MLECCLoss``, RTMO).

    Per instance and keypoint, ``prob = Π_axes Σ_bins pred · target`` (the target's likelihood
    under the predicted 1-D distributions), then ``-log(prob + 1e-4)`` (``"log"``, default),
    ``1 - prob`` or ``1 - prob²``; NaN elements become 0, then the weights multiply.

    ``reduction`` works per instance, as MMPose's: ``"mean"`` (default) → ``(N,)`` mean over
    keypoints, ``"sum"`` → ``(N,)`` sum, ``"none"`` → ``(N, K)``. MMEngine averages the
    non-scalar result when it logs and sums the losses; a head should take ``.mean()``.

    ``forward(outputs = (x_hms (N, K, Wx), y_hms (N, K, Wy)), targets likewise,
    target_weight (N, K) | None)``.
    """

    def __init__(
        self,
        reduction: str = "mean",
        mode: str = "log",
        use_target_weight: bool = False,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.reduction = _choice(reduction, _REDUCTIONS, "reduction")
        self.mode = _choice(mode, _MODES, "mode")
        self.use_target_weight = bool(use_target_weight)
        self.loss_weight = float(loss_weight)

    def forward(
        self,
        outputs: Sequence[torch.Tensor],
        targets: Sequence[torch.Tensor],
        target_weight: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if len(outputs) != len(targets) or not outputs:
            raise ValueError(
                f"mlecc_loss: {len(outputs)} outputs for {len(targets)} targets (need ≥ 1 each)"
            )
        prob: torch.Tensor | None = None
        for o, t in zip(outputs, targets, strict=True):
            axis = (o * t.to(o)).sum(dim=-1)
            prob = axis if prob is None else prob * axis
        assert prob is not None
        loss = _similarity_loss(prob, self.mode, log_eps=1e-4)
        loss = torch.where(torch.isnan(loss), torch.zeros_like(loss), loss)
        if self.use_target_weight:
            if target_weight is None:
                raise ValueError("mlecc_loss: use_target_weight needs a target_weight")
            loss = loss * _expand_weight(target_weight, loss)
        if self.reduction == "sum":
            loss = loss.flatten(1).sum(dim=1)
        elif self.reduction == "mean":
            loss = loss.flatten(1).mean(dim=1)
        return loss * self.loss_weight


__all__ = ["BCELoss", "IoULoss", "MLECCLoss", "OKSLoss", "VariFocalLoss", "aligned_iou"]
