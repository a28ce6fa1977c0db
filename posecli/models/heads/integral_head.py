"""Integral regression (soft-argmax / DSNT): heatmap layers, spatial softmax, expectation."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads._deconv import init_heatmap_layers, make_conv_layers, make_deconv_layers
from posecli.models.heads.base import CoordinateHead, batch_target, build_loss, weights_of


class IntegralRegressionHead(CoordinateHead):
    """Soft-argmax head: coordinates are the expectation of a spatially soft-maxed heatmap.

    ``x = Σ p(i,j) · j / W`` (likewise y), i.e. heatmap pixel index over heatmap size, which equals
    ``RegressionLabel``'s ``keypoint / input_size`` for the codec's heatmap. With ``debias`` the
    expectation is corrected for the softmax mass spread over the whole map (Gu et al. 2021).

    Args:
        in_channels: feature channels.
        num_joints: K.
        input_size: model input ``(w, h)`` (exact flip shift).
        beta: softmax temperature.
        debias: apply the debiased expectation.
        deconv_out_channels, deconv_kernel_sizes, conv_out_channels, conv_kernel_sizes:
            layers before the 1×1 final conv (as the heatmap head).
        loss: coordinate loss table (default ``smooth_l1``).
        heatmap_loss: optional regulariser on the normalised heatmaps against the codec's
            ``heatmaps`` target (DSNT: ``{name = "dsnt"}``); ``None`` for none.

    Tensor mode: ``(B,C,h,w)`` → coordinates ``(B,K,2)`` normalised to ``[0,1]``.
    """

    def __init__(
        self,
        in_channels: int,
        num_joints: int,
        input_size: Sequence[int] = (256, 256),
        beta: float = 1.0,
        debias: bool = False,
        deconv_out_channels: Sequence[int] | None = None,
        deconv_kernel_sizes: Sequence[int] | None = None,
        conv_out_channels: Sequence[int] | None = None,
        conv_kernel_sizes: Sequence[int] | None = None,
        loss: Mapping[str, Any] | nn.Module | None = None,
        heatmap_loss: Mapping[str, Any] | nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.beta = beta
        self.debias = debias
        dch = list(deconv_out_channels or [])
        self.deconv_layers, ch = make_deconv_layers(
            in_channels, dch, list(deconv_kernel_sizes or [4] * len(dch))
        )
        self.conv_layers, ch = make_conv_layers(
            ch, list(conv_out_channels or []), list(conv_kernel_sizes or [])
        )
        self.final_layer = nn.Conv2d(ch, num_joints, 1)
        init_heatmap_layers(self)
        self.loss_module = build_loss(loss, {"name": "smooth_l1", "use_target_weight": True})
        self.heatmap_loss = build_loss(heatmap_loss, {}) if heatmap_loss is not None else None

    def _logits(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.final_layer(self.conv_layers(self.deconv_layers(feats[-1]))) * self.beta

    def heatmaps(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """Spatially soft-maxed heatmaps ``(B,K,H,W)``, each summing to 1."""
        logits = self._logits(feats)
        return torch.softmax(logits.flatten(2), dim=-1).reshape(logits.shape)

    def _coords(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(probabilities ``(B,K,H,W)``, normalised coordinates ``(B,K,2)``)."""
        b, k, h, w = logits.shape
        flat = logits.flatten(2)
        probs = torch.softmax(flat, dim=-1).reshape(b, k, h, w)
        xs = torch.arange(w, device=logits.device, dtype=logits.dtype) / w
        ys = torch.arange(h, device=logits.device, dtype=logits.dtype) / h
        coords = torch.stack(((probs.sum(dim=2) * xs).sum(-1), (probs.sum(dim=3) * ys).sum(-1)), -1)
        if self.debias:
            # exp(l) = 1 + (exp(l) - 1): remove the uniform part, whose mean is the map centre.
            ratio = (h * w) * torch.exp(-torch.logsumexp(flat, dim=-1))[..., None]  # C / S
            centre = torch.tensor([xs.mean(), ys.mean()], device=logits.device, dtype=logits.dtype)
            coords = (coords - ratio * centre) / (1 - ratio).clamp(min=1e-6)
        return probs, coords

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self._coords(self._logits(feats))[1]

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        probs, coords = self._coords(self._logits(feats))
        target = batch_target(batch, "keypoint_labels", coords)
        w = weights_of(batch)
        w = None if w is None else w.to(coords)
        loss_kpt = self.loss_module(coords, target, w)
        out = {"loss_kpt": loss_kpt.detach()}
        loss = loss_kpt
        if self.heatmap_loss is not None:
            hm = batch_target(batch, "heatmaps", probs)
            loss_hm = self.heatmap_loss(probs, hm, w)
            out["loss_heatmap"] = loss_hm.detach()
            loss = loss + loss_hm
        out["loss"] = loss
        return out
