"""CID head (MMPose ``CIDHead``): instance roots, instance features, decoupled heatmaps.

Keys as MMPose 1.3.2: ``iia_module.keypoint_root_conv``, ``gfd_module.{conv_down,
channel_attention.atn, spatial_attention.atn, spatial_attention.conv, fuse_attention,
heatmap_conv}``. Unlike AE and DEKR the instance decoding needs the network (each found root
conditions the feature map), so :meth:`CIDHead.predict` runs in torch; the graph cannot be
exported whole: its graph ends at the top roots and their heatmaps
(:meth:`CIDHead.instance_maps`), and the score threshold and the codec's decode run after it
(:func:`~posecli.runtime.bottomup_decoding.decode_cid`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from posecli.models.heads.base import build_loss
from posecli.models.heads.bottomup_base import (
    check_input_transform,
    heatmap_mask,
    image_target,
    in_channels_of,
    instance_targets,
    transform_inputs,
)

_CLAMP = 1e-4


def _trunc_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return torch.sigmoid(x).clamp(_CLAMP, 1 - _CLAMP)


def smooth_heatmaps(heatmaps: torch.Tensor, kernel: int) -> torch.Tensor:
    """``(h + avg_pool(h, kernel)) / 2`` (stride 1, same size)."""
    return (heatmaps + F.avg_pool2d(heatmaps, kernel, 1, (kernel - 1) // 2)) / 2.0


class IIAModule(nn.Module):
    """Instance information abstraction: K keypoint maps + 1 root map (sigmoid)."""

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.keypoint_root_conv = nn.Conv2d(in_channels, out_channels, 1)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        return _trunc_sigmoid(self.keypoint_root_conv(feats))


class ChannelAttention(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.atn = nn.Linear(in_channels, out_channels)

    def forward(self, global_feats: torch.Tensor, inst: torch.Tensor) -> torch.Tensor:
        return global_feats * self.atn(inst)[:, :, None, None]


class SpatialAttention(nn.Module):
    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.atn = nn.Linear(in_channels, out_channels)
        self.conv = nn.Conv2d(3, 1, 5, 1, 2)

    def forward(
        self, global_feats: torch.Tensor, inst: torch.Tensor, coords: torch.Tensor
    ) -> torch.Tensor:
        b, c, h, w = global_feats.shape
        fsum = (global_feats * self.atn(inst).reshape(b, c, 1, 1)).sum(1, keepdim=True)
        ys, xs = torch.meshgrid(
            torch.arange(h, device=inst.device), torch.arange(w, device=inst.device), indexing="ij"
        )
        pix = torch.stack((xs, ys), -1).reshape(-1, 2).float() + 0.5  # (HW, 2)
        rel = (coords.reshape(-1, 1, 2).float() - pix[None]).permute(0, 2, 1) / 32.0
        mask = self.conv(torch.cat((fsum, rel.reshape(b, 2, h, w)), 1)).sigmoid()
        return global_feats * mask


class GFDModule(nn.Module):
    """Global feature decoupling: per instance, channel and spatial attention → K maps."""

    def __init__(self, in_channels: int, out_channels: int, gfd_channels: int) -> None:
        super().__init__()
        self.conv_down = nn.Conv2d(in_channels, gfd_channels, 1)
        self.channel_attention = ChannelAttention(in_channels, gfd_channels)
        self.spatial_attention = SpatialAttention(in_channels, gfd_channels)
        self.fuse_attention = nn.Conv2d(gfd_channels * 2, gfd_channels, 1)
        self.heatmap_conv = nn.Conv2d(gfd_channels, out_channels, 1)

    def forward(
        self,
        feats: torch.Tensor,
        inst: torch.Tensor,
        coords: torch.Tensor,
        indices: torch.Tensor,
    ) -> torch.Tensor:
        g = self.conv_down(feats)[indices]
        cond = torch.cat(
            (self.channel_attention(g, inst), self.spatial_attention(g, inst, coords)), 1
        )
        return _trunc_sigmoid(self.heatmap_conv(torch.relu(self.fuse_attention(cond))))


class CIDHead(nn.Module):
    """CID: IIA finds instance roots and their feature vectors; GFD decodes K heatmaps per
    instance.

    Args:
        in_channels: channels of the input map(s) (a list for ``resize_concat``).
        gfd_channels: width of the GFD module.
        num_keypoints: K.
        max_train_instances: at most this many instances per batch in training (random pick).
        input_transform, input_index, align_corners: input selection (see ``dekr_head``).
        coupled_heatmap_loss, decoupled_heatmap_loss: default ``focal_heatmap``.
        contrastive_loss: default ``info_nce``.
        max_instances, score_threshold, blur_kernel_size: test-time root extraction.

    ``forward(feats)`` (tensor mode) returns the IIA maps ``(B, K+1, H, W)``.
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        gfd_channels: int,
        num_keypoints: int,
        max_train_instances: int = 200,
        input_transform: str = "select",
        input_index: int | Sequence[int] = -1,
        align_corners: bool = False,
        coupled_heatmap_loss: Mapping[str, Any] | nn.Module | None = None,
        decoupled_heatmap_loss: Mapping[str, Any] | nn.Module | None = None,
        contrastive_loss: Mapping[str, Any] | nn.Module | None = None,
        max_instances: int = 30,
        score_threshold: float = 0.01,
        blur_kernel_size: int = 3,
    ) -> None:
        super().__init__()
        self.num_keypoints = k = int(num_keypoints)
        self.max_train_instances = int(max_train_instances)
        self.input_transform = check_input_transform(input_transform)
        self.input_index = input_index if isinstance(input_index, int) else tuple(input_index)
        self.align_corners = bool(align_corners)
        self.max_instances = int(max_instances)
        self.score_threshold = float(score_threshold)
        self.blur_kernel_size = int(blur_kernel_size)
        cin = in_channels_of(in_channels, self.input_transform, self.input_index)
        self.iia_module = IIAModule(cin, k + 1)
        self.gfd_module = GFDModule(cin, k, int(gfd_channels))
        self.coupled_loss = build_loss(coupled_heatmap_loss, {"name": "focal_heatmap"})
        self.decoupled_loss = build_loss(decoupled_heatmap_loss, {"name": "focal_heatmap"})
        self.contrastive_loss = build_loss(contrastive_loss, {"name": "info_nce"})
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def _inputs(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return transform_inputs(feats, self.input_transform, self.input_index, self.align_corners)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        return self.iia_module(self._inputs(feats))

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        x = self._inputs(feats)
        b = x.shape[0]
        maps = self.iia_module(x)
        gt = image_target(batch, "heatmaps", maps)
        mask = heatmap_mask(batch, maps)
        coords = instance_targets(batch, "instance_coords", 2, b)
        weights = instance_targets(batch, "keypoint_weights", 2, b)
        inst_maps = instance_targets(batch, "instance_heatmaps", 3, b)
        k = self.num_keypoints
        idx = torch.cat([torch.full((len(c),), i, dtype=torch.long) for i, c in enumerate(coords)])
        xy = torch.cat(coords).long().reshape(-1, 2)
        kw = torch.cat(weights).reshape(-1, k).to(maps)
        gt_inst = torch.cat([m.reshape(-1, k, *m.shape[-2:]) for m in inst_maps]).to(maps)
        if len(idx) > self.max_train_instances:
            keep = torch.randperm(len(idx))[: self.max_train_instances]
            idx, xy, kw, gt_inst = idx[keep], xy[keep], kw[keep], gt_inst[keep]
        idx, xy = idx.to(maps.device), xy.to(maps.device)
        loss_c = self.coupled_loss(maps, gt, None, mask)
        if len(idx) == 0:
            zero = maps.sum() * 0
            return {
                "loss": loss_c,
                "loss_heatmap_coupled": loss_c.detach(),
                "loss_heatmap_decoupled": zero.detach(),
                "loss_contrastive": zero.detach(),
            }
        inst = x[idx, :, xy[:, 1], xy[:, 0]]
        pred_inst = self.gfd_module(x, inst, xy, idx)
        loss_d = self.decoupled_loss(pred_inst, gt_inst, kw, None if mask is None else mask[idx])
        loss_n = self.contrastive_loss(inst)
        return {
            "loss": loss_c + loss_d + loss_n,
            "loss_heatmap_coupled": loss_c.detach(),
            "loss_heatmap_decoupled": loss_d.detach(),
            "loss_contrastive": loss_n.detach(),
        }

    def instance_maps(
        self,
        feats: Sequence[torch.Tensor],
        feats_flip: Sequence[torch.Tensor] | None = None,
        flip_indices: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Every image's ``M = min(max_instances, H·W)`` best roots and their decoupled
        heatmaps, in tensor ops only (``posecli export`` traces this whole).

        With ``feats_flip`` (features of the mirrored images) the root maps of both views are
        averaged, each view's GFD runs at the same roots and the heatmaps are merged with
        ``flip_indices`` (MMPose's flip test). The score threshold is applied after
        (:func:`~posecli.runtime.bottomup_decoding.decode_cid`).

        Returns:
            root scores ``(B, M)`` (descending), root cells ``(B, M, 2)`` (x, y; int64),
            smoothed instance heatmaps ``(B, M, K, H, W)`` and the smoothed root map
            ``(B, 1, H, W)`` the roots are the peaks of.
        """
        x = self._inputs(feats)
        views = [x] if feats_flip is None else [x, self._inputs(feats_flip).flip(-1)]
        b, c, h, w = x.shape
        root = torch.stack([self.iia_module(v)[:, -1:] for v in views]).mean(0)  # (B, 1, H, W)
        smoothed = smooth_heatmaps(root, self.blur_kernel_size)
        peaks = smoothed * (_root_window_max(smoothed) == smoothed).to(smoothed.dtype)
        m = min(self.max_instances, h * w)
        scores, cells = peaks.flatten(1).topk(m, dim=1)  # (B, M)
        coords = torch.stack((cells % w, torch.div(cells, w, rounding_mode="floor")), -1)
        image_index = torch.arange(b, device=x.device).repeat_interleave(m)
        per_view = []
        for v in views:  # (B, C, HW) at the roots → (B·M, C)
            inst = v.flatten(2).gather(2, cells[:, None, :].expand(-1, c, -1))
            inst = inst.permute(0, 2, 1).reshape(b * m, c)
            per_view.append(self.gfd_module(v, inst, coords.reshape(b * m, 2), image_index))
        heatmaps = per_view[0]
        if len(per_view) == 2:
            order = (
                list(flip_indices) if flip_indices is not None else list(range(self.num_keypoints))
            )
            heatmaps = (heatmaps + per_view[1][:, order]) / 2.0
        heatmaps = smooth_heatmaps(heatmaps, self.blur_kernel_size)
        return scores, coords, heatmaps.reshape(b, m, self.num_keypoints, h, w), smoothed

    @torch.no_grad()
    def predict(
        self,
        feats: Sequence[torch.Tensor],
        feats_flip: Sequence[torch.Tensor] | None,
        flip_indices: Sequence[int] | None,
        codec: Any,
    ) -> tuple[list[Any], list[Any]]:
        """Per image: keypoints ``(N, K, 2)`` in input pixels and scores ``(N, K)`` (numpy)."""
        from posecli.runtime.bottomup_decoding import decode_cid

        scores, _, heatmaps, _ = self.instance_maps(feats, feats_flip, flip_indices)
        return decode_cid(scores.cpu().numpy(), heatmaps.cpu().numpy(), self.score_threshold, codec)


def _root_window_max(smoothed: torch.Tensor) -> torch.Tensor:
    """MMPose's root NMS window: the max over 7×7 where the map's mean side exceeds 300 cells,
    5×5 over 200, else 3×3 (stride 1, same size). Traced, all three are computed and the
    size picks one, so an exported file follows the size of each input."""
    if not torch.jit.is_tracing():
        size = (smoothed.shape[-2] + smoothed.shape[-1]) / 2.0
        kern = 7 if size > 300 else 5 if size > 200 else 3
        return F.max_pool2d(smoothed, kern, 1, (kern - 1) // 2)
    side = torch._shape_as_tensor(smoothed)[-2:].sum().to(smoothed.dtype) / 2.0
    pooled = [F.max_pool2d(smoothed, k, 1, (k - 1) // 2) for k in (3, 5, 7)]
    return torch.where(side > 300, pooled[2], torch.where(side > 200, pooled[1], pooled[0]))


__all__ = ["CIDHead"]
