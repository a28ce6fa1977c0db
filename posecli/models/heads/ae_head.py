"""Associative-embedding head (MMPose ``AssociativeEmbeddingHead``): heatmaps plus tags.

The layers are :class:`~posecli.models.heads.heatmap_head.HeatmapHead`'s (keys
``deconv_layers.*``, ``conv_layers.*``, ``final_layer.*``) with ``K + L·K`` output channels
(``K + L`` without per-keypoint tags): the first K are heatmaps, the rest tags laid out
``(L, K)``. The flip merge and grouping run in numpy
(:mod:`posecli.runtime.bottomup_decoding`, ``associative_embedding`` codec).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads.base import build_loss
from posecli.models.heads.bottomup_base import heatmap_mask, image_target, instance_targets
from posecli.models.heads.heatmap_head import HeatmapHead


class AssociativeEmbeddingHead(HeatmapHead):
    """Heatmaps ``(B, K, H, W)`` and tags ``(B, L·K, H, W)`` from the last feature map.

    Args:
        in_channels: channels of the last feature map.
        num_keypoints: K.
        tag_dim: L, the embedding size per keypoint.
        tag_per_keypoint: one tag map per keypoint (else L shared maps).
        deconv_out_channels, deconv_kernel_sizes, conv_out_channels, conv_kernel_sizes: as
            :class:`HeatmapHead` (MMPose's AE-HRNet recipe uses no deconvolution).
        keypoint_loss: heatmap loss (default ``keypoint_mse`` with target weights), applied to
            the heatmaps times the ``heatmap_mask``.
        tag_loss: ``associative_embedding_loss`` table.
    """

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        tag_dim: int = 1,
        tag_per_keypoint: bool = True,
        deconv_out_channels: Sequence[int] | None = (256, 256, 256),
        deconv_kernel_sizes: Sequence[int] | None = (4, 4, 4),
        conv_out_channels: Sequence[int] | None = None,
        conv_kernel_sizes: Sequence[int] | None = None,
        has_final_layer: bool = True,
        keypoint_loss: Mapping[str, Any] | nn.Module | None = None,
        tag_loss: Mapping[str, Any] | nn.Module | None = None,
    ) -> None:
        self.num_keypoints = int(num_keypoints)
        self.tag_dim = int(tag_dim)
        self.tag_per_keypoint = bool(tag_per_keypoint)
        tags = self.num_keypoints * self.tag_dim if tag_per_keypoint else self.tag_dim
        super().__init__(
            in_channels,
            self.num_keypoints + tags,
            deconv_out_channels,
            deconv_kernel_sizes,
            conv_out_channels,
            conv_kernel_sizes,
            has_final_layer,
            loss=keypoint_loss,
        )
        self.tag_loss = build_loss(tag_loss, {"name": "associative_embedding_loss"})

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:  # type: ignore[override]
        out = super().forward(feats)
        k = self.num_keypoints
        return out[:, :k], out[:, k:]

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        heatmaps, tags = self(feats)
        gt = image_target(batch, "heatmaps", heatmaps)
        mask = heatmap_mask(batch, heatmaps)
        pred = heatmaps if mask is None else heatmaps * mask
        gt = gt if mask is None else gt * mask
        loss_kpt = self.loss_module(pred, gt, None)
        indices = instance_targets(batch, "keypoint_indices", 3, heatmaps.shape[0])
        pull, push = self.tag_loss(tags, indices)
        total = loss_kpt + pull + push
        return {
            "loss": total,
            "loss_kpt": loss_kpt.detach(),
            "loss_pull": pull.detach(),
            "loss_push": push.detach(),
        }


__all__ = ["AssociativeEmbeddingHead"]
