"""Global average pooling neck."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn


class GlobalAveragePooling(nn.Module):
    """Each map ``(B,C,H,W)`` → ``(B,C)`` (mean over H, W)."""

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        return tuple(f.mean(dim=(2, 3)) for f in feats)

    @staticmethod
    def out_spec(in_channels: Sequence[int], strides: Sequence[int]) -> tuple[list[int], list[int]]:
        return list(in_channels), [0] * len(in_channels)
