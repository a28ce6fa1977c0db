"""SimCC head: optional deconvolutions, 1×1 conv to K maps, per-axis linear classifiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads._deconv import init_heatmap_layers, make_conv_layers, make_deconv_layers
from posecli.models.heads.base import SimCCHeadBase, build_loss


class SimCCHead(SimCCHeadBase):
    """MMPose ``SimCCHead`` (keys ``final_layer``, ``mlp_head_x``, ``mlp_head_y``).

    Args:
        in_channels, out_channels: feature channels and number of keypoints K.
        input_size: model input ``(w, h)``.
        in_featuremap_size: feature map ``(w, h)`` entering the head.
        simcc_split_ratio: bins per input pixel.
        deconv_out_channels, deconv_kernel_sizes, conv_out_channels, conv_kernel_sizes:
            optional layers before the final 1×1 conv (each deconv doubles the map).
        loss: loss table (default ``kl_discret`` with target weights).

    Input ``(B,C,h,w)`` → ``(simcc_x (B,K,w_in·r), simcc_y (B,K,h_in·r))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: Sequence[int] = (192, 256),
        in_featuremap_size: Sequence[int] = (6, 8),
        simcc_split_ratio: float = 2.0,
        deconv_out_channels: Sequence[int] | None = None,
        deconv_kernel_sizes: Sequence[int] | None = None,
        conv_out_channels: Sequence[int] | None = None,
        conv_kernel_sizes: Sequence[int] | None = None,
        loss: Mapping[str, Any] | nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.simcc_split_ratio = simcc_split_ratio
        dch = list(deconv_out_channels or [])
        self.deconv_layers, ch = make_deconv_layers(
            in_channels, dch, list(deconv_kernel_sizes or [4] * len(dch))
        )
        self.conv_layers, ch = make_conv_layers(
            ch, list(conv_out_channels or []), list(conv_kernel_sizes or [])
        )
        self.final_layer = nn.Conv2d(ch, out_channels, 1)
        up = 2 ** len(dch)
        flat = int(in_featuremap_size[0]) * up * int(in_featuremap_size[1]) * up
        self.mlp_head_x = nn.Linear(flat, int(input_size[0] * simcc_split_ratio))
        self.mlp_head_y = nn.Linear(flat, int(input_size[1] * simcc_split_ratio))
        self.loss_module = build_loss(loss, {"name": "kl_discret", "use_target_weight": True})
        init_heatmap_layers(self)
        for lin in (self.mlp_head_x, self.mlp_head_y):
            nn.init.normal_(lin.weight, std=0.01)
            nn.init.zeros_(lin.bias)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.final_layer(self.conv_layers(self.deconv_layers(feats[-1]))).flatten(2)
        return self.mlp_head_x(x), self.mlp_head_y(x)
