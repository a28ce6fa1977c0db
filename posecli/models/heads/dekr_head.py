"""DEKR head (MMPose ``DEKRHead``): root/keypoint heatmaps and per-pixel displacements.

Adaptive convolutions (:class:`AdaptiveActivationBlock`) run through
``torchvision.ops.deform_conv2d`` (no compiled extension). Key names as MMPose 1.3.2:
``heatmap_conv_layers.{0.conv,0.bn,1.conv1,1.bn1,1.conv2,1.bn2,2}``,
``displacement_conv_layers.{0.conv,0.bn,1|2.transform_matrix_conv,1|2.adapt_conv,1|2.norm,
1|2.regular_matrix,3}`` and the optional ``rescore_net.l1/l2/l3``.

Outputs: ``heatmaps (B, K+1, H, W)`` (K keypoint maps, then the root map) and
``displacements (B, 2K, H, W)`` (x, y per keypoint, heatmap pixels, keypoint − pixel).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torchvision.ops import deform_conv2d

from posecli.models.heads.base import build_loss
from posecli.models.heads.bottomup_base import (
    check_input_transform,
    heatmap_mask,
    image_target,
    in_channels_of,
    transform_inputs,
)


class ConvBN(nn.Module):
    """1×1 conv (no bias) + BN + ReLU (MMPose ``ConvModule`` keys ``conv``, ``bn``)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, 1, bias=False)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.bn(self.conv(x)))


