"""One-stage (YOLOX-Pose / RTMO) losses and the SimOTA assigner on hand-computed cases."""

from __future__ import annotations

import math

import pytest
import torch

from posecli.errors import BuildError
from posecli.models.assigners import SimOTAAssigner, bbox_overlaps, pose_oks, pose_oks_aligned
from posecli.plugins import registry


def build(name: str, **kwargs: object) -> torch.nn.Module:
    return registry("losses").build(name, **kwargs)


# -- OKS loss -------------------------------------------------------------------------------
# One instance, K = 2: keypoint 0 off by (3, 4) → distance 5, keypoint 1 exact; area 100 → √ 10,
# so d = (0.5, 0) without sigmas: per-keypoint similarities exp(-0.125) and 1.
OUT = torch.tensor([[[3.0, 4.0], [7.0, 7.0]]])
TGT = torch.tensor([[[0.0, 0.0], [7.0, 7.0]]])
AREA = torch.tensor([100.0])
E = math.exp(-0.125)


@pytest.mark.parametrize(
    ("mode", "expected"),
    [
        ("linear", 1 - (E + 1) / 2),  # weights 1/K each
        ("square", 1 - ((E + 1) / 2) ** 2),
        ("log", -math.log((E + 1) / 2)),
    ],
)
def test_oks_loss_modes_on_a_known_offset(mode: str, expected: float) -> None:
    loss = build("oks_loss", mode=mode)(OUT, TGT, torch.ones(1, 2), AREA)
    assert loss.ndim == 0 and loss.item() == pytest.approx(expected, rel=1e-6)


def test_oks_loss_sigmas_weights_and_mmpose_quirks() -> None:
    # sigmas 0.25: d0 = 0.5 / (2·0.25) = 1 → exp(-0.5)
    loss = build("OKSLoss", sigmas=[0.25, 0.25])(OUT, TGT, torch.ones(1, 2), AREA)
    assert loss.item() == pytest.approx(1 - (math.exp(-0.5) + 1) / 2, rel=1e-6)
    w = torch.tensor([[1.0, 0.0]])
    # weights / K: only keypoint 0 counts, at half weight → OKS = exp(-0.125) / 2
    assert build("oks_loss")(OUT, TGT, w, AREA).item() == pytest.approx(1 - E / 2, rel=1e-6)
    # weights / their sum: OKS = exp(-0.125)
    normed = build("oks_loss", norm_target_weight=True)(OUT, TGT, w, AREA)
    assert normed.item() == pytest.approx(1 - E, rel=1e-6)
    # MMPose: no target_weight → the similarities are summed, not averaged (OKS = 1 + e^-1/8)
    assert build("oks_loss")(OUT, TGT, None, AREA).item() == pytest.approx(-E, rel=1e-6)
    # no areas → raw pixel distance: d0 = 5 → exp(-12.5)
    raw = build("oks_loss")(OUT, TGT, torch.ones(1, 2))
    assert raw.item() == pytest.approx(1 - (math.exp(-12.5) + 1) / 2, rel=1e-6)
    assert "sigmas" not in build("oks_loss", sigmas=[0.1, 0.1]).state_dict()


def test_oks_loss_reductions_weight_and_finite_gradients() -> None:
    out = torch.cat((OUT, TGT)).requires_grad_()  # instance 1 is exact: loss 0
    tgt, w, areas = torch.cat((TGT, TGT)), torch.ones(2, 2), AREA.repeat(2)
    per = build("oks_loss", reduction="none", loss_weight=30.0)(out, tgt, w, areas)
    assert per.shape == (2,)
    assert per[0].item() == pytest.approx(30 * (1 - (E + 1) / 2), rel=1e-6) and per[1] == 0
    total = build("oks_loss", reduction="sum")(out, tgt, w, areas)
    mean = build("oks_loss")(out, tgt, w, areas)
    assert total.item() == pytest.approx(2 * mean.item())
    total.backward()
    assert out.grad is not None and torch.isfinite(out.grad).all()  # ‖0‖ at the exact ones
    assert out.grad[1].abs().sum() == 0 and out.grad[0, 0].abs().sum() > 0
    with pytest.raises(ValueError, match="sigmas"):
        build("oks_loss", sigmas=[0.1] * 3)(OUT, TGT, torch.ones(1, 2), AREA)
    with pytest.raises(BuildError, match="mode must be one of"):
        build("oks_loss", mode="cubic")


