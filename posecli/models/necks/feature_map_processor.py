"""Select, concatenate and rescale feature maps (MMPose ``FeatureMapProcessor``)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn


class FeatureMapProcessor(nn.Module):
    """Pick maps by ``select_index``; optionally resize all to the first's size and concatenate
    (one output), or rescale each by ``scale_factor`` (bilinear); optional ReLU.

    Args:
        select_index: indices of the maps to keep (``None``: all).
        concat: concatenate along channels after resizing to the first selected map.
        scale_factor: spatial rescale applied to each output (1: none).
        apply_relu: ReLU on each output.
        align_corners: bilinear interpolation setting.
    """

    def __init__(
        self,
        select_index: int | Sequence[int] | None = None,
        concat: bool = False,
        scale_factor: float = 1.0,
        apply_relu: bool = False,
        align_corners: bool = False,
    ) -> None:
        super().__init__()
        if isinstance(select_index, int):
            select_index = (select_index,)
        self.select_index = tuple(select_index) if select_index is not None else None
        self.concat = concat
        if scale_factor <= 0:
            raise ValueError(f"scale_factor must be positive, got {scale_factor}")
        self.scale_factor = scale_factor
        self.apply_relu = apply_relu
        self.align_corners = align_corners

    def _select(self, items: Sequence[object]) -> list:
        if self.select_index is None:
            return list(items)
        return [items[i] for i in self.select_index]

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        xs = self._select(feats)
        if self.concat:
            size = xs[0].shape[-2:]
            xs = [
                torch.cat(
                    [
                        x
                        if x.shape[-2:] == size
                        else F.interpolate(
                            x, size=size, mode="bilinear", align_corners=self.align_corners
                        )
                        for x in xs
                    ],
                    1,
                )
            ]
        if self.scale_factor != 1.0:
            xs = [
                F.interpolate(
                    x,
                    scale_factor=self.scale_factor,
                    mode="bilinear",
                    align_corners=self.align_corners,
                )
                for x in xs
            ]
        if self.apply_relu:
            xs = [F.relu(x) for x in xs]
        return tuple(xs)

    def out_spec(
        self, in_channels: Sequence[int], strides: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        ch, st = self._select(list(in_channels)), self._select(list(strides))
        if self.concat:
            ch, st = [sum(ch)], [st[0]]
        st = [s / self.scale_factor for s in st]
        return ch, [int(s) if float(s).is_integer() else s for s in st]