class BasicBlock(nn.Module):
    """ResNet basic block without downsampling (keys ``conv1, bn1, conv2, bn2``)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(channels)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + x)


class AdaptiveActivationBlock(nn.Module):
    """Grouped 3×3 deformable conv whose sampling grid is a per-pixel affine map of the
    regular 3×3 grid, + BN + residual ReLU.

    Per group a 2×3 matrix ``A`` is predicted (``transform_matrix_conv``); the offsets are
    ``A · [gy; gx; 1]`` over the 9 kernel positions (``regular_matrix`` (3, 9)), laid out
    ``(y, x)`` per position as ``deform_conv2d`` expects.
    """

    regular_matrix: torch.Tensor

    def __init__(self, in_channels: int, out_channels: int, groups: int = 1) -> None:
        super().__init__()
        if in_channels % groups or out_channels % groups:
            raise ValueError(f"channels {in_channels}/{out_channels} not divisible by {groups}")
        self.groups = groups
        grid = torch.tensor(
            [
                [-1, -1, -1, 0, 0, 0, 1, 1, 1],
                [-1, 0, 1, -1, 0, 1, -1, 0, 1],
                [1, 1, 1, 1, 1, 1, 1, 1, 1],
            ],
            dtype=torch.float32,
        )
        self.register_buffer("regular_matrix", grid)
        self.transform_matrix_conv = nn.Conv2d(
            in_channels, 6 * groups, 3, padding=1, groups=groups, bias=True
        )
        self.adapt_conv = nn.Module()
        self.adapt_conv.weight = nn.Parameter(  # type: ignore[assignment]
            torch.empty(out_channels, in_channels // groups, 3, 3)
        )
        nn.init.kaiming_uniform_(self.adapt_conv.weight, a=5**0.5)  # type: ignore[arg-type]
        self.norm = nn.BatchNorm2d(out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, _, h, w = x.shape
        a = self.transform_matrix_conv(x).permute(0, 2, 3, 1).reshape(b, h, w, self.groups, 2, 3)
        offset = torch.matmul(a, self.regular_matrix)  # (B, H, W, G, 2, 9)
        offset = offset.transpose(4, 5).reshape(b, h, w, self.groups * 18).permute(0, 3, 1, 2)
        weight: torch.Tensor = self.adapt_conv.weight  # type: ignore[assignment]
        out = deform_conv2d(x, offset.contiguous(), weight, padding=(1, 1))
        return torch.relu(self.norm(out) + x)


class RescoreNet(nn.Module):
    """DEKR's OKS rescoring MLP over link vectors, link lengths and keypoint scores (its
    parameters; MMPose loads them pretrained). It runs in numpy:
    :class:`~posecli.runtime.bottomup_decoding.RescoreWeights` (features and layers)."""

    def __init__(self, in_channels: int, norm_indexes: Sequence[int]) -> None:
        super().__init__()
        self.norm_indexes = tuple(int(i) for i in norm_indexes)
        self.l1 = nn.Linear(in_channels, 256)
        self.l2 = nn.Linear(256, 256)
        self.l3 = nn.Linear(256, 1)

    def weights(self) -> Any:
        """The MLP as numpy :class:`~posecli.runtime.bottomup_decoding.RescoreWeights` (the
        rescoring runs after the network, torch-free, for checkpoints and exported files)."""
        from posecli.runtime.bottomup_decoding import RescoreWeights

        return RescoreWeights.from_module(self)


class DEKRHead(nn.Module):
    """Heatmap branch (1×1 conv-BN, basic block, 1×1 to K+1) and displacement branch
    (1×1 conv-BN to K·f, two adaptive blocks in K groups, grouped 1×1 to 2K).

    Args:
        in_channels: channels of the input map(s) (a list for ``resize_concat``).
        num_keypoints: K.
        num_heatmap_filters: width of the heatmap branch.
        num_displacement_filters_per_keypoint: f, per-keypoint width of the displacement branch.
        input_transform: ``select`` or ``resize_concat`` (MMPose's HRNet recipe).
        input_index: map(s) used.
        align_corners: of the ``resize_concat`` interpolation.
        heatmap_loss: default ``keypoint_mse`` with target weights; applied to the maps times
            ``heatmap_weights · heatmap_mask``.
        displacement_loss: default ``soft_weight_smooth_l1`` with target weights,
            ``supervise_empty = false``.
        rescore_cfg: ``{in_channels, norm_indexes}`` of the optional :class:`RescoreNet`.
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        num_keypoints: int,
        num_heatmap_filters: int = 32,
        num_displacement_filters_per_keypoint: int = 15,
        input_transform: str = "select",
        input_index: int | Sequence[int] = -1,
        align_corners: bool = False,
        heatmap_loss: Mapping[str, Any] | nn.Module | None = None,
        displacement_loss: Mapping[str, Any] | nn.Module | None = None,
        rescore_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.num_keypoints = k = int(num_keypoints)
        self.input_transform = check_input_transform(input_transform)
        self.input_index = input_index if isinstance(input_index, int) else tuple(input_index)
        self.align_corners = bool(align_corners)
        cin = in_channels_of(in_channels, self.input_transform, self.input_index)
        f = num_heatmap_filters
        self.heatmap_conv_layers = nn.Sequential(
            ConvBN(cin, f), BasicBlock(f), nn.Conv2d(f, k + 1, 1)
        )
        d = k * int(num_displacement_filters_per_keypoint)
        self.displacement_conv_layers = nn.Sequential(
            ConvBN(cin, d),
            AdaptiveActivationBlock(d, d, groups=k),
            AdaptiveActivationBlock(d, d, groups=k),
            nn.Conv2d(d, 2 * k, 1, groups=k),
        )
        self.heatmap_loss = build_loss(
            heatmap_loss, {"name": "keypoint_mse", "use_target_weight": True}
        )
        self.displacement_loss = build_loss(
            displacement_loss,
            {"name": "soft_weight_smooth_l1", "use_target_weight": True, "supervise_empty": False},
        )
        self.rescore_net = RescoreNet(**rescore_cfg) if rescore_cfg else None
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        x = transform_inputs(feats, self.input_transform, self.input_index, self.align_corners)
        return self.heatmap_conv_layers(x), self.displacement_conv_layers(x)

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        heatmaps, disp = self(feats)
        gt = image_target(batch, "heatmaps", heatmaps)
        w = image_target(batch, "heatmap_weights", heatmaps)
        mask = heatmap_mask(batch, heatmaps)
        if mask is not None:
            w = w * mask
        loss_hm = self.heatmap_loss(heatmaps * w, gt * w, None)
        gt_d = image_target(batch, "displacements", disp)
        w_d = image_target(batch, "displacement_weights", disp)
        loss_d = self.displacement_loss(disp, gt_d, w_d)
        return {
            "loss": loss_hm + loss_d,
            "loss_heatmap": loss_hm.detach(),
            "loss_displacement": loss_d.detach(),
        }


__all__ = ["AdaptiveActivationBlock", "DEKRHead", "RescoreNet"]
