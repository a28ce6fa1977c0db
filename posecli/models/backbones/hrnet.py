"""HRNet (W18/W32/W48) with MMPose's state-dict names.

Stem (two stride-2 3×3 convs), ``layer1`` (4 bottlenecks), then stages 2–4 of parallel
branches at strides 4/8/16/32 exchanging information through ``fuse_layers``; ``transition``
layers add the next lower-resolution branch.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.backbones.base import StagedBackbone
from posecli.models.backbones.resnet import BasicBlock, Bottleneck, make_res_layer

_BLOCKS: dict[str, type[BasicBlock] | type[Bottleneck]] = {
    "BASIC": BasicBlock,
    "BOTTLENECK": Bottleneck,
}


def hrnet_extra(width: int) -> dict[str, dict[str, Any]]:
    """MMPose's ``extra`` stage settings for HRNet-W``width``."""
    w = width
    return {
        "stage1": {
            "num_modules": 1,
            "num_branches": 1,
            "block": "BOTTLENECK",
            "num_blocks": (4,),
            "num_channels": (64,),
        },
        "stage2": {
            "num_modules": 1,
            "num_branches": 2,
            "block": "BASIC",
            "num_blocks": (4, 4),
            "num_channels": (w, 2 * w),
        },
        "stage3": {
            "num_modules": 4,
            "num_branches": 3,
            "block": "BASIC",
            "num_blocks": (4, 4, 4),
            "num_channels": (w, 2 * w, 4 * w),
        },
        "stage4": {
            "num_modules": 3,
            "num_branches": 4,
            "block": "BASIC",
            "num_blocks": (4, 4, 4, 4),
            "num_channels": (w, 2 * w, 4 * w, 8 * w),
        },
    }


def _conv_bn(cin: int, cout: int, k: int, stride: int, relu: bool) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, k, stride, k // 2, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if relu:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class HRModule(nn.Module):
    """Parallel branches of residual blocks, then a full (or top-only) multi-resolution fusion."""

    def __init__(
        self,
        in_channels: list[int],
        block: type[BasicBlock] | type[Bottleneck],
        num_blocks: Sequence[int],
        num_channels: Sequence[int],
        multiscale_output: bool = True,
    ) -> None:
        super().__init__()
        n = len(num_channels)
        self.num_branches = n
        self.branches = nn.ModuleList(
            make_res_layer(block, in_channels[i], num_channels[i], num_blocks[i]) for i in range(n)
        )
        chans = [c * block.expansion for c in num_channels]
        self.out_channels = chans
        self.fuse_layers = nn.ModuleList()
        if n > 1:
            for i in range(n if multiscale_output else 1):
                row = nn.ModuleList()
                for j in range(n):
                    if j > i:
                        row.append(
                            nn.Sequential(
                                nn.Conv2d(chans[j], chans[i], 1, bias=False),
                                nn.BatchNorm2d(chans[i]),
                                nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"),
                            )
                        )
                    elif j == i:
                        row.append(nn.Identity())
                    else:
                        steps = [_conv_bn(chans[j], chans[j], 3, 2, True) for _ in range(i - j - 1)]
                        steps.append(_conv_bn(chans[j], chans[i], 3, 2, False))
                        row.append(nn.Sequential(*steps))
                self.fuse_layers.append(row)
        self.relu = nn.ReLU(inplace=False)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs, strict=True)]
        if self.num_branches == 1:
            return xs
        out = []
        for row in self.fuse_layers:
            y = row[0](xs[0])
            for j in range(1, self.num_branches):
                y = y + row[j](xs[j])
            out.append(self.relu(y))
        return out


class HRNet(StagedBackbone):
    """HRNet backbone.

    Args:
        arch: ``w18``, ``w32`` or ``w48`` (ignored when ``extra`` is given).
        extra: MMPose's stage dict (``stage1``..``stage4`` with ``num_modules``,
            ``num_branches``, ``block``, ``num_blocks``, ``num_channels``).
        multiscale_output: return all four branches (strides 4/8/16/32) instead of only the
            highest-resolution one (MMPose's top-down default: only stride 4).
        frozen_stages: freeze the stem and ``layer1`` (0) and later stages (-1: none).
        norm_eval: keep BatchNorm in eval mode while training.

    Input ``(N,3,H,W)`` → tuple of ``(N, out_channels[i], H/strides[i], W/strides[i])``.
    """

    def __init__(
        self,
        arch: str = "w32",
        extra: Mapping[str, Mapping[str, Any]] | None = None,
        multiscale_output: bool = False,
        frozen_stages: int = -1,
        norm_eval: bool = False,
    ) -> None:
        super().__init__()
        if extra is None:
            if not arch.lower().startswith("w") or not arch[1:].isdigit():
                raise ValueError(f"hrnet arch must look like 'w32', got {arch!r}")
            extra = hrnet_extra(int(arch[1:]))
        self.frozen_stages = frozen_stages
        self.norm_eval = norm_eval
        self.conv1 = nn.Conv2d(3, 64, 3, 2, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.conv2 = nn.Conv2d(64, 64, 3, 2, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        s1 = extra["stage1"]
        block1 = _BLOCKS[s1["block"]]
        self.layer1 = make_res_layer(block1, 64, s1["num_channels"][0], s1["num_blocks"][0])
        pre = [s1["num_channels"][0] * block1.expansion]
        for s in (2, 3, 4):
            cfg = extra[f"stage{s}"]
            block = _BLOCKS[cfg["block"]]
            cur = [c * block.expansion for c in cfg["num_channels"]]
            self.add_module(f"transition{s - 1}", self._transition(pre, cur))
            modules = []
            for m in range(cfg["num_modules"]):
                last = m == cfg["num_modules"] - 1
                ms = cfg.get("multiscale_output", multiscale_output) if s == 4 else True
                mod = HRModule(
                    cur,
                    block,
                    cfg["num_blocks"],
                    cfg["num_channels"],
                    multiscale_output=ms or not last,
                )
                modules.append(mod)
            self.add_module(f"stage{s}", nn.Sequential(*modules))
            pre = cur
        self.multiscale_output = multiscale_output
        self.out_channels = list(pre) if multiscale_output else [pre[0]]
        self.strides = [4, 8, 16, 32][: len(self.out_channels)]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
        self._freeze()

    @staticmethod
    def _transition(pre: list[int], cur: list[int]) -> nn.ModuleList:
        layers = nn.ModuleList()
        for i, c in enumerate(cur):
            if i < len(pre):
                layers.append(_conv_bn(pre[i], c, 3, 1, True) if pre[i] != c else nn.Identity())
            else:
                steps = []
                for j in range(i + 1 - len(pre)):
                    out = c if j == i - len(pre) else pre[-1]
                    steps.append(_conv_bn(pre[-1], out, 3, 2, True))
                layers.append(nn.Sequential(*steps))
        return layers

    def _frozen_modules(self) -> list[nn.Module]:
        mods: list[nn.Module] = [self.conv1, self.bn1, self.conv2, self.bn2, self.layer1]
        for s in range(2, self.frozen_stages + 1):
            mods += [getattr(self, f"transition{s - 1}"), getattr(self, f"stage{s}")]
        return mods

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        ys = [self.layer1(x)]
        for s in (2, 3, 4):
            trans = getattr(self, f"transition{s - 1}")
            xs = [t(ys[min(i, len(ys) - 1)]) for i, t in enumerate(trans)]
            for mod in getattr(self, f"stage{s}"):
                xs = mod(xs)
            ys = xs
        return tuple(ys)
