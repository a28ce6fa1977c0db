"""RTMPose's RTMCC head: 7×7 conv → per-keypoint tokens → GAU → SimCC x/y classifiers."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads.base import SimCCHeadBase, batch_target, build_loss, weights_of
from posecli.models.heads.gau import GAU
from posecli.models.layers import ScaleNorm


class RTMCCHead(SimCCHeadBase):
    """RTMCC head (MMPose ``RTMCCHead``) with MMPose's state-dict names.

    Args:
        in_channels: channels of the last feature map.
        out_channels: number of keypoints K.
        input_size: model input ``(w, h)``.
        in_featuremap_size: feature map ``(w, h)`` (input / stride 32 for CSPNeXt).
        simcc_split_ratio: SimCC bins per input pixel.
        final_layer_kernel_size: kernel of the conv mapping features to K maps.
        gau_cfg: ``hidden_dims`` (256), ``s`` (128), ``expansion_factor`` (2),
            ``dropout_rate``, ``drop_path``, ``act_fn`` (``SiLU``); relative bias and rotary
            position encoding are not supported (RTMPose uses neither).
        loss: loss table (default ``kl_discret`` with beta 10 and label softmax).
        aux_heatmap_weight: weight of an auxiliary loss on the K maps of ``final_layer``
            (0 = off, MMPose's head): spatial-softmax cross-entropy against the outer product
            of the SimCC labels pooled to the feature-map grid. It turns those maps into
            heatmaps early, which makes short trainings on small datasets converge several
            times faster; it adds no parameters and leaves inference unchanged.
        heatmap_prior: add the log of the K maps' spatial-softmax marginals, linearly
            interpolated to the SimCC bins and divided by the loss's ``beta``, to the SimCC
            logits (training and inference). The 1-D distributions become the product of the
            GAU classifier's and the convolutional map's, so the position comes from a
            translation-equivariant path that generalises from few images, and the classifier
            refines it within a cell. Off by default (MMPose's head); no extra parameters.

    Input feature ``(B,C,h,w)`` → ``(simcc_x (B,K,w_in·r), simcc_y (B,K,h_in·r))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: Sequence[int] = (192, 256),
        in_featuremap_size: Sequence[int] = (6, 8),
        simcc_split_ratio: float = 2.0,
        final_layer_kernel_size: int = 7,
        gau_cfg: Mapping[str, Any] | None = None,
        loss: Mapping[str, Any] | nn.Module | None = None,
        aux_heatmap_weight: float = 0.0,
        heatmap_prior: bool = False,
    ) -> None:
        super().__init__()
        if aux_heatmap_weight < 0:
            raise ValueError(f"aux_heatmap_weight must be >= 0, got {aux_heatmap_weight}")
        self.aux_heatmap_weight = float(aux_heatmap_weight)
        self.heatmap_prior = bool(heatmap_prior)
        gau = {
            "hidden_dims": 256,
            "s": 128,
            "expansion_factor": 2,
            "dropout_rate": 0.0,
            "drop_path": 0.0,
            "act_fn": "SiLU",
            "use_rel_bias": False,
            "pos_enc": False,
        }
        gau.update(gau_cfg or {})
        if gau.get("use_rel_bias") or gau.get("pos_enc"):
            raise ValueError("gau_cfg: use_rel_bias and pos_enc are not supported")
        unknown = set(gau) - {
            "hidden_dims",
            "s",
            "expansion_factor",
            "dropout_rate",
            "drop_path",
            "act_fn",
            "use_rel_bias",
            "pos_enc",
        }
        if unknown:
            raise ValueError(f"gau_cfg: unknown keys {sorted(unknown)}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.simcc_split_ratio = simcc_split_ratio
        flatten_dims = int(in_featuremap_size[0]) * int(in_featuremap_size[1])
        hidden = int(gau["hidden_dims"])
        k = final_layer_kernel_size
        self.final_layer = nn.Conv2d(in_channels, out_channels, k, padding=k // 2)
        self.mlp = nn.Sequential(
            ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden, bias=False)
        )
        self.gau = GAU(
            out_channels,
            hidden,
            hidden,
            expansion_factor=int(gau["expansion_factor"]),
            s=int(gau["s"]),
            dropout_rate=float(gau["dropout_rate"]),
            drop_path=float(gau["drop_path"]),
            act=str(gau["act_fn"]),
        )
        self.cls_x = nn.Linear(hidden, int(self.input_size[0] * simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden, int(self.input_size[1] * simcc_split_ratio), bias=False)
        self.loss_module = build_loss(
            loss,
            {"name": "kl_discret", "beta": 10.0, "label_softmax": True, "use_target_weight": True},
        )
        self._init_weights()

    def _init_weights(self) -> None:
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)
        for lin in (self.mlp[1], self.cls_x, self.cls_y):
            nn.init.normal_(lin.weight, std=0.01)

    def _forward_maps(
        self, feats: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        maps = self.final_layer(feats[-1])  # (B, K, h, w)
        x = self.gau(self.mlp(maps.flatten(2)))
        pred_x, pred_y = self.cls_x(x), self.cls_y(x)
        if self.heatmap_prior:
            beta = float(getattr(self.loss_module, "beta", 1.0))
            prior_x, prior_y = self._log_marginals(maps, pred_x.shape[-1], pred_y.shape[-1], beta)
            pred_x = pred_x + prior_x.to(pred_x.dtype) / beta
            pred_y = pred_y + prior_y.to(pred_y.dtype) / beta
        return pred_x, pred_y, maps

    @staticmethod
    def _log_marginals(
        maps: torch.Tensor, bins_x: int, bins_y: int, beta: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Log x/y marginals of the spatial softmax of ``maps (B,K,h,w)``, interpolated from
        cell centres to ``bins_x`` / ``bins_y`` SimCC bins: ``(B,K,bins_x)``, ``(B,K,bins_y)``.

        Each is shifted (softmax and loss ignore a shift) so that its maximum is ``beta`` times
        the probability of the marginal's most likely cell: the SimCC score (the maximum logit)
        is then that probability, in [0, 1] like a heatmap's peak, plus the classifier's logit.
        """
        b, k, h, w = maps.shape
        prob = maps.float().flatten(2).softmax(-1).reshape(b, k, h, w)
        logs = []
        for marginal, bins in ((prob.sum(2), bins_x), (prob.sum(3), bins_y)):
            dens = nn.functional.interpolate(marginal, size=bins, mode="linear").clamp_min(1e-8)
            peak = marginal.amax(-1, keepdim=True).detach()
            logs.append(torch.log(dens / dens.amax(-1, keepdim=True).detach()) + beta * peak)
        return logs[0], logs[1]

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        pred_x, pred_y, _ = self._forward_maps(feats)
        return pred_x, pred_y

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        pred_x, pred_y, maps = self._forward_maps(feats)
        losses = self.loss_from_outputs((pred_x, pred_y), batch)
        if self.aux_heatmap_weight > 0:
            aux = self._aux_heatmap_loss(maps, batch) * self.aux_heatmap_weight
            losses["loss_aux_heatmap"] = aux.detach()
            losses["loss"] = losses["loss"] + aux
        return losses

    def _aux_heatmap_loss(self, maps: torch.Tensor, batch: Mapping[str, Any]) -> torch.Tensor:
        """Spatial-softmax CE of ``maps (B,K,h,w)`` against the pooled SimCC label product."""
        b, k, h, w = maps.shape
        gt_x = batch_target(batch, "keypoint_x_labels", maps)
        gt_y = batch_target(batch, "keypoint_y_labels", maps)
        px = nn.functional.adaptive_avg_pool1d(gt_x.reshape(b * k, 1, -1), w).reshape(b, k, 1, w)
        py = nn.functional.adaptive_avg_pool1d(gt_y.reshape(b * k, 1, -1), h).reshape(b, k, h, 1)
        target = (py * px).flatten(2)
        target = target / target.sum(-1, keepdim=True).clamp_min(1e-12)
        ce = -(target * torch.log_softmax(maps.flatten(2).float(), dim=-1)).sum(-1)  # (B, K)
        weights = weights_of(batch)
        if weights is not None:
            ce = ce * weights.to(ce)
        return ce.mean()
