"""CID head (MMPose ``CIDHead``): instance roots, instance features, decoupled heatmaps.

Keys as MMPose 1.3.2: ``iia_module.keypoint_root_conv``, ``gfd_module.{conv_down,
channel_attention.atn, spatial_attention.atn, spatial_attention.conv, fuse_attention,
heatmap_conv}``. Unlike AE and DEKR the instance decoding needs the network (each found root
conditions the feature map), so :meth:`CIDHead.predict` runs in torch; the graph cannot be
exported without it.
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

    exportable = False

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

    def _roots(self, root_map: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Top roots of one ``(1, 1, H, W)`` map: ``coords (M, 2)`` (x, y) and scores."""
        _, _, h, w = root_map.shape
        sm = smooth_heatmaps(root_map, self.blur_kernel_size)
        size = (h + w) / 2.0
        kern = 7 if size > 300 else 5 if size > 200 else 3
        peaks = sm * (F.max_pool2d(sm, kern, 1, (kern - 1) // 2) == sm).float()
        scores, pos = peaks.reshape(-1).topk(min(self.max_instances, h * w))
        keep = scores > self.score_threshold
        scores, pos = scores[keep], pos[keep]
        return torch.stack((pos % w, pos // w), 1), scores

    @torch.no_grad()
    def predict(
        self,
        feats: Sequence[torch.Tensor],
        feats_flip: Sequence[torch.Tensor] | None,
        flip_indices: Sequence[int] | None,
        codec: Any,
    ) -> tuple[list[Any], list[Any]]:
        """Per image: keypoints ``(N, K, 2)`` in input pixels and scores ``(N, K)`` (numpy)."""
        import numpy as np

        x = self._inputs(feats)
        xf = self._inputs(feats_flip).flip(-1) if feats_flip is not None else None
        out_k: list[Any] = []
        out_s: list[Any] = []
        k = self.num_keypoints
        for i in range(x.shape[0]):
            xi = x[i : i + 1] if xf is None else torch.cat((x[i : i + 1], xf[i : i + 1]))
            root = self.iia_module(xi)[:, -1:].mean(0, keepdim=True)
            coords, scores = self._roots(root)
            if len(coords) == 0:
                out_k.append(np.zeros((0, k, 2), np.float32))
                out_s.append(np.zeros((0, k), np.float32))
                continue
            # features of every view at every root: (V, C, M) → (V·M, C)
            inst = xi[:, :, coords[:, 1], coords[:, 0]].permute(0, 2, 1).reshape(-1, xi.shape[1])
            m = len(coords)
            idx = torch.arange(xi.shape[0], device=x.device).repeat_interleave(m)
            coords2 = coords.repeat(xi.shape[0], 1)
            hm = self.gfd_module(xi, inst, coords2, idx)
            if xf is not None:
                a, bflip = hm.chunk(2)
                hm = (a + bflip[:, list(flip_indices or range(k))]) / 2.0
            hm = smooth_heatmaps(hm, self.blur_kernel_size)
            kp, sc = codec.batch_decode(hm[None].cpu().numpy(), scores[None].cpu().numpy())
            out_k.append((np.asarray(kp[0]) + 1.5).astype(np.float32))
            out_s.append(np.asarray(sc[0], np.float32))
        return out_k, out_s


__all__ = ["CIDHead"]
