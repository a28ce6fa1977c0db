"""Small building blocks shared by backbones and heads.

Module attribute names (``conv``, ``bn``, ``depthwise_conv``...) follow MMCV's ``ConvModule`` so
that state-dict keys equal MMPose's.
"""

from __future__ import annotations

import torch
from torch import nn

_ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "relu6": nn.ReLU6,
    "silu": nn.SiLU,
    "swish": nn.SiLU,
    "hardswish": nn.Hardswish,
    "gelu": nn.GELU,
}


def make_act(name: str | None) -> nn.Module:
    """An activation module by name (``relu``, ``silu``, ...); ``None`` → identity."""
    if name is None:
        return nn.Identity()
    try:
        return _ACTIVATIONS[name.lower()]()
    except KeyError:
        raise ValueError(
            f"unknown activation {name!r} (known: {', '.join(_ACTIVATIONS)})"
        ) from None


class ConvModule(nn.Module):
    """Conv2d (no bias) → BatchNorm2d → activation; keys ``conv.*`` and ``bn.*``.

    After :func:`posecli.models.fuse.fuse_conv_bn` the BN is folded into ``conv`` and ``bn``
    becomes an identity (inference only).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        padding: int | None = None,
        groups: int = 1,
        act: str | None = "silu",
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        if padding is None:
            padding = kernel_size // 2
        self.conv = nn.Conv2d(
            in_channels, out_channels, kernel_size, stride, padding, groups=groups, bias=False
        )
        self.bn: nn.Module = nn.BatchNorm2d(out_channels, eps=bn_eps, momentum=bn_momentum)
        self.act = make_act(act)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class DepthwiseSeparableConvModule(nn.Module):
    """Depthwise ConvModule then pointwise 1×1 ConvModule, each with BN and activation."""

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int,
        stride: int = 1,
        act: str | None = "silu",
        bn_eps: float = 1e-5,
        bn_momentum: float = 0.1,
    ) -> None:
        super().__init__()
        self.depthwise_conv = ConvModule(
            in_channels,
            in_channels,
            kernel_size,
            stride,
            groups=in_channels,
            act=act,
            bn_eps=bn_eps,
            bn_momentum=bn_momentum,
        )
        self.pointwise_conv = ConvModule(
            in_channels, out_channels, 1, act=act, bn_eps=bn_eps, bn_momentum=bn_momentum
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pointwise_conv(self.depthwise_conv(x))


class ScaleNorm(nn.Module):
    """``x / clamp(‖x‖₂ · dim^-½, eps) · g`` over the last dim, with one learnt scalar ``g``."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """Element-wise learnt scale over the last dim (``scale`` starts at 1)."""

    def __init__(self, dim: int, init: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(init * torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale
