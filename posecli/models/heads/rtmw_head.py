"""RTMW's SimCC head (MMPose ``RTMWHead``): two feature levels, pixel-shuffle fusion, one GAU.

Input ``(enc_b (B,C/2,2h,2w), enc_t (B,C,h,w))`` (CSPNeXtPAFPN outputs at strides 16 and 32):

1. ``final_layer`` ConvModule (BN, ReLU) ``enc_t`` → ``(B,K,h,w)`` → flatten → ``mlp``
   (ScaleNorm, Linear ``h·w → hidden/2``);
2. ``enc_t`` pixel-shuffled ×2 → ``(B,C/4,2h,2w)`` → ``conv_dec`` ConvModule (BN, ReLU) →
   concatenated with ``enc_b`` → ``final_layer2`` ConvModule → ``(B,K,2h,2w)`` → flatten →
   ``mlp2`` (ScaleNorm, Linear ``4hw → hidden/2``);
3. the two halves concatenated ``(B,K,hidden)`` → ``gau`` → ``cls_x`` / ``cls_y``
   ``(B,K,w_in·r)``, ``(B,K,h_in·r)``.

State-dict names and shapes equal MMPose 1.3.2's (``final_layer.conv``/``.bn``, ``conv_dec``,
``final_layer2``, ``mlp``, ``mlp2``, ``gau``, ``cls_x``, ``cls_y``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads.base import SimCCHeadBase, build_loss
from posecli.models.heads.gau import GAU
from posecli.models.layers import ConvModule, ScaleNorm

_GAU_DEFAULTS: dict[str, Any] = {
    "hidden_dims": 256,
    "s": 128,
    "expansion_factor": 2,
    "dropout_rate": 0.0,
    "drop_path": 0.0,
    "act_fn": "SiLU",
    "use_rel_bias": False,
    "pos_enc": False,
}


class RTMWHead(SimCCHeadBase):
    """RTMW head.

    Args:
        in_channels: channels ``C`` of the coarser input (``enc_t``); ``enc_b`` has ``C/2``.
        out_channels: keypoints ``K``.
        input_size: model input ``(w, h)``.
        in_featuremap_size: ``(w, h)`` of ``enc_t`` (input / 32).
        simcc_split_ratio: SimCC bins per pixel.
        final_layer_kernel_size: kernel of the three ConvModules (7 in RTMW).
        gau_cfg: GAU settings (``hidden_dims``, ``s``, ``expansion_factor``, ``dropout_rate``,
            ``drop_path``, ``act_fn``); relative bias and rotary encoding are not supported.
        loss: loss table (default ``kl_discret``).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: Sequence[int] = (192, 256),
        in_featuremap_size: Sequence[int] = (6, 8),
        simcc_split_ratio: float = 2.0,
        final_layer_kernel_size: int = 7,
        gau_cfg: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | nn.Module | None = None,
    ) -> None:
        super().__init__()
        gau = dict(_GAU_DEFAULTS)
        unknown = set(gau_cfg or {}) - set(gau)
        if unknown:
            raise ValueError(f"gau_cfg: unknown keys {sorted(unknown)}")
        gau.update(gau_cfg or {})
        if gau["use_rel_bias"] or gau["pos_enc"]:
            raise ValueError("gau_cfg: use_rel_bias and pos_enc are not supported")
        if in_channels % 4:
            raise ValueError(f"in_channels must be divisible by 4, got {in_channels}")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.simcc_split_ratio = float(simcc_split_ratio)
        k = int(final_layer_kernel_size)
        c = self.in_channels
        flat = int(in_featuremap_size[0]) * int(in_featuremap_size[1])
        hidden = int(gau["hidden_dims"])
        self.ps = nn.PixelShuffle(2)
        self.conv_dec = ConvModule(c // 4, c // 4, k, act="relu")
        self.final_layer = ConvModule(c, out_channels, k, act="relu")
        self.final_layer2 = ConvModule(c // 2 + c // 4, out_channels, k, act="relu")
        self.mlp = nn.Sequential(ScaleNorm(flat), nn.Linear(flat, hidden // 2, bias=False))
        self.mlp2 = nn.Sequential(ScaleNorm(flat * 4), nn.Linear(flat * 4, hidden // 2, bias=False))
        self.gau = GAU(
            out_channels,
            hidden,
            hidden,
            expansion_factor=int(gau["expansion_factor"]),
            s=int(gau["s"]),
            dropout_rate=float(gau["dropout_rate"]),
            drop_path=float(gau["drop_path"]),
            act=str(gau["act_fn"]),
        )
        self.cls_x = nn.Linear(hidden, int(self.input_size[0] * simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden, int(self.input_size[1] * simcc_split_ratio), bias=False)
        self.loss_module = build_loss(
            loss,
            {"name": "kl_discret", "beta": 10.0, "label_softmax": True, "use_target_weight": True},
        )
        for lin in (self.mlp[1], self.mlp2[1], self.cls_x, self.cls_y):
            assert isinstance(lin, nn.Linear)
            nn.init.normal_(lin.weight, std=0.01)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        if len(feats) < 2:
            raise ValueError("RTMWHead needs two feature maps (strides 16 and 32)")
        enc_b, enc_t = feats[-2], feats[-1]
        top = self.mlp(self.final_layer(enc_t).flatten(2))
        dec = self.conv_dec(self.ps(enc_t))
        bottom = self.mlp2(self.final_layer2(torch.cat([dec, enc_b], dim=1)).flatten(2))
        x = self.gau(torch.cat([top, bottom], dim=2))
        return self.cls_x(x), self.cls_y(x)


__all__ = ["RTMWHead"]