# -- IoU loss -------------------------------------------------------------------------------
# [0,0,2,2] vs [1,1,3,3]: intersection 1, union 4 + 4 - 1 = 7 → IoU 1/7.
A = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
B = torch.tensor([[1.0, 1.0, 3.0, 3.0]])


@pytest.mark.parametrize(
    ("mode", "expected"), [("linear", 6 / 7), ("square", 48 / 49), ("log", math.log(7))]
)
def test_iou_loss_modes_on_known_boxes(mode: str, expected: float) -> None:
    loss = build("iou_loss", mode=mode)(A, B)
    assert loss.ndim == 0 and loss.item() == pytest.approx(expected, rel=1e-6)


def test_iou_loss_eps_reductions_weight_and_gradients() -> None:
    far = torch.tensor([[10.0, 10.0, 12.0, 12.0]])
    # disjoint boxes: IoU 0 is clamped at eps → -log(1e-16); linear: 1
    assert build("IoULoss")(A, far).item() == pytest.approx(16 * math.log(10), rel=1e-6)
    assert build("iou_loss", mode="linear")(A, far).item() == 1.0
    pred = torch.cat((A, A)).requires_grad_()
    tgt = torch.cat((B, A))  # second pair identical: IoU 1
    per = build("iou_loss", mode="square", reduction="none")(pred, tgt)
    assert per.shape == (2,) and per[1].item() == 0.0
    rtmo = build("iou_loss", mode="square", eps=1e-16, reduction="sum", loss_weight=5.0)
    loss = rtmo(pred, tgt)
    assert loss.item() == pytest.approx(5 * 48 / 49, rel=1e-6)
    assert build("iou_loss", mode="square")(pred, tgt).item() == pytest.approx(48 / 49 / 2)
    loss.backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    assert pred.grad[0].abs().sum() > 0


# -- VariFocal loss -------------------------------------------------------------------------
# logits (0, ln 3) → p = (0.5, 0.75); targets (0, 0.6).
# element 0 (negative): weight 0.75·0.5² = 0.1875, BCE(0, t=0) = ln 2
# element 1 (positive): weight = t = 0.6, BCE = -(0.6 ln 0.75 + 0.4 ln 0.25)
VFL_X = torch.tensor([[0.0, math.log(3.0)]])
VFL_T = torch.tensor([[0.0, 0.6]])
VFL_0 = 0.1875 * math.log(2)
VFL_1_BCE = -(0.6 * math.log(0.75) + 0.4 * math.log(0.25))


def test_varifocal_loss_on_known_logits() -> None:
    none = build("varifocal_loss", reduction="none")(VFL_X, VFL_T)
    assert torch.allclose(none, torch.tensor([[VFL_0, 0.6 * VFL_1_BCE]]))
    mean = build("VariFocalLoss")(VFL_X, VFL_T)
    assert mean.item() == pytest.approx((VFL_0 + 0.6 * VFL_1_BCE) / 2, rel=1e-6)
    rtmo = build("varifocal_loss", reduction="sum", use_target_weight=True, loss_weight=2.0)
    w = torch.tensor([[1.0, 0.5]])
    assert rtmo(VFL_X, VFL_T, w).item() == pytest.approx(2 * (VFL_0 + 0.3 * VFL_1_BCE), rel=1e-6)
    # (N,) weights broadcast over classes
    assert rtmo(VFL_X, VFL_T, torch.tensor([0.5])).item() == pytest.approx(
        VFL_0 + 0.6 * VFL_1_BCE, rel=1e-6
    )
    with pytest.raises(ValueError, match="target_weight"):
        rtmo(VFL_X, VFL_T)


def test_varifocal_loss_options_clip_and_gradients() -> None:
    # iou_weighted=False: the positive is weighted by its label (1)
    plain = build("varifocal_loss", reduction="sum", iou_weighted=False)(VFL_X, VFL_T)
    assert plain.item() == pytest.approx(VFL_0 + VFL_1_BCE, rel=1e-6)
    # probabilities in: same value as the logits
    probs = build("varifocal_loss", reduction="sum", use_sigmoid=False)(VFL_X.sigmoid(), VFL_T)
    assert probs.item() == pytest.approx(VFL_0 + 0.6 * VFL_1_BCE, rel=1e-5)
    # a confident negative (logit 20): weight 0.75·σ(20)² ≈ 0.75, BCE on the logit clipped at 10
    conf = build("varifocal_loss")(torch.tensor([[20.0]]), torch.tensor([[0.0]]))
    assert conf.item() == pytest.approx(0.75 * math.log1p(math.exp(10)), rel=1e-6)
    x = torch.randn(4, 2, requires_grad=True)
    t = torch.rand(4, 2) * (torch.rand(4, 2) > 0.5)
    build("varifocal_loss", reduction="sum")(x, t).backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# -- BCE ------------------------------------------------------------------------------------
