"""CSPDarknet (YOLOX's backbone, MMDetection ``CSPDarknet``) with MMDetection's key names.

A Focus stem (space-to-depth, then a 3×3 ConvModule), then ``stage1..stage4`` (``stage5`` for
P6): a stride-2 ConvModule, (last stage) an SPP bottleneck, and a CSP layer of Darknet
bottlenecks (``main_conv``, ``short_conv``, ``final_conv``, ``blocks.<i>.conv1/conv2``). RTMO and
YOLOX use it with BatchNorm momentum 0.03, eps 0.001 and SiLU (MMDet's defaults).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.backbones.base import check_out_indices
from posecli.models.backbones.cspnext import CSPLayer, SPPBottleneck, StemStagesBackbone
from posecli.models.layers import ConvModule, DepthwiseSeparableConvModule

#: (in, out, num_blocks, add_identity, use_spp) per stage, before widen/deepen (MMDet's).
ARCHS: dict[str, tuple[tuple[int, int, int, bool, bool], ...]] = {
    "P5": (
        (64, 128, 3, True, False),
        (128, 256, 9, True, False),
        (256, 512, 9, True, False),
        (512, 1024, 3, False, True),
    ),
    "P6": (
        (64, 128, 3, True, False),
        (128, 256, 9, True, False),
        (256, 512, 9, True, False),
        (512, 768, 3, True, False),
        (768, 1024, 3, False, True),
    ),
}


class Focus(nn.Module):
    """Space-to-depth ``(N, C, H, W)`` → ``(N, 4C, H/2, W/2)`` (pixel order: top-left,
    bottom-left, top-right, bottom-right), then ``conv``."""

    def __init__(self, in_ch: int, out_ch: int, kernel_size: int = 1, **conv: Any) -> None:
        super().__init__()
        self.conv = ConvModule(in_ch * 4, out_ch, kernel_size, **conv)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.cat(
            (x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), dim=1
        )
        return self.conv(x)


class DarknetBottleneck(nn.Module):
    """1×1 ConvModule then 3×3 ConvModule (depthwise-separable with ``use_depthwise``), hidden
    width ``out · expansion``, residual when ``add_identity`` and the widths agree.

    Inside a CSP layer MMDet builds it with ``expansion=1``.
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        add_identity: bool = True,
        expansion: float = 1.0,
        use_depthwise: bool = False,
        **conv: Any,
    ) -> None:
        super().__init__()
        hidden = int(out_ch * expansion)
        self.conv1 = ConvModule(in_ch, hidden, 1, **conv)
        conv3: type[nn.Module] = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        self.conv2 = conv3(hidden, out_ch, 3, **conv)
        self.add_identity = add_identity and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


def darknet_csp_layer(
    in_ch: int,
    out_ch: int,
    num_blocks: int,
    add_identity: bool,
    use_depthwise: bool = False,
    **conv: Any,
) -> CSPLayer:
    """MMDet's ``CSPLayer`` (expand ratio 0.5, Darknet bottlenecks, no channel attention)."""
    block = functools.partial(DarknetBottleneck, use_depthwise=use_depthwise)
    return CSPLayer(in_ch, out_ch, num_blocks, add_identity, 0.5, False, block=block, **conv)


class CSPDarknet(StemStagesBackbone):
    """CSPDarknet backbone.

    Args:
        arch: ``"P5"`` (4 stages, YOLOX / RTMO) or ``"P6"`` (5 stages).
        deepen_factor: blocks per stage × this, rounded, at least 1.
        widen_factor: channels × this.
        out_indices: 0 = stem (stride 2), 1.. = stages (stride 4, 8, 16, 32, 64).
        frozen_stages: freeze the stem and stages up to this index (-1: none).
        use_depthwise: depthwise-separable 3×3 convolutions (stage downsampling, bottlenecks).
        arch_ovewrite: replaces the ``arch`` table (MMDet's spelling), rows
            ``(in, out, num_blocks, add_identity, use_spp)``.
        spp_kernal_sizes: the SPP bottleneck's max-pool sizes (MMDet's spelling).
        act, bn_eps, bn_momentum: ConvModule settings (MMDet / RTMO: silu, 1e-3, 0.03).
        norm_eval: keep BatchNorm in eval mode while training.

    Input ``(N,3,H,W)`` → tuple of ``(N, out_channels[i], H/strides[i], W/strides[i])``.
    """

    def __init__(
        self,
        arch: str = "P5",
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        out_indices: Sequence[int] = (2, 3, 4),
        frozen_stages: int = -1,
        use_depthwise: bool = False,
        arch_ovewrite: Sequence[Sequence[int | bool]] | None = None,
        spp_kernal_sizes: Sequence[int] = (5, 9, 13),
        act: str = "silu",
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.03,
        norm_eval: bool = False,
    ) -> None:
        super().__init__()
        if arch not in ARCHS:
            raise ValueError(f"arch {arch!r} is not supported (known: {', '.join(ARCHS)})")
        setting = [tuple(row) for row in arch_ovewrite] if arch_ovewrite else ARCHS[arch]
        if not -1 <= frozen_stages <= len(setting):
            raise ValueError(f"frozen_stages must lie in -1..{len(setting)}, got {frozen_stages}")
        self.out_indices = check_out_indices(out_indices, len(setting) + 1, "csp_darknet")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        conv: dict[str, Any] = {"act": act, "bn_eps": bn_eps, "bn_momentum": bn_momentum}
        down: type[nn.Module] = DepthwiseSeparableConvModule if use_depthwise else ConvModule
        stem_ch = int(int(setting[0][0]) * widen_factor)
        self.stem = Focus(3, stem_ch, 3, **conv)
        channels = [stem_ch]
        self.layers = ["stem"]
        for i, (cin, cout, blocks, identity, spp) in enumerate(setting, start=1):
            cin, cout = int(int(cin) * widen_factor), int(int(cout) * widen_factor)
            n = max(round(int(blocks) * deepen_factor), 1)
            stage: list[nn.Module] = [down(cin, cout, 3, 2, **conv)]
            if spp:
                stage.append(SPPBottleneck(cout, cout, spp_kernal_sizes, **conv))
            stage.append(darknet_csp_layer(cout, cout, n, bool(identity), use_depthwise, **conv))
            self.add_module(f"stage{i}", nn.Sequential(*stage))
            self.layers.append(f"stage{i}")
            channels.append(cout)
        self.out_channels = [channels[i] for i in self.out_indices]
        self.strides = [2 ** (i + 1) for i in self.out_indices]
        self._freeze()


__all__ = ["ARCHS", "CSPDarknet", "DarknetBottleneck", "Focus", "darknet_csp_layer"]
