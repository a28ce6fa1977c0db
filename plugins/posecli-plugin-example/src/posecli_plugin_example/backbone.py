"""A tiny convolutional backbone: four conv-BN-ReLU stages at strides 4, 8, 16, 32."""

from __future__ import annotations

import torch
from torch import nn


class TinyConvNet(nn.Module):
    """Images ``(N, 3, H, W)`` → feature maps; declares ``out_channels`` and ``strides``.

    Args:
        widths: channels of the four stages.
        out_indices: which stages to return (a tuple of feature maps).
    """

    def __init__(
        self, widths: tuple[int, ...] = (16, 32, 64, 128), out_indices: tuple[int, ...] = (3,)
    ) -> None:
        super().__init__()
        if len(widths) != 4:
            raise ValueError(f"widths needs 4 stage widths, got {len(widths)}")
        if not all(0 <= i < 4 for i in out_indices):
            raise ValueError(f"out_indices must be in 0..3, got {tuple(out_indices)}")
        layers = []
        in_ch = 3
        for i, width in enumerate(widths):
            stride = 4 if i == 0 else 2
            layers.append(
                nn.Sequential(
                    nn.Conv2d(in_ch, width, 3, stride=stride, padding=1, bias=False),
                    nn.BatchNorm2d(width),
                    nn.ReLU(inplace=True),
                )
            )
            in_ch = width
        self.stages = nn.ModuleList(layers)
        self.out_indices = tuple(out_indices)
        self.out_channels = [widths[i] for i in self.out_indices]
        self.strides = [4 * 2**i for i in self.out_indices]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        outs = []
        for i, stage in enumerate(self.stages):
            x = stage(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