def test_bce_logits_weights_reductions() -> None:
    x = torch.tensor([[0.0, 0.0]], requires_grad=True)
    t = torch.tensor([[1.0, 0.0]])
    w = torch.tensor([[1.0, 0.0]])
    # each element ln 2; weights (1, 0); mean over both elements (MMPose) → ln 2 / 2
    vis = build("bce", use_target_weight=True, reduction="mean", loss_weight=1.0)
    loss = vis(x, t, w)
    assert loss.item() == pytest.approx(math.log(2) / 2, rel=1e-6)
    assert build("BCELoss", reduction="sum")(x, t).item() == pytest.approx(2 * math.log(2))
    assert build("bce", reduction="none")(x, t).shape == (1, 2)
    # use_sigmoid=True (MMPose's meaning): inputs are already probabilities
    probs = build("bce", use_sigmoid=True)(torch.tensor([[0.5, 0.5]]), t)
    assert probs.item() == pytest.approx(math.log(2), rel=1e-6)
    loss.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert x.grad[0, 1] == 0 and x.grad[0, 0] == pytest.approx(-0.25)  # (σ(0) - 1) · 1/2


# -- MLECC loss -----------------------------------------------------------------------------
# keypoint 0: x pred (0.5, 0.5, 0) · target (1, 0, 0) = 0.5; y pred (0.25, 0.75) · (0, 1) = 0.75
# → likelihood 0.375. Keypoint 1 matches its one-hot targets exactly: likelihood 1.
X_HM = torch.tensor([[[0.5, 0.5, 0.0], [0.0, 1.0, 0.0]]])
Y_HM = torch.tensor([[[0.25, 0.75], [1.0, 0.0]]])
X_T = torch.tensor([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]])
Y_T = torch.tensor([[[0.0, 1.0], [1.0, 0.0]]])


@pytest.mark.parametrize(
    ("mode", "k0", "k1"),
    [
        ("log", -math.log(0.375 + 1e-4), -math.log(1 + 1e-4)),
        ("linear", 0.625, 0.0),
        ("square", 1 - 0.375**2, 0.0),
    ],
)
def test_mlecc_loss_on_known_1d_heatmaps(mode: str, k0: float, k1: float) -> None:
    none = build("mlecc_loss", mode=mode, reduction="none")((X_HM, Y_HM), (X_T, Y_T))
    assert none.shape == (1, 2)
    assert none[0, 0].item() == pytest.approx(k0, rel=1e-5)
    assert none[0, 1].item() == pytest.approx(k1, abs=1e-6)


def test_mlecc_loss_reduces_per_instance_with_weights_and_zeroes_nan() -> None:
    k0 = -math.log(0.375 + 1e-4)
    rtmo = build("MLECCLoss", use_target_weight=True, loss_weight=1.0)
    w = torch.tensor([[1.0, 0.0]])
    loss = rtmo((X_HM, Y_HM), (X_T, Y_T), w)
    assert loss.shape == (1,)  # MMPose: the mean over keypoints, per instance
    assert loss.item() == pytest.approx(k0 / 2, rel=1e-5)
    summed = build("mlecc_loss", reduction="sum", use_target_weight=True, loss_weight=5.0)
    assert summed((X_HM, Y_HM), (X_T, Y_T), w).item() == pytest.approx(5 * k0, rel=1e-5)
    bad = X_HM.clone()
    bad[0, 1, 0] = float("nan")
    assert build("mlecc_loss", reduction="none")((bad, Y_HM), (X_T, Y_T))[0, 1] == 0
    x = torch.softmax(torch.randn(3, 4, 8), -1).requires_grad_()
    y = torch.softmax(torch.randn(3, 4, 6), -1)
    out = rtmo((x, y), (torch.rand(3, 4, 8), torch.rand(3, 4, 6)), torch.ones(3, 4))
    assert out.shape == (3,)
    out.mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


