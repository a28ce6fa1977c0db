"""TCN: VideoPose3D's dilated temporal convolutions over 2D keypoint sequences.

Input ``(B, K·C, T)`` (keypoints flattened into channels, time last); output a tuple with the
features after every residual block, ``(B, stem_channels, T_i)``. With ``use_stride_conv`` the
dilated convolutions become strided ones (same weights, MMPose's single-frame batching): an input
of exactly the receptive field ``∏ kernel_sizes`` frames gives one output frame. State-dict names
equal MMPose 1.3.2's ``TCN`` (``expand_conv.conv``/``.bn``, ``tcn_blocks.i.conv1.0.conv``...).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from posecli.models.backbones.base import Backbone


class ConvBN1d(nn.Module):
    """``Conv1d`` (no bias) → ``BatchNorm1d`` → ReLU, named ``conv`` and ``bn`` like MMPose."""

    def __init__(
        self, cin: int, cout: int, kernel_size: int, stride: int = 1, dilation: int = 1
    ) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel_size, stride=stride, dilation=dilation, bias=False)
        self.bn = nn.BatchNorm1d(cout)
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.bn(self.conv(x)))


class TemporalBlock(nn.Module):
    """One residual block: a (dilated or strided) temporal conv, a 1×1 conv, a sliced shortcut.

    Symmetric blocks trim ``pad = (k-1)·d/2`` frames on each side; causal ones trim
    ``2·pad`` on the left only (the output frame never sees the future).
    """

    def __init__(
        self,
        channels: int,
        kernel_size: int,
        dilation: int,
        dropout: float,
        causal: bool,
        residual: bool,
        use_stride_conv: bool,
    ) -> None:
        super().__init__()
        self.kernel_size = kernel_size
        self.use_stride_conv = use_stride_conv
        self.residual = residual
        self.pad = (kernel_size - 1) * dilation // 2
        if use_stride_conv:
            stride, dil = kernel_size, 1
            self.causal_shift = kernel_size // 2 if causal else 0
        else:
            stride, dil = 1, dilation
            self.causal_shift = kernel_size // 2 * dilation if causal else 0
        self.conv1 = nn.Sequential(
            ConvBN1d(channels, channels, kernel_size, stride, dil), nn.Dropout(dropout)
        )
        self.conv2 = nn.Sequential(ConvBN1d(channels, channels, 1), nn.Dropout(dropout))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv2(self.conv1(x))
        if not self.residual:
            return out
        if self.use_stride_conv:
            res = x[:, :, self.causal_shift + self.kernel_size // 2 :: self.kernel_size]
        else:
            start = self.pad + self.causal_shift
            res = x[:, :, start : x.shape[2] - self.pad + self.causal_shift]
        return out + res


class TCN(Backbone):
    """VideoPose3D temporal convolutional network (MMPose ``TCN``).

    Args:
        in_channels: ``K · C`` (keypoints × coordinates per keypoint).
        stem_channels: feature channels.
        num_blocks: residual blocks (``len(kernel_sizes) - 1``).
        kernel_sizes: odd kernel sizes of the stem and each block; the receptive field is
            their product (``(3, 3, 3)`` → 27 frames, ``(3,)*5`` → 243, ``(1, 1, 1)`` → 1).
        dropout: dropout after every block convolution.
        causal: causal convolutions (the output frame is the last input frame).
        residual: residual shortcuts.
        use_stride_conv: strided instead of dilated convolutions (single-frame batching).
        max_norm: clip every convolution weight to this L2 norm before each training forward.
    """

    def __init__(
        self,
        in_channels: int,
        stem_channels: int = 1024,
        num_blocks: int = 2,
        kernel_sizes: Sequence[int] = (3, 3, 3),
        dropout: float = 0.25,
        causal: bool = False,
        residual: bool = True,
        use_stride_conv: bool = False,
        max_norm: float | None = None,
    ) -> None:
        super().__init__()
        kernel_sizes = tuple(int(k) for k in kernel_sizes)
        if num_blocks != len(kernel_sizes) - 1:
            raise ValueError(
                f"TCN: num_blocks ({num_blocks}) must be len(kernel_sizes) - 1 "
                f"({len(kernel_sizes) - 1})"
            )
        if any(k % 2 == 0 for k in kernel_sizes):
            raise ValueError(f"TCN: kernel sizes must be odd, got {kernel_sizes}")
        self.in_channels = int(in_channels)
        self.kernel_sizes = kernel_sizes
        self.causal = bool(causal)
        self.use_stride_conv = bool(use_stride_conv)
        self.max_norm = max_norm
        k0 = kernel_sizes[0]
        self.expand_conv = ConvBN1d(
            in_channels, stem_channels, k0, stride=k0 if use_stride_conv else 1
        )
        self.tcn_blocks = nn.ModuleList()
        dilation = k0
        for k in kernel_sizes[1:]:
            self.tcn_blocks.append(
                TemporalBlock(
                    stem_channels, k, dilation, dropout, causal, residual, use_stride_conv
                )
            )
            dilation *= k
        self.out_channels = [stem_channels] * num_blocks
        self.strides = [1] * num_blocks
        self.receptive_field = math.prod(kernel_sizes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                nn.init.kaiming_normal_(m.weight, mode="fan_in", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm1d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @torch.no_grad()
    def _clip_weights(self) -> None:
        assert self.max_norm is not None
        for m in self.modules():
            if isinstance(m, nn.Conv1d):
                norm = m.weight.norm()
                if norm > self.max_norm:
                    m.weight.mul_(self.max_norm / (norm + 1e-6))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """``(B, K·C, T)`` → one ``(B, stem_channels, T_i)`` per block."""
        if x.ndim != 3 or x.shape[1] != self.in_channels:
            raise ValueError(f"TCN expects (B, {self.in_channels}, T), got {tuple(x.shape)}")
        if x.shape[2] < self.receptive_field:
            raise ValueError(f"TCN needs at least {self.receptive_field} frames, got {x.shape[2]}")
        if self.max_norm is not None and self.training:
            self._clip_weights()
        x = self.expand_conv(x)
        outs = []
        for block in self.tcn_blocks:
            x = block(x)
            outs.append(x)
        return tuple(outs)
