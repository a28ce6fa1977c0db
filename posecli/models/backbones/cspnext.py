"""CSPNeXt (RTMDet/RTMPose backbone), P5 layout, with MMPose's state-dict names.

Stem of three 3×3 ConvModules, then four stages ``stage1..stage4``, each a stride-2 ConvModule,
(stage 4) an SPP bottleneck, and a CSP layer with channel attention.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from posecli.models.backbones.base import StagedBackbone, check_out_indices
from posecli.models.layers import ConvModule, DepthwiseSeparableConvModule

#: (in, out, num_blocks, add_identity, use_spp) per stage, before widen/deepen.
_P5 = (
    (64, 128, 3, True, False),
    (128, 256, 6, True, False),
    (256, 512, 6, True, False),
    (512, 1024, 3, False, True),
)

#: RTMPose / RTMDet size presets: (deepen_factor, widen_factor).
VARIANTS: dict[str, tuple[float, float]] = {
    "t": (0.167, 0.375),
    "s": (0.33, 0.5),
    "m": (0.67, 0.75),
    "l": (1.0, 1.0),
    "x": (1.33, 1.25),
}


class ChannelAttention(nn.Module):
    """Global average pool → 1×1 conv (bias) → hard-sigmoid, multiplied into the input."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.global_avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Conv2d(channels, channels, 1, bias=True)
        self.act = nn.Hardsigmoid()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.act(self.fc(self.global_avgpool(x)))


class CSPNeXtBlock(nn.Module):
    """3×3 ConvModule then 5×5 depthwise-separable ConvModule, residual when shapes allow."""

    def __init__(self, in_ch: int, out_ch: int, add_identity: bool, **conv: float) -> None:
        super().__init__()
        self.conv1 = ConvModule(in_ch, out_ch, 3, **conv)  # type: ignore[arg-type]
        self.conv2 = DepthwiseSeparableConvModule(out_ch, out_ch, 5, **conv)  # type: ignore[arg-type]
        self.add_identity = add_identity and in_ch == out_ch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        return out + x if self.add_identity else out