# -- PoseOKS / BBoxOverlaps2D ---------------------------------------------------------------
def test_pose_oks_and_bbox_overlaps_helpers() -> None:
    gt = torch.tensor([[[0.0, 0.0], [0.0, 0.0]], [[100.0, 100.0], [100.0, 100.0]]])
    pred = torch.tensor([[[0.0, 0.0], [3.0, 4.0]]])
    vis = torch.ones(2, 2)
    areas = torch.tensor([100.0, 100.0])
    oks = pose_oks(pred, gt, vis, areas)
    assert oks.shape == (1, 2)
    assert oks[0, 0].item() == pytest.approx((1 + E) / 2, rel=1e-6)  # d = (0, 0.5)
    assert oks[0, 1].item() < 1e-30
    with_sig = pose_oks(pred, gt, vis, areas, sigmas=[0.25, 0.25])
    assert with_sig[0, 0].item() == pytest.approx((1 + math.exp(-0.5)) / 2, rel=1e-6)
    # only keypoint 1 visible → the mean over it alone; none visible → 0
    one = pose_oks(pred, gt[:1], torch.tensor([[0.0, 1.0]]), areas[:1])
    assert one.item() == pytest.approx(E, rel=1e-6)
    assert pose_oks(pred, gt[:1], torch.zeros(1, 2), areas[:1]).item() == 0
    paired = pose_oks_aligned(pred.expand(2, 2, 2), gt, vis, areas, [0.25, 0.25])
    assert torch.allclose(paired, torch.stack((with_sig[0, 0], with_sig[0, 1])))

    boxes = torch.tensor([[0.0, 0.0, 2.0, 2.0], [10.0, 10.0, 12.0, 12.0]])
    ious = bbox_overlaps(boxes, torch.tensor([[1.0, 1.0, 3.0, 3.0], [0.0, 0.0, 2.0, 2.0]]))
    assert ious.shape == (2, 2)
    assert torch.allclose(ious, torch.tensor([[1 / 7, 1.0], [0.0, 0.0]]))
    assert bbox_overlaps(boxes, torch.zeros(0, 4)).shape == (2, 0)


# -- SimOTA ---------------------------------------------------------------------------------
STRIDE = 8.0
K = 3
BOX_A = [4.0, 4.0, 28.0, 28.0]  # centre (16, 16); priors strictly inside: x, y ∈ {12, 20}
BOX_B = [36.0, 36.0, 60.0, 60.0]  # centre (48, 48); inside: x, y ∈ {44, 52}


def grid(n: int = 8) -> torch.Tensor:
    """Priors of an n × n stride-8 map, centres at 8i + 4, row-major."""
    c = torch.arange(n, dtype=torch.float32) * STRIDE + 4
    yy, xx = torch.meshgrid(c, c, indexing="ij")
    s = torch.full_like(xx, STRIDE)
    return torch.stack((xx, yy, s, s), -1).reshape(-1, 4)


def index(x: float, y: float) -> int:
    return int((y - 4) // 8) * 8 + int((x - 4) // 8)


def scene() -> dict[str, torch.Tensor]:
    """Two instances; most priors predict a tiny far-away box (IoU 0).

    A: priors (12, 12) and (20, 20) predict A exactly, (12, 20) and (20, 12) a quarter of it
    ([4, 4, 16, 16]: IoU 144 / 576 = 0.25) → Σ top IoUs = 2.5 → k = 2.
    B: (44, 44) predicts B exactly, (52, 52) [40, 40, 60, 60] (IoU 400 / 576 ≈ 0.69) → k = 1.
    """
    priors = grid()
    p = len(priors)
    boxes = torch.tensor([[200.0, 200.0, 201.0, 201.0]]).repeat(p, 1)
    boxes[index(12, 12)] = boxes[index(20, 20)] = torch.tensor(BOX_A)
    boxes[index(12, 20)] = boxes[index(20, 12)] = torch.tensor([4.0, 4.0, 16.0, 16.0])
    boxes[index(44, 44)] = torch.tensor(BOX_B)
    boxes[index(52, 52)] = torch.tensor([40.0, 40.0, 60.0, 60.0])
    gt_kpts = torch.tensor([[[10.0, 10.0], [16.0, 16.0], [22.0, 22.0]]])
    gt_kpts = torch.cat((gt_kpts, gt_kpts + 32))
    return {
        "priors": priors,
        "pred_bboxes": boxes,
        "pred_scores": torch.full((p, 2), 0.5),
        "pred_keypoints": torch.full((p, K, 2), 300.0),
        "pred_keypoints_visible": torch.full((p, K), 0.5),
        "gt_bboxes": torch.tensor([BOX_A, BOX_B]),
        "gt_labels": torch.tensor([1, 0]),
        "gt_keypoints": gt_kpts,
        "gt_keypoints_visible": torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]]),
        "gt_areas": torch.tensor([576.0, 576.0]),
    }


