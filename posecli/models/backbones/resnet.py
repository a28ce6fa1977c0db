"""ResNet (18/34/50/101/152) with MMPose's (= torchvision's) state-dict names."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from posecli.models.backbones.base import StagedBackbone, check_out_indices


class BasicBlock(nn.Module):
    """Two 3×3 conv-BN layers with a residual (expansion 1)."""

    expansion = 1

    def __init__(
        self, in_ch: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, planes, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        return self.relu(self.bn2(self.conv2(out)) + identity)


class Bottleneck(nn.Module):
    """1×1 → 3×3 (stride here, "pytorch" style) → 1×1 ×4, with a residual."""

    expansion = 4

    def __init__(
        self, in_ch: int, planes: int, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        super().__init__()
        out_ch = planes * self.expansion
        self.conv1 = nn.Conv2d(in_ch, planes, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.conv3 = nn.Conv2d(planes, out_ch, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(out_ch)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def last_bn(self) -> nn.BatchNorm2d:
        return self.bn3

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + identity)


def make_res_layer(
    block: type[BasicBlock] | type[Bottleneck],
    in_ch: int,
    planes: int,
    blocks: int,
    stride: int = 1,
) -> nn.Sequential:
    """A stage of ``blocks`` residual blocks; the first may downsample (1×1 conv + BN)."""
    downsample = None
    out_ch = planes * block.expansion
    if stride != 1 or in_ch != out_ch:
        downsample = nn.Sequential(
            nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
        )
    layers = [block(in_ch, planes, stride, downsample)]
    layers += [block(out_ch, planes) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


ARCH: dict[int, tuple[type[BasicBlock] | type[Bottleneck], tuple[int, int, int, int]]] = {
    18: (BasicBlock, (2, 2, 2, 2)),
    34: (BasicBlock, (3, 4, 6, 3)),
    50: (Bottleneck, (3, 4, 6, 3)),
    101: (Bottleneck, (3, 4, 23, 3)),
    152: (Bottleneck, (3, 8, 36, 3)),
}


class ResNet(StagedBackbone):
    """ResNet backbone (keys ``conv1``, ``bn1``, ``layer1..4``; torchvision weights load too).

    Args:
        depth: 18, 34, 50, 101 or 152.
        out_indices: stages to return, 0..3 = ``layer1..layer4`` (strides 4, 8, 16, 32).
        frozen_stages: freeze the stem (0) and layers up to this index (-1: none).
        norm_eval: keep BatchNorm in eval mode while training.
        zero_init_residual: start each block's last BN at zero (MMPose's default).

    Input ``(N,3,H,W)`` → tuple of ``(N, out_channels[i], H/strides[i], W/strides[i])``.
    """

    def __init__(
        self,
        depth: int = 50,
        out_indices: Sequence[int] = (3,),
        frozen_stages: int = -1,
        norm_eval: bool = False,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        if depth not in ARCH:
            raise ValueError(f"resnet depth must be one of {sorted(ARCH)}, got {depth}")
        block, counts = ARCH[depth]
        self.out_indices = check_out_indices(out_indices, 4, "resnet")
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(3, 2, 1)
        in_ch = 64
        channels = []
        for i, n in enumerate(counts):
            planes = 64 * 2**i
            self.add_module(
                f"layer{i + 1}", make_res_layer(block, in_ch, planes, n, 1 if i == 0 else 2)
            )
            in_ch = planes * block.expansion
            channels.append(in_ch)
        self.out_channels = [channels[i] for i in self.out_indices]
        self.strides = [(4, 8, 16, 32)[i] for i in self.out_indices]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, (BasicBlock, Bottleneck)):
                    nn.init.zeros_(m.last_bn().weight)
        self._freeze()

    def _frozen_modules(self) -> list[nn.Module]:
        mods: list[nn.Module] = [self.conv1, self.bn1]
        return mods + [getattr(self, f"layer{i}") for i in range(1, self.frozen_stages + 1)]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        outs = []
        for i in range(max(self.out_indices) + 1):
            x = getattr(self, f"layer{i + 1}")(x)
            if i in self.out_indices:
                outs.append(x)
        return tuple(outs)
