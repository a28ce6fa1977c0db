"""YOLOX path-aggregation FPN (MMDetection ``YOLOXPAFPN``) with MMDetection's key names.

The same top-down / bottom-up topology as :class:`~posecli.models.necks.cspnext_pafpn.
CSPNeXtPAFPN` (``reduce_layers``, ``top_down_blocks``, ``downsamples``, ``bottom_up_blocks``,
``out_convs``), whose forward it shares; the CSP layers hold Darknet bottlenecks (no
identity), every output gets a 1×1 ConvModule to ``out_channels``, and BatchNorm defaults to
YOLOX's momentum 0.03, eps 0.001.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from torch import nn

from posecli.models.backbones.csp_darknet import darknet_csp_layer
from posecli.models.layers import ConvModule, DepthwiseSeparableConvModule
from posecli.models.necks.cspnext_pafpn import CSPNeXtPAFPN


class YOLOXPAFPN(CSPNeXtPAFPN):
    """YOLOX PAFPN.

    Args:
        in_channels: channels of the input maps, strides increasing.
        out_channels: channels of every output (a 1×1 ConvModule each).
        num_csp_blocks: Darknet bottlenecks per CSP layer.
        use_depthwise: depthwise-separable 3×3 convs (downsamples and bottlenecks).
        upsample_mode: ``nearest`` (MMDet's default) or another ``nn.Upsample`` mode (×2).
        act: activation (``silu`` = MMDet's Swish).
        bn_eps / bn_momentum: BatchNorm settings (MMDet: 1e-3, 0.03).

    Inputs ``(C_0, ..., C_n)`` at strides ``(s, 2s, ...)`` → as many maps of ``out_channels``
    at the same strides.
    """

    def __init__(  # the parent's layout, other blocks: it is not built first
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_csp_blocks: int = 3,
        use_depthwise: bool = False,
        upsample_mode: str = "nearest",
        act: str = "silu",
        bn_eps: float = 1e-3,
        bn_momentum: float = 0.03,
    ) -> None:
        nn.Module.__init__(self)
        chans = [int(c) for c in in_channels]
        if len(chans) < 2:
            raise ValueError("YOLOXPAFPN needs at least two input maps")
        self.in_channels = chans
        self.out_channels = int(out_channels)
        self.out_indices = tuple(range(len(chans)))
        conv: dict[str, Any] = {"act": act, "bn_eps": bn_eps, "bn_momentum": bn_momentum}
        down: type[nn.Module] = DepthwiseSeparableConvModule if use_depthwise else ConvModule

        def csp(cin: int, cout: int) -> nn.Module:
            return darknet_csp_layer(cin, cout, num_csp_blocks, False, use_depthwise, **conv)

        self.upsample = nn.Upsample(scale_factor=2, mode=upsample_mode)
        self.reduce_layers = nn.ModuleList()
        self.top_down_blocks = nn.ModuleList()
        for i in range(len(chans) - 1, 0, -1):
            self.reduce_layers.append(ConvModule(chans[i], chans[i - 1], 1, **conv))
            self.top_down_blocks.append(csp(chans[i - 1] * 2, chans[i - 1]))
        self.downsamples = nn.ModuleList()
        self.bottom_up_blocks = nn.ModuleList()
        for i in range(len(chans) - 1):
            self.downsamples.append(down(chans[i], chans[i], 3, 2, **conv))
            self.bottom_up_blocks.append(csp(chans[i] * 2, chans[i + 1]))
        self.out_convs = nn.ModuleList(ConvModule(c, self.out_channels, 1, **conv) for c in chans)


__all__ = ["YOLOXPAFPN"]