def test_simota_assigns_the_expected_priors_with_dynamic_k() -> None:
    s = scene()
    res = SimOTAAssigner(oks_weight=0.0).assign(**s)
    gt_inds, labels, overlaps = res["gt_inds"], res["labels"], res["max_overlaps"]
    assert isinstance(gt_inds, torch.Tensor) and gt_inds.dtype == torch.long
    assert isinstance(labels, torch.Tensor) and isinstance(overlaps, torch.Tensor)
    expected = {index(12, 12): 1, index(20, 20): 1, index(44, 44): 2}  # k_A = 2, k_B = 1
    assert {i: int(g) for i, g in enumerate(gt_inds) if g > 0} == expected
    assert (gt_inds == 0).sum() == 64 - 3  # background
    pos = gt_inds > 0
    assert labels[pos].tolist() == [1, 1, 0] and (labels[~pos] == -1).all()
    assert torch.allclose(overlaps[pos], torch.ones(3))  # IoU of the exact boxes
    assert (overlaps[~pos] == -1e5).all()  # MMPose's -INF for the rest
    assert res["num_gts"] == 2
    # with MMPose's default OKS cost (weight 3, predictions far from every keypoint) the
    # ranking is the same: the OKS cost is equal for all priors
    default = SimOTAAssigner().assign(**s)["gt_inds"]
    assert torch.equal(default, gt_inds)


def test_simota_oks_indicator_sets_k_and_overlaps() -> None:
    s = scene()
    kp = s["pred_keypoints"]
    kp[index(12, 12)] = s["gt_keypoints"][0]  # exact pose of A: OKS 1
    kp[index(20, 20)] = s["gt_keypoints"][0] + torch.tensor([0.0, 24.0])  # √area 24 → d = 1
    kp[index(44, 44)] = s["gt_keypoints"][1]  # B's visible keypoints exact: OKS 1
    res = SimOTAAssigner(dynamic_k_indicator="oks", use_keypoints_for_center=True).assign(**s)
    gt_inds, overlaps = res["gt_inds"], res["max_overlaps"]
    assert isinstance(gt_inds, torch.Tensor) and isinstance(overlaps, torch.Tensor)
    # Σ top OKS for A: 1 + e^-0.5 (shifted pose) + e^-(32√2/24)²/2 ≈ 0.17 (B's pose, 32 px
    # off on both axes) ≈ 1.78 → k = 1, the cheapest: exact box and pose. For B:
    # 1 + 0.17 (A's exact pose) + e^-(√(32² + 8²)/24)²/2 ≈ 0.39 (the shifted one) → k = 1.
    oks = pose_oks(kp, s["gt_keypoints"], s["gt_keypoints_visible"], s["gt_areas"])
    assert oks[index(20, 20), 0].item() == pytest.approx(math.exp(-0.5), rel=1e-6)
    assert oks[:, 0].topk(10).values.sum().item() == pytest.approx(1.776, abs=1e-3)
    assert {i: int(g) for i, g in enumerate(gt_inds) if g > 0} == {
        index(12, 12): 1,
        index(44, 44): 2,
    }
    assert overlaps[index(12, 12)].item() == pytest.approx(1.0)
    assert overlaps[index(44, 44)].item() == pytest.approx(1.0)
    sig = SimOTAAssigner(dynamic_k_indicator="oks", sigmas=[0.5] * K).assign(**s)
    assert isinstance(sig["max_overlaps"], torch.Tensor)
    assert sig["max_overlaps"][index(12, 12)].item() == pytest.approx(1.0)


