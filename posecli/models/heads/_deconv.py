"""Deconvolution / convolution stacks used by heatmap-style heads (MMPose key layout)."""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def make_deconv_layers(
    in_channels: int, out_channels: Sequence[int], kernel_sizes: Sequence[int]
) -> tuple[nn.Module, int]:
    """``[ConvTranspose2d(stride 2, no bias), BN, ReLU] × n``; returns (module, channels out).

    Each layer doubles the spatial size. Kernel sizes 2, 3 or 4.
    """
    if len(out_channels) != len(kernel_sizes):
        raise ValueError("deconv_out_channels and deconv_kernel_sizes differ in length")
    layers: list[nn.Module] = []
    for ch, k in zip(out_channels, kernel_sizes, strict=True):
        if k not in _DECONV_PADDING:
            raise ValueError(f"deconv kernel size must be 2, 3 or 4, got {k}")
        pad, out_pad = _DECONV_PADDING[k]
        layers += [
            nn.ConvTranspose2d(in_channels, ch, k, 2, pad, out_pad, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        in_channels = ch
    return (nn.Sequential(*layers) if layers else nn.Identity()), in_channels


def make_conv_layers(
    in_channels: int, out_channels: Sequence[int], kernel_sizes: Sequence[int]
) -> tuple[nn.Module, int]:
    """``[Conv2d(same padding, no bias), BN, ReLU] × n``; returns (module, channels out)."""
    if len(out_channels) != len(kernel_sizes):
        raise ValueError("conv_out_channels and conv_kernel_sizes differ in length")
    layers: list[nn.Module] = []
    for ch, k in zip(out_channels, kernel_sizes, strict=True):
        layers += [
            nn.Conv2d(in_channels, ch, k, 1, (k - 1) // 2, bias=False),
            nn.BatchNorm2d(ch),
            nn.ReLU(inplace=True),
        ]
        in_channels = ch
    return (nn.Sequential(*layers) if layers else nn.Identity()), in_channels


def init_heatmap_layers(module: nn.Module) -> None:
    """MMPose's init: conv/deconv weights N(0, 0.001), biases 0, BN weight 1 / bias 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
