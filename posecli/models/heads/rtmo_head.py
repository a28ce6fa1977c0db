"""RTMO head (MMPose ``RTMOHead``): one-stage boxes + poses with a dynamic coordinate classifier.

Every anchor point of the stride-16/32 maps predicts an instance score, a box
``(dx, dy, log w, log h)`` (in strides, about the point), keypoint offsets (training only:
they rank candidates for the assigner and carry the OKS loss), keypoint visibilities and a pose
vector. The dynamic coordinate classifier (:class:`DCC`) turns a pose vector into two 1-D
heatmaps per keypoint over bins spread across the instance's box (grown by ``bbox_padding``);
their expectations are the keypoints.

Training assigns anchors to instances with SimOTA (:mod:`posecli.models.assigners.sim_ota`) and
sums VariFocal (scores, target = OKS/IoU of the assigned pose ``** overlaps_power``), IoU (boxes),
BCE (visibility), OKS (regressed keypoints) and MLECC (the DCC heatmaps) losses.

State-dict keys as MMPose 1.3.2: ``head_module.{conv_cls, out_cls, conv_pose, out_bbox,
out_kpt_reg, out_kpt_vis, out_pose}.<level>…``, ``dcc.{pos_enc, gau.*, pose_to_kpts.{0,1},
x_fc, y_fc, sigma_fc.{0,2}, x_bins, y_bins, spe.dim_t}``.

Tensor mode (what export traces) ends at the ``nms_pre`` best-scoring candidates of each image:
``scores (B, T)``, ``bboxes (B, T, 4)`` xyxy, ``keypoints (B, T, K, 2)``,
``keypoint_scores (B, T, K)`` in input pixels and the candidates' ``anchor_indices (B, T)``
(row-major over the levels; near-equal scores may come out in another order in another
runtime, the indices pair them up); the score threshold and box NMS run in numpy
(the ``yolox_pose`` codec), so checkpoint and exported graph decode the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from posecli.models.heads.base import build_loss
from posecli.models.heads.bottomup_base import instance_targets
from posecli.models.heads.gau import GAU
from posecli.models.layers import ConvModule

_EPS = 1e-8


class ScalarScale(nn.Module):
    """``x · scale`` with one learnt scalar (MMCV ``Scale``; key ``scale``, shape ``()``)."""

    def __init__(self, init: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


class SinePositionalEncoding(nn.Module):
    """1-D sine encoding: position ``p (...)`` → ``[cos(p / t), sin(p / t)] (..., C)`` with
    ``t_i = temperature ** (i / (C/2))``, ``i < C/2`` (buffer ``dim_t``)."""

    dim_t: torch.Tensor

    def __init__(self, out_channels: int, temperature: float = 1e5) -> None:
        super().__init__()
        if out_channels % 2:
            raise ValueError(f"out_channels must be even, got {out_channels}")
        half = out_channels // 2
        self.register_buffer(
            "dim_t", float(temperature) ** (torch.arange(half, dtype=torch.float32) / half)
        )

    def forward(self, position: torch.Tensor) -> torch.Tensor:
        freq = position.unsqueeze(-1) / self.dim_t
        return torch.cat((freq.cos(), freq.sin()), dim=-1)


def bbox_xyxy_to_cs(boxes: torch.Tensor, padding: float = 1.0) -> torch.Tensor:
    """xyxy ``(..., 4)`` → ``(cx, cy, w·padding, h·padding) (..., 4)``."""
    center = (boxes[..., :2] + boxes[..., 2:]) * 0.5
    scale = (boxes[..., 2:] - boxes[..., :2]) * padding
    return torch.cat((center, scale), dim=-1)


def grid_priors(
    sizes: Sequence[tuple[int, int]],
    strides: Sequence[int],
    device: torch.device,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Anchor points of every level, row-major: ``(A, 4)`` = ``(x, y, stride, stride)`` with
    ``x = j·stride + (stride - 1)/2`` (MMPose ``MlvlPointGenerator(centralize_points=True)``)."""
    out = []
    for (h, w), s in zip(sizes, strides, strict=True):
        xs = torch.arange(w, device=device, dtype=dtype) * s + (s - 1) / 2.0
        ys = torch.arange(h, device=device, dtype=dtype) * s + (s - 1) / 2.0
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        st = torch.full_like(xx, float(s))
        out.append(torch.stack((xx, yy, st, st), dim=-1).reshape(-1, 4))
    return torch.cat(out)


