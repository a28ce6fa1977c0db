"""Heatmap head of SimpleBaseline / HRNet: deconvolutions, convolutions, 1×1 final layer."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.codecs.flip import flip_heatmaps
from posecli.models.heads._deconv import init_heatmap_layers, make_conv_layers, make_deconv_layers
from posecli.models.heads.base import BaseHead, batch_target, build_loss, decode_with
from posecli.recipe.schema import TestConfig


class HeatmapHead(BaseHead):
    """MMPose ``HeatmapHead`` (keys ``deconv_layers.*``, ``conv_layers.*``, ``final_layer.*``).

    Args:
        in_channels: channels of the last feature map.
        out_channels: heatmap channels (K; 3K for UDP ``combined``).
        deconv_out_channels: channels of each stride-2 deconvolution (``None`` or ``[]``: none;
            SimpleBaseline uses three of 256, HRNet none).
        deconv_kernel_sizes: kernel of each deconvolution (4, 3 or 2).
        conv_out_channels, conv_kernel_sizes: optional extra conv-BN-ReLU layers.
        has_final_layer: end with a 1×1 conv (with bias) to ``out_channels``.
        loss: loss table (default ``keypoint_mse`` with target weights).

    Input feature ``(B,C,h,w)`` → heatmaps ``(B,out_channels,h·2ⁿ,w·2ⁿ)``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        deconv_out_channels: Sequence[int] | None = (256, 256, 256),
        deconv_kernel_sizes: Sequence[int] | None = (4, 4, 4),
        conv_out_channels: Sequence[int] | None = None,
        conv_kernel_sizes: Sequence[int] | None = None,
        has_final_layer: bool = True,
        loss: Mapping[str, Any] | nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        dch = list(deconv_out_channels or [])
        dks = list(deconv_kernel_sizes or [4] * len(dch))[: len(dch)] if dch else []
        self.deconv_layers, ch = make_deconv_layers(in_channels, dch, dks)
        self.conv_layers, ch = make_conv_layers(
            ch, list(conv_out_channels or []), list(conv_kernel_sizes or [])
        )
        self.final_layer: nn.Module = (
            nn.Conv2d(ch, out_channels, 1) if has_final_layer else nn.Identity()
        )
        self.upsample_factor = 2 ** len(dch)
        self.loss_module = build_loss(loss, {"name": "keypoint_mse", "use_target_weight": True})
        init_heatmap_layers(self)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.final_layer(self.conv_layers(self.deconv_layers(feats[-1])))

    def loss_from_outputs(
        self, outputs: torch.Tensor, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        target = batch_target(batch, "heatmaps", outputs)
        return self._weighted_loss(outputs, target, outputs, batch)

    def flip_back(
        self,
        outputs: torch.Tensor,
        flip_indices: Sequence[int] | torch.Tensor,
        test_cfg: TestConfig,
    ) -> torch.Tensor:
        return flip_heatmaps(
            outputs,
            list(flip_indices),
            test_cfg.flip_mode or "heatmap",
            bool(test_cfg.shift_heatmap),
        )

    def decode(self, outputs: torch.Tensor, codec: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return decode_with(codec, outputs)