class CSPLayer(nn.Module):
    """Cross-stage-partial layer: main path with blocks, short path, concat, attention, 1×1.

    ``block(in, out, add_identity, **conv)`` builds each block (default :class:`CSPNeXtBlock`).
    """

    def __init__(
        self,
        in_ch: int,
        out_ch: int,
        num_blocks: int,
        add_identity: bool,
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        block: Callable[..., nn.Module] | None = None,
        **conv: float,
    ) -> None:
        super().__init__()
        mid = int(out_ch * expand_ratio)
        self.main_conv = ConvModule(in_ch, mid, 1, **conv)  # type: ignore[arg-type]
        self.short_conv = ConvModule(in_ch, mid, 1, **conv)  # type: ignore[arg-type]
        self.final_conv = ConvModule(2 * mid, out_ch, 1, **conv)  # type: ignore[arg-type]
        make = block or CSPNeXtBlock  # CSPDarknet (YOLOX): DarknetBottleneck
        self.blocks = nn.Sequential(
            *(make(mid, mid, add_identity, **conv) for _ in range(num_blocks))
        )
        self.attention: nn.Module = (
            ChannelAttention(2 * mid) if channel_attention else nn.Identity()
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        main = self.blocks(self.main_conv(x))
        out = torch.cat((main, self.short_conv(x)), dim=1)
        return self.final_conv(self.attention(out))


class SPPBottleneck(nn.Module):
    """1×1 to half the channels, max-pools 5/9/13 (stride 1), concat, 1×1."""

    def __init__(
        self, in_ch: int, out_ch: int, kernel_sizes: Sequence[int] = (5, 9, 13), **conv: float
    ) -> None:
        super().__init__()
        mid = in_ch // 2
        self.conv1 = ConvModule(in_ch, mid, 1, **conv)  # type: ignore[arg-type]
        self.poolings = nn.ModuleList(nn.MaxPool2d(k, 1, k // 2) for k in kernel_sizes)
        self.conv2 = ConvModule(mid * (len(kernel_sizes) + 1), out_ch, 1, **conv)  # type: ignore[arg-type]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(x)
        return self.conv2(torch.cat([x, *(pool(x) for pool in self.poolings)], dim=1))


class StemStagesBackbone(StagedBackbone):
    """A stem then named stages run in order (``self.layers``); returns ``out_indices``."""

    layers: list[str]
    out_indices: tuple[int, ...]

    def _frozen_modules(self) -> list[nn.Module]:
        return [getattr(self, n) for n in self.layers[: self.frozen_stages + 1]]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, name in enumerate(self.layers):
            x = getattr(self, name)(x)
            if i in self.out_indices:
                outs.append(x)
            if i >= max(self.out_indices):
                break
        return tuple(outs)


class CSPNeXt(StemStagesBackbone):
    """CSPNeXt backbone.

    Args:
        arch: only ``"P5"`` (the RTMPose layout).
        deepen_factor: blocks per stage × this, rounded, at least 1.
        widen_factor: channels × this.
        variant: ``t``/``s``/``m``/``l``/``x`` preset overriding both factors.
        out_indices: stages to return; 0 = stem (stride 2), 1..4 = stages (stride 4..32).
        expand_ratio: CSP layer hidden ratio.
        channel_attention: channel attention in every CSP layer.
        act: activation (``silu``).
        bn_eps, bn_momentum: BatchNorm settings (RTMPose configs: 1e-5, 0.1).
        frozen_stages: freeze the stem and stages up to this index (-1: none).
        norm_eval: keep BatchNorm in eval mode while training.

    Input ``(N,3,H,W)`` → tuple of ``(N, out_channels[i], H/strides[i], W/strides[i])``.
    """

    def __init__(
        self,
        arch: str = "P5",
        deepen_factor: float = 1.0,
        widen_factor: float = 1.0,
        variant: str | None = None,
        out_indices: Sequence[int] = (4,),
        expand_ratio: float = 0.5,
        channel_attention: bool = True,
        act: str = "silu",
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
        frozen_stages: int = -1,
        norm_eval: bool = False,
    ) -> None:
        super().__init__()
        if arch != "P5":
            raise ValueError(f"arch {arch!r} is not supported (only 'P5')")
        if variant is not None:
            if variant not in VARIANTS:
                raise ValueError(f"unknown variant {variant!r} (known: {', '.join(VARIANTS)})")
            deepen_factor, widen_factor = VARIANTS[variant]
        self.out_indices = check_out_indices(out_indices, 5, "cspnext")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        conv = {"act": act, "bn_eps": bn_eps, "bn_momentum": bn_momentum}
        stem_ch = int(64 * widen_factor)
        self.stem = nn.Sequential(
            ConvModule(3, stem_ch // 2, 3, 2, **conv),  # type: ignore[arg-type]
            ConvModule(stem_ch // 2, stem_ch // 2, 3, 1, **conv),  # type: ignore[arg-type]
            ConvModule(stem_ch // 2, stem_ch, 3, 1, **conv),  # type: ignore[arg-type]
        )
        channels = [stem_ch]
        self.layers = ["stem"]
        for i, (cin, cout, blocks, identity, spp) in enumerate(_P5, start=1):
            cin, cout = int(cin * widen_factor), int(cout * widen_factor)
            n = max(round(blocks * deepen_factor), 1)
            stage: list[nn.Module] = [ConvModule(cin, cout, 3, 2, **conv)]  # type: ignore[arg-type]
            if spp:
                stage.append(SPPBottleneck(cout, cout, **conv))
            stage.append(CSPLayer(cout, cout, n, identity, expand_ratio, channel_attention, **conv))
            self.add_module(f"stage{i}", nn.Sequential(*stage))
            self.layers.append(f"stage{i}")
            channels.append(cout)
        all_strides = [2, 4, 8, 16, 32]
        self.out_channels = [channels[i] for i in self.out_indices]
        self.strides = [all_strides[i] for i in self.out_indices]
        self._freeze()