class RTMOHeadModule(nn.Module):
    """Per-level convolution towers: scores from one half of the channels, boxes / keypoint
    offsets / visibilities / pose vectors from the other half (grouped convolutions).

    Args:
        num_keypoints: K. in_channels: channels of each input level (×widen_factor).
        num_classes: instance classes (1). widen_factor: width multiplier.
        cls_feat_channels: score tower width (×widen_factor). stacked_convs: score tower depth
            (the pose tower has twice as many). num_groups, channels_per_group: pose tower
            grouping (width ``num_groups · channels_per_group·widen_factor``).
        pose_vec_channels: pose-vector width (``-1``: the pose tower's features).
        featmap_strides: one tower per level. bn_momentum, bn_eps, act: ConvModule settings.
    """

    def __init__(
        self,
        num_keypoints: int,
        in_channels: int,
        num_classes: int = 1,
        widen_factor: float = 1.0,
        cls_feat_channels: int = 256,
        stacked_convs: int = 2,
        num_groups: int = 8,
        channels_per_group: int = 36,
        pose_vec_channels: int = -1,
        featmap_strides: Sequence[int] = (16, 32),
        bn_momentum: float = 0.03,
        bn_eps: float = 0.001,
        act: str = "silu",
    ) -> None:
        super().__init__()
        self.num_keypoints = int(num_keypoints)
        self.in_channels = int(in_channels * widen_factor)
        self.cls_feat_channels = int(cls_feat_channels * widen_factor)
        self.pose_vec_channels = int(pose_vec_channels)
        levels = len(featmap_strides)
        pose_ch = int(num_groups) * int(widen_factor * channels_per_group)

        def tower(depth: int, out: int, groups: int) -> nn.Sequential:
            return nn.Sequential(
                *(
                    ConvModule(
                        self.in_channels if i == 0 else out,
                        out,
                        3,
                        groups=1 if i == 0 else groups,
                        act=act,
                        bn_eps=bn_eps,
                        bn_momentum=bn_momentum,
                    )
                    for i in range(depth)
                )
            )

        self.conv_cls = nn.ModuleList(
            tower(stacked_convs, self.cls_feat_channels, 1) for _ in range(levels)
        )
        self.out_cls = nn.ModuleList(
            nn.Conv2d(self.cls_feat_channels, num_classes, 1) for _ in range(levels)
        )
        self.conv_pose = nn.ModuleList(
            tower(stacked_convs * 2, pose_ch, int(num_groups)) for _ in range(levels)
        )
        self.out_bbox = nn.ModuleList(nn.Conv2d(pose_ch, 4, 1) for _ in range(levels))
        self.out_kpt_reg = nn.ModuleList(
            nn.Conv2d(pose_ch, self.num_keypoints * 2, 1) for _ in range(levels)
        )
        self.out_kpt_vis = nn.ModuleList(
            nn.Conv2d(pose_ch, self.num_keypoints, 1) for _ in range(levels)
        )
        if self.pose_vec_channels > 0:
            self.out_pose = nn.ModuleList(
                nn.Conv2d(pose_ch, self.pose_vec_channels, 1) for _ in range(levels)
            )
        self.pose_vec_dim = self.pose_vec_channels if self.pose_vec_channels > 0 else pose_ch
        prior = -math.log((1 - 0.01) / 0.01)  # scores start at p = 0.01
        for conv in self.out_cls:
            nn.init.constant_(conv.bias, prior)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], ...]:
        """Per level: scores ``(B, C, H, W)``, boxes ``(B, 4, H, W)``, keypoint offsets
        ``(B, 2K, H, W)`` (training only, else empty), visibilities ``(B, K, H, W)`` and pose
        vectors ``(B, P, H, W)``."""
        cls, box, off, vis, pose = [], [], [], [], []
        for i, x in enumerate(feats):
            cls_feat, reg_feat = x.split(x.shape[1] // 2, dim=1)
            cls_feat = self.conv_cls[i](cls_feat)
            reg_feat = self.conv_pose[i](reg_feat)
            cls.append(self.out_cls[i](cls_feat))
            box.append(self.out_bbox[i](reg_feat))
            if self.training:
                off.append(self.out_kpt_reg[i](reg_feat))
            vis.append(self.out_kpt_vis[i](reg_feat))
            pose.append(self.out_pose[i](reg_feat) if self.pose_vec_channels > 0 else reg_feat)
        return cls, box, off, vis, pose


#: MMPose's default GAU of the DCC (keypoint-token self-attention)
_DCC_GAU: Mapping[str, Any] = {
    "s": 128,
    "expansion_factor": 2,
    "dropout_rate": 0.0,
    "drop_path": 0.0,
    "act_fn": "SiLU",
    "pos_enc": "add",
}


class DCC(nn.Module):
    """Dynamic coordinate classifier: pose vectors → per-keypoint x/y bin distributions over the
    instance's padded box → keypoints.

    Args:
        in_channels: pose-vector width. num_keypoints: K. feat_channels: keypoint token width.
        num_bins: ``(x bins, y bins)`` spread over ``[-0.5, 0.5]`` of the box scale.
        spe_channels, spe_temperature: the bins' sine encoding.
        gau_cfg: keypoint-token self-attention (``s``, ``expansion_factor``, ``dropout_rate``,
            ``drop_path``, ``act_fn``, ``pos_enc`` ``"add"``/``"none"``; default and missing keys:
            MMPose's); ``None``: none.
    """

    x_bins: torch.Tensor
    y_bins: torch.Tensor

    def __init__(
        self,
        in_channels: int,
        num_keypoints: int,
        feat_channels: int,
        num_bins: Sequence[int],
        spe_channels: int = 128,
        spe_temperature: float = 300.0,
        gau_cfg: Mapping[str, Any] | None = _DCC_GAU,
    ) -> None:
        super().__init__()
        self.num_keypoints = k = int(num_keypoints)
        self.feat_channels = int(feat_channels)
        self.spe = SinePositionalEncoding(int(spe_channels), spe_temperature)
        gau = None if gau_cfg is None else {**_DCC_GAU, **gau_cfg}
        if gau is not None:
            self.gau = GAU(
                k,
                self.feat_channels,
                self.feat_channels,
                expansion_factor=int(gau["expansion_factor"]),
                s=int(gau["s"]),
                dropout_rate=float(gau["dropout_rate"]),
                drop_path=float(gau["drop_path"]),
                act=str(gau["act_fn"]).lower(),
            )
            if gau.get("pos_enc", "none") == "add":
                self.pos_enc = nn.Parameter(torch.randn(k, int(gau["s"])))
            elif gau.get("pos_enc", "none") not in ("none", None):
                raise ValueError(
                    f"dcc gau_cfg.pos_enc must be 'add' or 'none', got {gau['pos_enc']!r}"
                )
        self.pose_to_kpts = nn.Sequential(
            nn.Linear(int(in_channels), self.feat_channels * k),
            nn.BatchNorm1d(self.feat_channels * k),
        )
        self.x_fc = nn.Linear(int(spe_channels), self.feat_channels)
        self.y_fc = nn.Linear(int(spe_channels), self.feat_channels)
        self.sigma_fc = nn.Sequential(
            nn.Linear(int(in_channels), k), nn.Sigmoid(), ScalarScale(0.1)
        )
        self.register_buffer("x_bins", torch.linspace(-0.5, 0.5, int(num_bins[0])))
        self.register_buffer("y_bins", torch.linspace(-0.5, 0.5, int(num_bins[1])))

    def _bins(self, bbox_cs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Absolute bin positions ``(N, Bx)`` and ``(N, By)`` of boxes ``(N, 4)`` (cx, cy, w, h)."""
        x = self.x_bins[None] * bbox_cs[:, 2:3] + bbox_cs[:, 0:1]
        y = self.y_bins[None] * bbox_cs[:, 3:4] + bbox_cs[:, 1:2]
        return x, y

    def heatmaps(
        self, pose_vecs: torch.Tensor, bbox_cs: torch.Tensor, grids: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax-normalised ``(N, K, Bx)`` and ``(N, K, By)`` for ``N`` pose vectors; the bins
        are encoded relative to their anchor point ``grids (N, 2)``."""
        n = pose_vecs.shape[0]
        kpt = self.pose_to_kpts(pose_vecs).reshape(n, self.num_keypoints, self.feat_channels)
        if hasattr(self, "gau"):
            kpt = self.gau(kpt, getattr(self, "pos_enc", None))
        x_bins, y_bins = self._bins(bbox_cs)
        x_enc = self.x_fc(self.spe(x_bins - grids[:, 0:1]))  # (N, Bx, C)
        y_enc = self.y_fc(self.spe(y_bins - grids[:, 1:2]))
        x_hms = torch.matmul(kpt, x_enc.transpose(1, 2))
        y_hms = torch.matmul(kpt, y_enc.transpose(1, 2))
        return _softmax(x_hms), _softmax(y_hms)

    def decode(
        self, x_hms: torch.Tensor, y_hms: torch.Tensor, bbox_cs: torch.Tensor
    ) -> torch.Tensor:
        """Expected bin positions → keypoints ``(N, K, 2)`` in input pixels."""
        x_bins, y_bins = self._bins(bbox_cs)
        x = (x_hms * x_bins[:, None]).sum(-1)
        y = (y_hms * y_bins[:, None]).sum(-1)
        return torch.stack((x, y), dim=-1)

    def forward(
        self, pose_vecs: torch.Tensor, bbox_cs: torch.Tensor, grids: torch.Tensor
    ) -> torch.Tensor:
        """Keypoints ``(N, K, 2)`` of ``N`` candidates."""
        return self.decode(*self.heatmaps(pose_vecs, bbox_cs, grids), bbox_cs)

    def target_heatmaps(
        self,
        keypoints: torch.Tensor,
        bbox_cs: torch.Tensor,
        sigmas: torch.Tensor,
        areas: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Laplace-shaped targets over the bins: ``exp(-|d| / (2·√area·σ)) / σ`` per axis, for
        keypoints ``(N, K, 2)``, learnt ``sigmas (N, K)`` and instance ``areas (N,)``."""
        x_bins, y_bins = self._bins(bbox_cs)
        dx = (keypoints[..., 0:1] - x_bins[:, None]).abs()
        dy = (keypoints[..., 1:2] - y_bins[:, None]).abs()
        root = areas.sqrt().clamp(min=1).reshape(-1, 1, 1)
        sig = sigmas.clamp(min=1e-3).unsqueeze(-1)
        hx = torch.exp(-dx / root / sig / 2) / sig
        hy = torch.exp(-dy / root / sig / 2) / sig
        return hx, hy


def _softmax(x: torch.Tensor) -> torch.Tensor:
    """Softmax over the last dim with MMPose's clamp (±5e4) and ``1e-8`` in the denominator."""
    x = x.clamp(-5e4, 5e4)
    e = (x - x.max(dim=-1, keepdim=True).values.detach()).exp()
    return e / (e.sum(dim=-1, keepdim=True) + _EPS)


class RTMOHead(nn.Module):
    """RTMO: :class:`RTMOHeadModule` + SimOTA training + :class:`DCC` keypoints.

    Args:
        num_keypoints: K (from the skeleton when left out).
        head_module_cfg: :class:`RTMOHeadModule` arguments (``in_channels``, ``widen_factor``…).
        featmap_strides: strides of the input levels (RTMO: 16, 32).
        num_classes: instance classes (1).
        dcc_cfg: :class:`DCC` arguments (``in_channels``, ``feat_channels``, ``num_bins``…).
        assigner: SimOTA arguments (``dynamic_k_indicator``, ``use_keypoints_for_center``…).
        sigmas: per-keypoint OKS sigmas (from the skeleton when left out) for the assigner,
            the OKS loss and the proxy targets.
        bbox_padding: box growth for the DCC bins. overlaps_power: exponent of the score
            targets. proxy_target_cc: regress towards the DCC keypoints where they are better
            (RTMO's second stage).
        loss_cls, loss_bbox, loss_oks, loss_vis, loss_mle: loss tables.
        use_aux_loss: add an L1 loss on the raw box deltas (``loss_bbox_aux`` weight).
        nms_pre: candidates kept per image in tensor mode (top scores).
    """

    def __init__(
        self,
        num_keypoints: int,
        head_module_cfg: Mapping[str, Any],
        featmap_strides: Sequence[int] = (16, 32),
        num_classes: int = 1,
        dcc_cfg: Mapping[str, Any] | None = None,
        assigner: Mapping[str, Any] | None = None,
        sigmas: Sequence[float] | None = None,
        bbox_padding: float = 1.25,
        overlaps_power: float = 1.0,
        proxy_target_cc: bool = False,
        loss_cls: Mapping[str, Any] | None = None,
        loss_bbox: Mapping[str, Any] | None = None,
        loss_oks: Mapping[str, Any] | None = None,
        loss_vis: Mapping[str, Any] | None = None,
        loss_mle: Mapping[str, Any] | None = None,
        use_aux_loss: bool = False,
        loss_bbox_aux: Mapping[str, Any] | None = None,
        nms_pre: int = 200,
    ) -> None:
        super().__init__()
        from posecli.models.assigners.sim_ota import SimOTAAssigner

        self.num_keypoints = k = int(num_keypoints)
        self.num_classes = int(num_classes)
        self.featmap_strides = [int(s) for s in featmap_strides]
        self.bbox_padding = float(bbox_padding)
        self.overlaps_power = float(overlaps_power)
        self.proxy_target_cc = bool(proxy_target_cc)
        self.use_aux_loss = bool(use_aux_loss)
        self.nms_pre = int(nms_pre)
        if self.nms_pre < 1:
            raise ValueError(f"nms_pre must be at least 1, got {nms_pre}")
        self.sigmas = [float(s) for s in sigmas] if sigmas is not None else [0.025] * k
        if len(self.sigmas) != k:
            raise ValueError(f"sigmas has {len(self.sigmas)} values for {k} keypoints")
        module = dict(head_module_cfg)
        module.update(num_keypoints=k, featmap_strides=self.featmap_strides)
        module.setdefault("num_classes", self.num_classes)
        self.head_module = RTMOHeadModule(**module)
        dcc = dict(dcc_cfg or {})
        dcc.setdefault("in_channels", self.head_module.pose_vec_dim)
        dcc.setdefault("feat_channels", 128)
        dcc.setdefault("num_bins", (192, 256))
        dcc["num_keypoints"] = k
        self.dcc = DCC(**dcc)
        # MMPose's PoseOKS reads the COCO metainfo by default: the assigner uses the sigmas
        self.assigner = SimOTAAssigner(**dict(assigner or {}), sigmas=self.sigmas)
        self.loss_cls = build_loss(loss_cls, {"name": "varifocal_loss", "reduction": "sum"})
        self.loss_bbox = build_loss(
            loss_bbox, {"name": "iou_loss", "mode": "square", "eps": 1e-16, "reduction": "sum"}
        )
        oks = dict(loss_oks or {"name": "oks_loss", "reduction": "none", "loss_weight": 30.0})
        oks.setdefault("sigmas", self.sigmas)
        self.loss_oks = build_loss(oks, {})
        self.loss_vis = build_loss(
            loss_vis, {"name": "bce", "use_target_weight": True, "reduction": "mean"}
        )
        self.loss_mle = build_loss(loss_mle, {"name": "mlecc_loss", "use_target_weight": True})
        self.loss_bbox_aux_weight = float((loss_bbox_aux or {}).get("loss_weight", 1.0))

    # -- shared pieces --------------------------------------------------------------------
    @staticmethod
    def _flatten(maps: Sequence[torch.Tensor]) -> torch.Tensor:
        """Levels ``(B, C, H, W)`` → ``(B, ΣHW, C)`` (row-major per level)."""
        return torch.cat([m.permute(0, 2, 3, 1).flatten(1, 2) for m in maps], dim=1)

    def _priors(self, maps: Sequence[torch.Tensor]) -> torch.Tensor:
        sizes = [(int(m.shape[-2]), int(m.shape[-1])) for m in maps]
        return grid_priors(sizes, self.featmap_strides, maps[0].device, maps[0].dtype)

    @staticmethod
    def decode_bbox(deltas: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
        """``(dx, dy, log w, log h)`` in strides about the points ``priors (A, 4)`` → xyxy."""
        stride = priors[:, 2:3]
        xy = deltas[..., :2] * stride + priors[:, :2]
        half = deltas[..., 2:].exp() * stride / 2
        return torch.cat((xy - half, xy + half), dim=-1)

    def decode_keypoints(self, offsets: torch.Tensor, priors: torch.Tensor) -> torch.Tensor:
        """Offsets ``(B, A, 2K)`` in strides → keypoints ``(B, A, K, 2)``."""
        off = offsets.reshape(*offsets.shape[:-1], self.num_keypoints, 2)
        return off * priors[:, None, 2:3] + priors[:, None, :2]

    # -- tensor mode ----------------------------------------------------------------------
    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, ...]:
        """The ``nms_pre`` best candidates of each image (see the module docstring)."""
        cls, box, _, vis, pose = self.head_module(feats)
        priors = self._priors(cls)
        scores = self._flatten(cls).sigmoid().max(dim=-1).values  # (B, A)
        bboxes = self.decode_bbox(self._flatten(box), priors)
        kpt_vis = self._flatten(vis).sigmoid()
        vecs = self._flatten(pose)
        t = min(self.nms_pre, int(scores.shape[1]))
        scores, idx = scores.topk(t, dim=1)
        b = scores.shape[0]

        def take(x: torch.Tensor) -> torch.Tensor:
            return torch.gather(x, 1, idx[..., None].expand(b, t, x.shape[-1]))

        bboxes, kpt_vis, vecs = take(bboxes), take(kpt_vis), take(vecs)
        grids = priors[:, :2][idx]  # (B, T, 2)
        cs = bbox_xyxy_to_cs(bboxes, self.bbox_padding)
        kps = self.dcc(vecs.flatten(0, 1), cs.flatten(0, 1), grids.flatten(0, 1))
        return scores, bboxes, kps.reshape(b, t, self.num_keypoints, 2), kpt_vis, idx

    # -- training -------------------------------------------------------------------------
    def _gt(
        self, batch: Mapping[str, Any], b: int, ref: torch.Tensor
    ) -> list[dict[str, torch.Tensor]]:
        k = self.num_keypoints
        cols = {
            "bboxes": instance_targets(batch, "bboxes", 2, b),
            "labels": instance_targets(batch, "labels", 1, b),
            "keypoints": instance_targets(batch, "keypoints", 3, b),
            "keypoints_visible": instance_targets(batch, "keypoints_visible", 2, b),
            "areas": instance_targets(batch, "areas", 1, b),
        }
        out = []
        for i in range(b):
            g = {key: v[i].to(ref.device) for key, v in cols.items()}
            n = len(g["bboxes"])
            out.append(
                {
                    "bboxes": g["bboxes"].reshape(n, 4).to(ref.dtype),
                    "labels": g["labels"].reshape(n).long(),
                    "keypoints": g["keypoints"]
                    .reshape(n, k, g["keypoints"].shape[-1])[..., :2]
                    .to(ref.dtype),
                    "keypoints_visible": g["keypoints_visible"].reshape(n, k).to(ref.dtype),
                    "areas": g["areas"].reshape(n).to(ref.dtype),
                }
            )
        return out

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        cls, box, off, vis, pose = self.head_module(feats)
        priors = self._priors(cls)
        b = cls[0].shape[0]
        k = self.num_keypoints
        flat_cls = self._flatten(cls)  # (B, A, C)
        flat_box = self._flatten(box)
        flat_vis = self._flatten(vis)
        flat_pose = self._flatten(pose)
        box_dec = self.decode_bbox(flat_box, priors)
        kpt_dec = self.decode_keypoints(self._flatten(off), priors)
        gts = self._gt(batch, b, flat_cls)

        with torch.no_grad():
            probs = flat_cls.clamp(-1e4, 1e4).sigmoid().nan_to_num(0.0)
            vis_probs = flat_vis.clamp(-1e4, 1e4).sigmoid()
            fg_masks, cls_t, bbox_t, kpt_t, vis_t, area_t, pos_priors = [], [], [], [], [], [], []
            for i, g in enumerate(gts):
                fg = torch.zeros(len(priors), dtype=torch.bool, device=priors.device)
                if len(g["bboxes"]):
                    res = self.assigner.assign(
                        priors,
                        box_dec[i].detach(),
                        probs[i].sqrt(),
                        kpt_dec[i].detach(),
                        vis_probs[i],
                        g["bboxes"],
                        g["labels"],
                        g["keypoints"],
                        g["keypoints_visible"],
                        g["areas"],
                    )
                    pos = torch.nonzero(res["gt_inds"] > 0).squeeze(-1)
                    which = res["gt_inds"][pos] - 1
                    fg[pos] = True
                    onehot = F.one_hot(g["labels"][which], self.num_classes).to(flat_cls)
                    cls_t.append(onehot * res["max_overlaps"][pos, None])
                    bbox_t.append(g["bboxes"][which])
                    kpt_t.append(g["keypoints"][which])
                    vis_t.append(g["keypoints_visible"][which])
                    area_t.append(g["areas"][which])
                    pos_priors.append(priors[pos])
                fg_masks.append(fg)
            fg_all = torch.cat(fg_masks)
            num_pos = int(fg_all.sum())
            obj_t = torch.zeros(b * len(priors), self.num_classes, device=flat_cls.device)
            obj_t[fg_all] = 1.0

        num_total = max(float(num_pos), 1.0)
        losses: dict[str, torch.Tensor] = {}
        cls_all = flat_cls.reshape(-1, self.num_classes)
        zero = flat_cls.sum() * 0
        if num_pos > 0:
            bbox_t_all, kpt_t_all = torch.cat(bbox_t), torch.cat(kpt_t)
            vis_t_all, area_t_all = torch.cat(vis_t), torch.cat(area_t)
            cls_t_all, pos_pri = torch.cat(cls_t), torch.cat(pos_priors)
            pos_boxes = box_dec.reshape(-1, 4)[fg_all]
            losses["loss_bbox"] = self.loss_bbox(pos_boxes, bbox_t_all) / num_total
            if self.use_aux_loss:
                cxcy = (bbox_t_all[:, :2] + bbox_t_all[:, 2:]) / 2
                wh = bbox_t_all[:, 2:] - bbox_t_all[:, :2]
                aux_t = torch.cat(
                    (
                        (cxcy - pos_pri[:, :2]) / pos_pri[:, 2:],
                        torch.log(wh / pos_pri[:, 2:] + _EPS),
                    ),
                    dim=-1,
                )
                raw = flat_box.reshape(-1, 4)[fg_all]
                losses["loss_bbox_aux"] = (
                    F.l1_loss(raw, aux_t, reduction="sum") * self.loss_bbox_aux_weight / num_total
                )
            losses["loss_vis"] = self.loss_vis(
                flat_vis.reshape(-1, k)[fg_all], vis_t_all, torch.ones_like(vis_t_all)
            )
            kpt_reg = kpt_dec.reshape(-1, k, 2)[fg_all]
            cs = bbox_xyxy_to_cs(pos_boxes, self.bbox_padding)
            vecs = flat_pose.reshape(-1, flat_pose.shape[-1])[fg_all]
            sigmas = self.dcc.sigma_fc(vecs)
            hms = self.dcc.heatmaps(vecs, cs, pos_pri[:, :2])
            target = self.dcc.target_heatmaps(kpt_t_all, cs, sigmas, area_t_all)
            losses["loss_mle"] = self.loss_mle(hms, target, vis_t_all)
            if self.proxy_target_cc:
                from posecli.models.assigners.sim_ota import pose_oks_aligned

                with torch.no_grad():
                    kpt_cc = self.dcc.decode(*hms, cs)
                    better = (
                        (kpt_reg - kpt_t_all).norm(dim=-1) > (kpt_cc - kpt_t_all).norm(dim=-1)
                    ).to(vis_t_all)
                    oks = pose_oks_aligned(kpt_cc, kpt_t_all, vis_t_all, area_t_all, self.sigmas)
                    cls_t_all = oks.reshape(-1, 1)
                losses["loss_oks"] = self.loss_oks(
                    kpt_reg, kpt_cc.detach(), vis_t_all * better, area_t_all
                )
            else:
                losses["loss_oks"] = self.loss_oks(kpt_reg, kpt_t_all, vis_t_all, area_t_all)
            obj_t[fg_all] = cls_t_all.pow(self.overlaps_power).detach().to(obj_t)
        else:
            for key in ("loss_bbox", "loss_vis", "loss_mle", "loss_oks"):
                losses[key] = zero
        losses["loss_cls"] = self.loss_cls(cls_all, obj_t, torch.ones_like(obj_t)) / num_total
        # a loss with reduction "none" (MMPose's OKS loss) is averaged, as MMEngine does
        losses = {key: v.mean() if v.ndim else v for key, v in losses.items()}
        total = sum(losses.values(), zero)
        out = {"loss": total}
        out.update({key: v.detach() for key, v in losses.items()})
        out["num_positives"] = torch.tensor(float(num_pos))
        return out


__all__ = ["DCC", "RTMOHead", "RTMOHeadModule", "bbox_xyxy_to_cs", "grid_priors"]