def test_simota_candidates_and_keypoint_centres() -> None:
    s = scene()
    pri, boxes = s["priors"], s["gt_bboxes"]
    valid, in_both = SimOTAAssigner().candidates(pri, boxes)
    # centre regions (half-size 2.5 · 8 = 20) about (16, 16) and (48, 48): x, y ∈ 4 … 28 and
    # 36 … 60 → 16 + 16 valid priors; in both = the 4 strictly inside each box
    assert int(valid.sum()) == 32 and in_both.shape == (32, 2)
    assert in_both.sum(0).tolist() == [4, 4]
    # radius 0.5 (half-size 4): about B's box centre (48, 48) no prior is strictly inside;
    # about its visible keypoints' mean (45, 45) the prior (44, 44) is
    small = SimOTAAssigner(center_radius=0.5)
    _, box_ctr = small.candidates(pri, boxes)
    assert box_ctr[:, 1].sum() == 0
    kpt = SimOTAAssigner(center_radius=0.5, use_keypoints_for_center=True)
    valid_k, kpt_ctr = kpt.candidates(pri, boxes, s["gt_keypoints"], s["gt_keypoints_visible"])
    valid_idx = torch.nonzero(valid_k).squeeze(1)
    assert valid_idx[kpt_ctr[:, 1]].tolist() == [index(44, 44)]
    # an instance without visible keypoints keeps its box centre (no NaN)
    no_vis = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0]])
    _, fallback = kpt.candidates(pri, boxes, s["gt_keypoints"], no_vis)
    assert fallback[:, 1].sum() == 0


def test_simota_resolves_conflicts_to_the_cheapest_instance() -> None:
    # costs of 3 priors × 2 instances; every indicator 0.9 → k = int(2.7) = 2 each
    cost = torch.tensor([[1.0, 2.0], [0.5, 0.1], [3.0, 0.2]])
    fg, gt, val = SimOTAAssigner().dynamic_k_matching(cost, torch.full((3, 2), 0.9))
    # instance 0 takes priors 1, 0; instance 1 takes 1, 2; prior 1 keeps instance 1 (0.1)
    assert fg.tolist() == [True, True, True]
    assert gt.tolist() == [0, 1, 1]
    assert torch.allclose(val, torch.full((3,), 0.9))


def _reference_matching(
    cost: torch.Tensor, ind: torch.Tensor, topk: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """SimOTA's dynamic-k matching written as a plain per-instance loop (for comparison)."""
    v, g = cost.shape
    ks = ind.topk(min(topk, v), dim=0).values.sum(0).int().clamp(min=1)
    m = torch.zeros(v, g)
    for j in range(g):
        m[cost[:, j].topk(int(ks[j]), largest=False).indices, j] = 1
    for i in range(v):
        if m[i].sum() > 1:
            m[i] = 0
            m[i, cost[i].argmin()] = 1
    fg = m.sum(1) > 0
    return fg, m[fg].argmax(1)


@pytest.mark.parametrize("seed", range(5))
def test_simota_vectorised_matching_equals_the_per_instance_loop(seed: int) -> None:
    gen = torch.Generator().manual_seed(seed)
    cost = torch.rand(40, 6, generator=gen) * 10
    cost[torch.rand(40, 6, generator=gen) > 0.6] += 1e5
    ind = torch.rand(40, 6, generator=gen)
    fg, gt, _ = SimOTAAssigner().dynamic_k_matching(cost, ind)
    ref_fg, ref_gt = _reference_matching(cost, ind, 10)
    assert torch.equal(fg, ref_fg) and torch.equal(gt, ref_gt)


def test_simota_costs_every_term_and_handles_empty_cases() -> None:
    s = scene()
    full = SimOTAAssigner(oks_weight=1.0, vis_weight=1.0, dynamic_k_indicator="oks").assign(**s)
    gt_inds = full["gt_inds"]
    assert isinstance(gt_inds, torch.Tensor) and int((gt_inds > 0).sum()) >= 2
    none = {**s, "gt_bboxes": torch.zeros(0, 4), "gt_labels": torch.zeros(0, dtype=torch.long)}
    none.update(gt_keypoints=torch.zeros(0, K, 2), gt_keypoints_visible=torch.zeros(0, K))
    none["gt_areas"] = torch.zeros(0)
    for res in (
        SimOTAAssigner().assign(**none),
        # an instance far outside the grid: no valid prior
        SimOTAAssigner().assign(**{**s, "gt_bboxes": torch.tensor([[900.0, 900, 950, 950]] * 2)}),
    ):
        assert (res["gt_inds"] == 0).all() and (res["labels"] == -1).all()  # type: ignore[union-attr]
        assert (res["max_overlaps"] == 0).all()  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="dynamic_k_indicator"):
        SimOTAAssigner(dynamic_k_indicator="giou")
