"""CSPNeXt path-aggregation FPN (MMPose ``CSPNeXtPAFPN``, the neck of RTMW).

Inputs ``(C_0, C_1, C_2)`` maps at strides ``(s, 2s, 4s)``. Top-down: the coarsest map is
reduced by a 1×1 ConvModule to the next level's channels, upsampled ×2 (nearest), concatenated
with that level and fused by a CSP layer (CSPNeXt blocks, no identity, no channel attention).
Bottom-up: a 3×3 stride-2 ConvModule, concatenated with the top-down map of the next level,
fused by a CSP layer to that level's channels. Without ``out_channels`` every output keeps its
input's channels; ``out_indices`` picks the outputs. State-dict names equal MMPose's
(``reduce_layers``, ``top_down_blocks``, ``downsamples``, ``bottom_up_blocks``, ``out_convs``).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from posecli.models.backbones.cspnext import CSPLayer
from posecli.models.layers import ConvModule


class CSPNeXtPAFPN(nn.Module):
    """PAFPN with CSPNeXt blocks.

    Args:
        in_channels: channels of the input maps, strides increasing.
        out_channels: channels of every output (a 3×3 ConvModule each); None keeps the inputs'.
        out_indices: which outputs to return.
        num_csp_blocks: CSPNeXt blocks per CSP layer.
        expand_ratio: CSP hidden-channel ratio.
        act: activation (SiLU in RTMW).
        bn_eps / bn_momentum: BatchNorm settings (SyncBN defaults in RTMW: 1e-5, 0.1).
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int | None = None,
        out_indices: Sequence[int] = (0, 1, 2),
        num_csp_blocks: int = 3,
        expand_ratio: float = 0.5,
        act: str = "silu",
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        chans = [int(c) for c in in_channels]
        if len(chans) < 2:
            raise ValueError("CSPNeXtPAFPN needs at least two input maps")
        self.in_channels = chans
        self.out_channels = out_channels
        self.out_indices = tuple(int(i) for i in out_indices)
        if any(not 0 <= i < len(chans) for i in self.out_indices):
            raise ValueError(f"out_indices must lie in 0..{len(chans) - 1}")

        def conv(cin: int, cout: int, k: int, stride: int = 1) -> ConvModule:
            return ConvModule(cin, cout, k, stride, act=act, bn_eps=bn_eps, bn_momentum=bn_momentum)

        def csp(cin: int, cout: int) -> CSPLayer:
            return CSPLayer(
                cin,
                cout,
                num_csp_blocks,
                add_identity=False,
                expand_ratio=expand_ratio,
                channel_attention=False,
                act=act,  # type: ignore[arg-type]
                bn_eps=bn_eps,
                bn_momentum=bn_momentum,
            )

        self.upsample = nn.Upsample(scale_factor=2, mode="nearest")
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for i in range(len(chans) - 1, 0, -1):
            self.reduce_layers.append(conv(chans[i], chans[i - 1], 1))
            self.top_down_blocks.append(csp(chans[i - 1] * 2, chans[i - 1]))
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for i in range(len(chans) - 1):
            self.downsamples.append(conv(chans[i], chans[i], 3, stride=2))
            self.bottom_up_blocks.append(csp(chans[i] * 2, chans[i + 1]))
        if out_channels is not None:
            self.out_convs = nn.ModuleList(conv(c, int(out_channels), 3) for c in chans)

    def out_spec(
        self, in_channels: Sequence[int], strides: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        chans = [self.out_channels or c for c in self.in_channels]
        return [chans[i] for i in self.out_indices], [list(strides)[i] for i in self.out_indices]

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        feats = tuple(feats)[-len(self.in_channels) :]
        n = len(self.in_channels)
        inner = [feats[-1]]
        for j, i in enumerate(range(n - 1, 0, -1)):
            high = self.reduce_layers[j](inner[0])
            inner[0] = high
            inner.insert(
                0, self.top_down_blocks[j](torch.cat([self.upsample(high), feats[i - 1]], 1))
            )
        outs = [inner[0]]
        for i in range(n - 1):
            down = self.downsamples[i](outs[-1])
            outs.append(self.bottom_up_blocks[i](torch.cat([down, inner[i + 1]], 1)))
        if self.out_channels is not None:
            outs = [conv(o) for conv, o in zip(self.out_convs, outs, strict=True)]
        return tuple(outs[i] for i in self.out_indices)


__all__ = ["CSPNeXtPAFPN"]
