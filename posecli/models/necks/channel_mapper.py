"""ChannelMapper (MMDetection's): one ConvModule per input level to a common width.

``convs.<i>``: ``ConvModule(in_channels[i], out_channels, kernel_size)``; with
``num_outs > len(in_channels)`` the extra levels ``extra_convs.<j>`` are stride-2 3×3
ConvModules, the first on the last input, the next ones on the previous output. Like MMCV's
ConvModule, a conv has a bias only without a norm (``norm_cfg`` none), and the norm is ``bn``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.layers import ConvModule


def act_from_cfg(act_cfg: object) -> str | None:
    """MMCV ``act_cfg`` (``None``, ``"none"``, ``{type = "SiLU"}``, ``"relu"``) → posecli name."""
    if act_cfg is None or (isinstance(act_cfg, str) and act_cfg.lower() == "none"):
        return None
    name = str(act_cfg.get("type", "ReLU")) if isinstance(act_cfg, Mapping) else str(act_cfg)
    name = name.lower()
    return "silu" if name == "swish" else name


def bn_from_cfg(norm_cfg: object) -> dict[str, Any] | None:
    """MMCV ``norm_cfg`` (``None``/``"none"`` or ``{type = "BN", eps, momentum}``) → the
    ConvModule BatchNorm settings, or None for a biased conv without norm."""
    if norm_cfg is None or (isinstance(norm_cfg, str) and norm_cfg.lower() == "none"):
        return None
    cfg: Mapping[str, Any] = norm_cfg if isinstance(norm_cfg, Mapping) else {"type": norm_cfg}
    kind = str(cfg.get("type", "BN"))
    if kind not in ("BN", "BN2d", "SyncBN"):
        raise ValueError(f"norm_cfg type {kind!r} is not supported (BN, SyncBN)")
    return {"bn_eps": float(cfg.get("eps", 1e-5)), "bn_momentum": float(cfg.get("momentum", 0.1))}


def conv_module(
    cin: int,
    cout: int,
    kernel_size: int,
    stride: int = 1,
    act: str | None = None,
    bn: Mapping[str, Any] | None = None,
) -> ConvModule:
    """A :class:`ConvModule`; without ``bn`` its conv has a bias and there is no norm."""
    module = ConvModule(cin, cout, kernel_size, stride, act=act, **(bn or {}))
    if bn is None:
        module.conv = nn.Conv2d(cin, cout, kernel_size, stride, kernel_size // 2, bias=True)
        module.bn = nn.Identity()
    return module


class ChannelMapper(nn.Module):
    """Maps every input level to ``out_channels`` (see the module docstring).

    Args:
        in_channels: widths of the input levels.
        out_channels: the common width.
        kernel_size: conv size of ``convs`` (same padding).
        act_cfg: activation (MMCV table or name; ``"none"``/None: none). MMDet: ReLU.
        norm_cfg: ``{type = "BN", eps?, momentum?}`` or none (MMDet's default: biased convs).
        num_outs: output levels (default one per input); more add ``extra_convs``.
    """

    def __init__(
        self,
        in_channels: Sequence[int],
        out_channels: int,
        kernel_size: int = 3,
        act_cfg: object = "relu",
        norm_cfg: object = None,
        num_outs: int | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = [int(c) for c in in_channels]
        self.out_channels = int(out_channels)
        self.num_outs = len(self.in_channels) if num_outs is None else int(num_outs)
        if self.num_outs < len(self.in_channels):
            raise ValueError(
                f"num_outs ({self.num_outs}) < number of inputs ({len(self.in_channels)})"
            )
        act, bn = act_from_cfg(act_cfg), bn_from_cfg(norm_cfg)
        k = int(kernel_size)
        self.convs = nn.ModuleList(
            conv_module(c, self.out_channels, k, act=act, bn=bn) for c in self.in_channels
        )
        if self.num_outs > len(self.in_channels):
            extra = self.num_outs - len(self.in_channels)
            self.extra_convs = nn.ModuleList(
                conv_module(
                    self.in_channels[-1] if j == 0 else self.out_channels,
                    self.out_channels,
                    3,
                    2,
                    act=act,
                    bn=bn,
                )
                for j in range(extra)
            )

    def out_spec(
        self, in_channels: Sequence[int], strides: Sequence[int]
    ) -> tuple[list[int], list[int]]:
        out = list(strides)[-len(self.in_channels) :]
        while len(out) < self.num_outs:
            out.append(out[-1] * 2)
        return [self.out_channels] * self.num_outs, out

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        feats = tuple(feats)[-len(self.in_channels) :]
        outs = [conv(f) for conv, f in zip(self.convs, feats, strict=True)]
        if self.num_outs > len(self.in_channels):
            for j, conv in enumerate(self.extra_convs):
                outs.append(conv(feats[-1] if j == 0 else outs[-1]))
        return tuple(outs)


__all__ = ["ChannelMapper", "act_from_cfg", "bn_from_cfg", "conv_module"]
