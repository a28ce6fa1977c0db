"""Feature pyramid network neck (lateral 1×1, top-down nearest upsampling, 3×3 smoothing)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class _Conv(nn.Module):
    """A biased conv under the key ``conv`` (MMCV ``ConvModule`` without norm/activation)."""

    def __init__(self, cin: int, cout: int, k: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, k, padding=k // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)


class FPN(nn.Module):
    """FPN over the inputs ``start_level..``; returns ``num_outs`` maps of ``out_channels``.

    Args:
        in_channels: channels of each input map (strides increasing).
        out_channels: channels of every output.
        num_outs: number of outputs; extra levels beyond the inputs come from stride-2
            max-pooling of the last output.
        start_level: first input used.

    Output ``i`` has the stride of input ``start_level + i``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        num_outs: int | None = None,
        start_level: int = 0,
    ) -> None:
        super().__init__()
        self.in_channels = list(in_channels)
        self.start_level = start_level
        used = self.in_channels[start_level:]
        if not used:
            raise ValueError("fpn: start_level leaves no input")
        self.num_outs = num_outs if num_outs is not None else len(used)
        if self.num_outs < len(used):
            raise ValueError(f"fpn: num_outs ({self.num_outs}) < inputs used ({len(used)})")
        self.out_channels = out_channels
        self.lateral_convs = nn.ModuleList(_Conv(c, out_channels, 1) for c in used)
        self.fpn_convs = nn.ModuleList(_Conv(out_channels, out_channels, 3) for _ in used)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        xs = list(feats)[self.start_level :]
        laterals = [conv(x) for conv, x in zip(self.lateral_convs, xs, strict=True)]
        for i in range(len(laterals) - 1, 0, -1):
            laterals[i - 1] = laterals[i - 1] + F.interpolate(
                laterals[i], size=laterals[i - 1].shape[-2:], mode="nearest"
            )
        outs = [conv(x) for conv, x in zip(self.fpn_convs, laterals, strict=True)]
        while len(outs) < self.num_outs:
            outs.append(F.max_pool2d(outs[-1], 1, stride=2))
        return tuple(outs)

    def out_spec(
        self, in_channels: Sequence[int], strides: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        s = list(strides)[self.start_level :]
        while len(s) < self.num_outs:
            s.append(s[-1] * 2)
        return [self.out_channels] * self.num_outs, s
