"""SimOTA (YOLOX) positive-sample assignment for one-stage pose heads, MMPose 1.3.2 numerics.

:class:`SimOTAAssigner` follows MMPose's ``SimOTAAssigner`` step by step:

1. **Candidates.** A prior (point ``(cx, cy)`` with strides ``(sw, sh)``) is *in* a ground
   truth when strictly inside its box, and *in its centre* when strictly inside the square of
   half-size ``center_radius · stride`` about the box centre (with ``use_keypoints_for_center``,
   about the visibility-weighted mean of the instance's keypoints when it has any visible).
   Priors in some box or some centre region are *valid*; only they are costed.
2. **Cost** of each valid prior for each instance: ``cls_weight · Σ_c BCE(score, one-hot)`` +
   ``iou_weight · -log(IoU + 1e-7)`` + ``oks_weight · -log(OKS + 1e-7)`` +
   ``vis_weight · Σ_k BCE(visibility, gt visibility)`` + ``1e5`` where the prior is not both in
   the box and in the centre region of that instance.
3. **Dynamic k.** Each instance takes ``k = max(1, int(Σ top-candidate_topk indicator))``
   cheapest priors, the indicator being the IoU (``dynamic_k_indicator="iou"``) or the OKS.
4. **Conflicts.** A prior taken by several instances keeps only its cheapest instance.
5. **Result.** ``gt_inds`` (0 background, ``i + 1`` = instance ``i``), ``labels`` (-1 where
   unassigned) and ``max_overlaps``: the indicator of each assigned prior with its instance,
   ``-1e5`` elsewhere (0 everywhere when nothing could be assigned at all), as MMPose returns.

:func:`pose_oks` and :func:`bbox_overlaps` are MMPose's ``PoseOKS`` and ``BBoxOverlaps2D``
(pairwise); :func:`pose_oks_aligned` is ``PoseOKS`` on paired instances (the heads' score
targets).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F

INF = 100000.0
EPS = 1.0e-7


def bbox_overlaps(a: torch.Tensor, b: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Pairwise IoU of boxes ``a (P, 4)`` and ``b (G, 4)`` (xyxy) → ``(P, G)``.

    MMPose's ``bbox_overlaps(mode="iou")``: intersections clamped at 0, union clamped below at
    ``eps``.
    """
    if a.shape[0] == 0 or b.shape[0] == 0:
        return a.new_zeros((a.shape[0], b.shape[0]))
    b = b.to(a)
    area_a = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    area_b = (b[:, 2] - b[:, 0]) * (b[:, 3] - b[:, 1])
    lt = torch.maximum(a[:, None, :2], b[None, :, :2])
    rb = torch.minimum(a[:, None, 2:], b[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    union = (area_a[:, None] + area_b[None, :] - inter).clamp(min=eps)
    return inter / union


def _oks_from_dist(
    dist: torch.Tensor,
    weights: torch.Tensor,
    root_areas: torch.Tensor,
    sigmas: Sequence[float] | torch.Tensor | None,
    eps: float,
) -> torch.Tensor:
    """``Σ_k ŵ_k exp(-(dist_k / √area / 2σ_k)² / 2)`` with ``ŵ = w / max(Σ w, eps)``."""
    d = dist / root_areas.clamp(min=eps)
    if sigmas is not None:
        sig = torch.as_tensor(sigmas, dtype=d.dtype, device=d.device)
        if sig.numel() != d.shape[-1]:
            raise ValueError(f"{sig.numel()} OKS sigmas for {d.shape[-1]} keypoints")
        d = d / (sig * 2)
    w = weights / weights.sum(dim=-1, keepdim=True).clamp(min=eps)
    return (torch.exp(-d.pow(2) / 2) * w).sum(dim=-1)


def pose_oks(
    pred_kpts: torch.Tensor,
    gt_kpts: torch.Tensor,
    gt_vis: torch.Tensor,
    gt_areas: torch.Tensor,
    sigmas: Sequence[float] | torch.Tensor | None = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """Pairwise OKS of predictions ``(P, K, 2)`` with instances ``(G, K, 2)`` → ``(P, G)``.

    MMPose's ``PoseOKS``: ``d = ‖p - t‖ / max(√area, eps)``, divided by ``2σ`` only when
    ``sigmas`` are given (a ``PoseOKS`` without metainfo has none); the mean of
    ``exp(-d² / 2)`` weighted by ``gt_vis`` (normalised by ``max(Σ vis, eps)``, so an instance
    without visible keypoints has OKS 0).
    """
    gt_kpts = gt_kpts.to(pred_kpts)
    dist = (pred_kpts[:, None] - gt_kpts[None]).norm(dim=-1)  # (P, G, K)
    root = gt_areas.to(dist).sqrt().reshape(1, -1, 1)
    return _oks_from_dist(dist, gt_vis.to(dist)[None], root, sigmas, eps)


def pose_oks_aligned(
    pred_kpts: torch.Tensor,
    gt_kpts: torch.Tensor,
    gt_vis: torch.Tensor,
    gt_areas: torch.Tensor,
    sigmas: Sequence[float] | torch.Tensor | None = None,
    eps: float = 1e-8,
) -> torch.Tensor:
    """OKS of each prediction ``(N, K, 2)`` with its own instance (``(N, K, 2)``, vis ``(N, K)``,
    areas ``(N,)``) → ``(N,)``; same numerics as :func:`pose_oks`."""
    dist = (pred_kpts - gt_kpts.to(pred_kpts)).norm(dim=-1)  # (N, K)
    root = gt_areas.to(dist).sqrt().reshape(-1, 1)
    return _oks_from_dist(dist, gt_vis.to(dist), root, sigmas, eps)


def _bce_cost(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """``Σ_last BCE(pred[v], target[g])`` for probabilities ``(V, C)`` / targets ``(G, C)`` →
    ``(V, G)``, in float32 with autocast off (MMPose's overflow guard)."""
    v, g = pred.shape[0], target.shape[0]
    with torch.autocast(device_type=pred.device.type, enabled=False):
        p = pred.float()[:, None].expand(v, g, pred.shape[-1])
        t = target.float()[None].expand(v, g, target.shape[-1])
        cost = F.binary_cross_entropy(p, t, reduction="none").sum(dim=-1)
    return cost.to(pred.dtype)


class SimOTAAssigner:
    """SimOTA assignment of priors to instances (see the module docstring for the steps).

    Args:
        center_radius: half-size of the centre regions, in strides.
        candidate_topk: how many best indicator values sum up to each instance's k.
        iou_weight, cls_weight, oks_weight, vis_weight: cost weights (MMPose 1.3.2 defaults:
            3, 1, 3, 0; a weight of 0 drops that term).
        dynamic_k_indicator: ``"iou"`` or ``"oks"``: what sets k and becomes ``max_overlaps``.
        use_keypoints_for_center: centre regions about the visible keypoints' mean.
        sigmas: per-keypoint OKS sigmas, or ``None`` for OKS without the ``2σ`` division.
            MMPose's default ``PoseOKS`` (``oks_calculator=dict(type="PoseOKS")``, as in the
            RTMO configs) loads COCO's sigmas from its default metainfo file.
    """

    def __init__(
        self,
        center_radius: float = 2.5,
        candidate_topk: int = 10,
        iou_weight: float = 3.0,
        cls_weight: float = 1.0,
        oks_weight: float = 3.0,
        vis_weight: float = 0.0,
        dynamic_k_indicator: str = "iou",
        use_keypoints_for_center: bool = False,
        sigmas: Sequence[float] | None = None,
    ) -> None:
        if dynamic_k_indicator not in ("iou", "oks"):
            raise ValueError(
                f"dynamic_k_indicator must be 'iou' or 'oks', got {dynamic_k_indicator!r}"
            )
        if candidate_topk < 1:
            raise ValueError(f"candidate_topk must be at least 1, got {candidate_topk}")
        self.center_radius = float(center_radius)
        self.candidate_topk = int(candidate_topk)
        self.iou_weight = float(iou_weight)
        self.cls_weight = float(cls_weight)
        self.oks_weight = float(oks_weight)
        self.vis_weight = float(vis_weight)
        self.dynamic_k_indicator = dynamic_k_indicator
        self.use_keypoints_for_center = bool(use_keypoints_for_center)
        self.sigmas = None if sigmas is None else [float(s) for s in sigmas]

    def __repr__(self) -> str:
        return (
            f"SimOTAAssigner(center_radius={self.center_radius}, "
            f"candidate_topk={self.candidate_topk}, iou_weight={self.iou_weight}, "
            f"cls_weight={self.cls_weight}, oks_weight={self.oks_weight}, "
            f"vis_weight={self.vis_weight}, dynamic_k_indicator={self.dynamic_k_indicator!r}, "
            f"use_keypoints_for_center={self.use_keypoints_for_center}, "
            f"sigmas={'None' if self.sigmas is None else f'<{len(self.sigmas)}>'})"
        )

    # -- steps ----------------------------------------------------------------------------
    def candidates(
        self,
        priors: torch.Tensor,
        gt_bboxes: torch.Tensor,
        gt_keypoints: torch.Tensor | None = None,
        gt_keypoints_visible: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``valid (P,)`` (in some box or centre region) and ``in_both (V, G)`` (in that
        instance's box and centre region) for the ``V`` valid priors."""
        gt_bboxes = gt_bboxes.to(priors)
        x, y = priors[:, 0:1], priors[:, 1:2]  # (P, 1)
        sx, sy = priors[:, 2:3], priors[:, 3:4]
        x1, y1, x2, y2 = gt_bboxes.unbind(-1)  # (G,)
        in_box = (x - x1 > 0) & (y - y1 > 0) & (x2 - x > 0) & (y2 - y > 0)  # (P, G)
        cx = (x1 + x2) / 2.0
        cy = (y1 + y2) / 2.0
        if self.use_keypoints_for_center and gt_keypoints_visible is not None:
            assert gt_keypoints is not None
            vis = gt_keypoints_visible.to(gt_keypoints)
            vis_sum = vis.sum(dim=-1)
            mean = (gt_keypoints * vis[..., None]).sum(dim=-2) / vis_sum.clamp(min=0)[:, None]
            mean = mean.to(gt_bboxes)
            has = vis_sum > 0
            cx = torch.where(has, mean[:, 0], cx)
            cy = torch.where(has, mean[:, 1], cy)
        r = self.center_radius
        in_ctr = (
            (x - (cx - r * sx) > 0)
            & (y - (cy - r * sy) > 0)
            & ((cx + r * sx) - x > 0)
            & ((cy + r * sy) - y > 0)
        )
        valid = in_box.any(dim=1) | in_ctr.any(dim=1)
        return valid, (in_box & in_ctr)[valid]

    def dynamic_k_matching(
        self, cost: torch.Tensor, indicator: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Match valid priors to instances from ``cost`` and ``indicator`` ``(V, G)``.

        Returns ``fg (V,)`` (matched), the matched instance ``(F,)`` and indicator ``(F,)`` of
        each matched prior. Vectorised: one ``topk`` over all columns, then the first ``k_g``
        rows of column ``g`` (same sets as MMPose's per-instance ``topk`` up to ties).
        """
        v, g = cost.shape
        n_cand = min(self.candidate_topk, v)
        top = indicator.topk(n_cand, dim=0).values  # (n_cand, G)
        ks = top.sum(dim=0).int().clamp(min=1)  # (G,)
        k_max = min(int(ks.max()), v)
        rows = cost.topk(k_max, dim=0, largest=False).indices  # (k_max, G)
        take = torch.arange(k_max, device=cost.device)[:, None] < ks[None]
        cols = torch.arange(g, device=cost.device).expand(k_max, g)
        matching = torch.zeros((v, g), dtype=torch.bool, device=cost.device)
        matching[rows[take], cols[take]] = True
        multi = matching.sum(dim=1) > 1
        if bool(multi.any()):
            best = cost[multi].min(dim=1).indices
            matching[multi] = False
            matching[torch.nonzero(multi).squeeze(1), best] = True
        fg = matching.any(dim=1)
        matched_gt = matching[fg].to(torch.uint8).argmax(dim=1)
        matched_val = (matching.to(indicator.dtype) * indicator).sum(dim=1)[fg]
        return fg, matched_gt, matched_val

    @torch.no_grad()
    def assign(
        self,
        priors: torch.Tensor,
        pred_bboxes: torch.Tensor,
        pred_scores: torch.Tensor,
        pred_keypoints: torch.Tensor,
        pred_keypoints_visible: torch.Tensor,
        gt_bboxes: torch.Tensor,
        gt_labels: torch.Tensor,
        gt_keypoints: torch.Tensor,
        gt_keypoints_visible: torch.Tensor,
        gt_areas: torch.Tensor,
    ) -> dict[str, torch.Tensor | int]:
        """Assign the priors of one image.

        Args:
            priors: ``(P, 4)`` ``[cx, cy, stride_w, stride_h]``.
            pred_bboxes: ``(P, 4)`` decoded xyxy boxes.
            pred_scores: ``(P, C)`` probabilities (the heads pass ``sqrt(cls · obj)``).
            pred_keypoints: ``(P, K, 2)``; pred_keypoints_visible: ``(P, K)`` probabilities.
            gt_bboxes: ``(G, 4)`` xyxy; gt_labels: ``(G,)``; gt_keypoints: ``(G, K, 2)``;
                gt_keypoints_visible: ``(G, K)``; gt_areas: ``(G,)``.

        Returns:
            ``{"num_gts": G, "gt_inds": (P,) long, "max_overlaps": (P,) float32,
            "labels": (P,) long}``.
        """
        num_p, num_g = pred_bboxes.shape[0], gt_bboxes.shape[0]
        device = pred_bboxes.device
        gt_inds = torch.zeros(num_p, dtype=torch.long, device=device)
        labels = torch.full((num_p,), -1, dtype=torch.long, device=device)

        def empty() -> dict[str, torch.Tensor | int]:
            return {
                "num_gts": num_g,
                "gt_inds": gt_inds,
                "max_overlaps": pred_bboxes.new_zeros(num_p),
                "labels": labels,
            }

        if num_g == 0 or num_p == 0:
            return empty()
        valid, in_both = self.candidates(priors, gt_bboxes, gt_keypoints, gt_keypoints_visible)
        valid_idx = torch.nonzero(valid).squeeze(1)
        if valid_idx.numel() == 0:
            return empty()

        boxes = pred_bboxes[valid_idx]
        cost = (~in_both).to(boxes.dtype) * INF
        ious = bbox_overlaps(boxes, gt_bboxes)
        if self.iou_weight > 0:
            cost = cost + -torch.log(ious + EPS) * self.iou_weight
        oks = None
        if self.oks_weight > 0 or self.dynamic_k_indicator == "oks":
            oks = pose_oks(
                pred_keypoints[valid_idx], gt_keypoints, gt_keypoints_visible, gt_areas, self.sigmas
            )
            cost = cost + -torch.log(oks + EPS) * self.oks_weight
        if self.cls_weight > 0:
            onehot = F.one_hot(gt_labels.long(), pred_scores.shape[-1])
            cost = cost + _bce_cost(pred_scores[valid_idx], onehot) * self.cls_weight
        if self.vis_weight > 0:
            cost = (
                cost
                + _bce_cost(pred_keypoints_visible[valid_idx], gt_keypoints_visible)
                * self.vis_weight
            )

        indicator = oks if self.dynamic_k_indicator == "oks" else ious
        assert indicator is not None
        fg, matched_gt, matched_val = self.dynamic_k_matching(cost, indicator)
        pos = valid_idx[fg]
        gt_inds[pos] = matched_gt + 1
        labels[pos] = gt_labels.to(device).long()[matched_gt]
        max_overlaps = torch.full((num_p,), -INF, dtype=torch.float32, device=device)
        max_overlaps[pos] = matched_val.to(max_overlaps)
        return {
            "num_gts": num_g,
            "gt_inds": gt_inds,
            "max_overlaps": max_overlaps,
            "labels": labels,
        }


__all__ = ["INF", "SimOTAAssigner", "bbox_overlaps", "pose_oks", "pose_oks_aligned"]
