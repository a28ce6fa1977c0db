"""Every registered backbone, neck, head and loss builds, runs forward/backward, declares shapes."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from posecli.plugins import registry
from posecli.recipe.schema import TestConfig

#: Small settings per built-in backbone (third-party names are built with defaults).
BACKBONE_KWARGS: dict[str, dict[str, Any]] = {
    "cspnext": {"variant": "t", "out_indices": (2, 3, 4)},
    "csp_darknet": {"deepen_factor": 0.33, "widen_factor": 0.125, "out_indices": (1, 2, 3, 4)},
    "hrnet": {"arch": "w18", "multiscale_output": True},
    "resnet": {"depth": 18, "out_indices": (0, 1, 2, 3)},
    "mobilenet_v2": {"widen_factor": 0.5, "out_indices": (0, 1, 2, 3)},
    "mobilenet_v3": {"arch": "small", "out_indices": (0, 1, 2, 3)},
    "efficientnet_lite0": {"pretrained": False, "out_indices": (0, 1, 2, 3)},
}
#: 2D→3D lifting components take keypoint sequences, not images: tests/lifting/test_models.py.
LIFTING = {"tcn", "dstformer", "temporal_regression_head", "trajectory_regression_head"}
LIFTING |= {"motion_regression_head"}
#: Built-ins whose inputs differ from the generic cases here, tested by their own suites.
OWN_SUITES = {
    "ae_head": "tests/bottomup",
    "cid_head": "tests/bottomup",
    "dekr_head": "tests/bottomup",
    "rtmo_head": "tests/bottomup/test_rtmo.py",
    "rtmw_head": "tests/data_pipeline/test_mmpose_recipes.py",
    "associative_embedding_loss": "tests/bottomup",
    "info_nce": "tests/bottomup",
    "iou_loss": "tests/models/test_one_stage_losses.py",  # (boxes, boxes): no weight
    "mlecc_loss": "tests/models/test_one_stage_losses.py",  # per-instance (N,) result
}
BACKBONES = [n for n in registry("backbones").names() if not n.endswith(":") and n not in LIFTING]


def _backward(out: Any) -> None:
    tensors = out if isinstance(out, (tuple, list)) else (out,)
    sum(t.float().pow(2).mean() for t in tensors).backward()


@pytest.mark.parametrize("name", BACKBONES)
def test_backbone_forward_backward_and_declared_shapes(name: str) -> None:
    model = registry("backbones").build(name, **BACKBONE_KWARGS.get(name, {}))
    x = torch.randn(2, 3, 64, 64, requires_grad=True)
    feats = model(x)
    assert isinstance(feats, tuple)
    assert len(feats) == len(model.out_channels) == len(model.strides)
    for f, c, s in zip(feats, model.out_channels, model.strides, strict=True):
        assert tuple(f.shape) == (2, c, 64 // s, 64 // s)
    _backward(feats)
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_timm_prefix_family() -> None:
    pytest.importorskip("timm")
    model = registry("backbones").build("timm:resnet18", out_indices=(-1,))
    feats = model(torch.randn(1, 3, 64, 64))
    assert feats[-1].shape[1] == model.out_channels[-1]
    assert feats[-1].shape[-1] == 64 // model.strides[-1]


def test_frozen_stages_and_norm_eval() -> None:
    model = registry("backbones").build("cspnext", variant="t", frozen_stages=1, norm_eval=True)
    model.train()
    assert not any(p.requires_grad for p in model.stem.parameters())
    assert not any(p.requires_grad for p in model.stage1.parameters())
    assert all(p.requires_grad for p in model.stage2.parameters())
    assert not model.stage3[0].bn.training


NECK_KWARGS: dict[str, dict[str, Any]] = {
    "fpn": {"in_channels": [8, 16, 32], "out_channels": 8, "num_outs": 4},
    "cspnext_pafpn": {"in_channels": [8, 16, 32], "out_channels": 8, "num_csp_blocks": 1},
    "yolox_pafpn": {"in_channels": [8, 16, 32], "out_channels": 8, "num_csp_blocks": 1},
    "channel_mapper": {"in_channels": [8, 16, 32], "out_channels": 8, "num_outs": 4},
    "hybrid_encoder": {
        "in_channels": [8, 16, 32],
        "hidden_dim": 16,
        "deepen_factor": 0.33,
        "widen_factor": 0.5,
        "output_indices": [1, 2],
        "encoder_cfg": {
            "self_attn_cfg": {"embed_dims": 16, "num_heads": 2},
            "ffn_cfg": {"embed_dims": 16, "feedforward_channels": 32, "act_cfg": {"type": "GELU"}},
        },
        "projector": {
            "name": "channel_mapper",
            "in_channels": [16, 16],
            "out_channels": 8,
            "kernel_size": 1,
            "act_cfg": "none",
            "norm_cfg": {"type": "BN"},
        },
    },
    "feature_map_processor": {
        "select_index": [0, 2],
        "concat": True,
        "scale_factor": 2.0,
        "apply_relu": True,
    },
}


@pytest.mark.parametrize("name", registry("necks").names())
def test_neck_forward_backward_and_declared_shapes(name: str) -> None:
    neck = registry("necks").build(name, **NECK_KWARGS.get(name, {}))
    channels, strides = [8, 16, 32], [4, 8, 16]
    feats = tuple(
        torch.randn(2, c, 64 // s, 64 // s, requires_grad=True)
        for c, s in zip(channels, strides, strict=True)
    )
    out = neck(feats)
    out_ch, out_st = neck.out_spec(channels, strides)
    assert len(out) == len(out_ch) == len(out_st)
    for o, c, s in zip(out, out_ch, out_st, strict=True):
        assert o.shape[:2] == (2, c)
        if s:
            assert tuple(o.shape[2:]) == (int(64 // s), int(64 // s))
        else:
            assert o.ndim == 2
    _backward(out)


K = 5
FLIP = [0, 2, 1, 4, 3]


def _head_case(name: str) -> tuple[dict[str, Any], tuple[torch.Tensor, ...], dict[str, Any]]:
    """(kwargs, feats, batch targets) for a head on a 64×64 input (feature 8×8 at stride 8)."""
    feats = (torch.randn(2, 16, 8, 8, requires_grad=True),)
    w = torch.ones(2, K)
    if name == "heatmap_head":
        return (
            {
                "in_channels": 16,
                "out_channels": K,
                "deconv_out_channels": [8, 8],
                "deconv_kernel_sizes": [4, 3],
                "conv_out_channels": [8],
                "conv_kernel_sizes": [3],
            },
            feats,
            {"heatmaps": torch.rand(2, K, 32, 32), "keypoint_weights": w},
        )
    if name in ("rtmcc_head", "simcc_head"):
        extra = (
            {"gau_cfg": {"hidden_dims": 32, "s": 16}}
            if name == "rtmcc_head"
            else {"deconv_out_channels": [8], "deconv_kernel_sizes": [4]}
        )
        return (
            {
                "in_channels": 16,
                "out_channels": K,
                "input_size": (64, 64),
                "in_featuremap_size": (8, 8),
                **extra,
            },
            feats,
            {
                "keypoint_x_labels": torch.rand(2, K, 128),
                "keypoint_y_labels": torch.rand(2, K, 128),
                "keypoint_weights": w,
            },
        )
    if name in ("regression_head", "rle_head"):
        return (
            {"in_channels": 16, "num_joints": K, "input_size": (64, 64)},
            (torch.randn(2, 16, requires_grad=True),),
            {"keypoint_labels": torch.rand(2, K, 2), "keypoint_weights": w},
        )
    if name == "integral_regression_head":
        hm = torch.rand(2, K, 16, 16)
        return (
            {
                "in_channels": 16,
                "num_joints": K,
                "input_size": (64, 64),
                "deconv_out_channels": [8],
                "deconv_kernel_sizes": [4],
                "debias": True,
                "heatmap_loss": {"name": "dsnt"},
            },
            feats,
            {
                "keypoint_labels": torch.rand(2, K, 2),
                "keypoint_weights": w,
                "heatmaps": hm / hm.sum(dim=(2, 3), keepdim=True),
            },
        )
    pytest.skip(f"no small test case for third-party head {name!r}")


@pytest.mark.parametrize(
    "name", [n for n in registry("heads").names() if n not in LIFTING | set(OWN_SUITES)]
)
def test_head_forward_loss_backward_flip(name: str) -> None:
    kwargs, feats, batch = _head_case(name)
    head = registry("heads").build(name, **kwargs)
    out = head(feats)
    losses = head.loss(feats, batch)
    assert "loss" in losses and losses["loss"].ndim == 0
    assert torch.isfinite(losses["loss"])
    losses["loss"].backward()
    assert feats[0].grad is not None
    post = head.postprocess(out)
    back = head.flip_back(post, FLIP, TestConfig(shift_heatmap=False))
    merged = head.merge(post, back)
    first = merged[0] if isinstance(merged, tuple) else merged
    ref = post[0] if isinstance(post, tuple) else post
    assert first.shape == ref.shape


def test_heatmap_head_upsamples_by_declared_factor() -> None:
    head = registry("heads").build("heatmap_head", in_channels=16, out_channels=K)
    assert head.upsample_factor == 8
    assert head((torch.randn(1, 16, 8, 6),)).shape == (1, K, 64, 48)


def _loss_case(name: str) -> tuple[dict[str, Any], Any, Any]:
    if name in ("keypoint_mse", "heatmap_softmax_ce", "dsnt"):
        p = torch.rand(1, 3, 8, 8, requires_grad=True)
        t = torch.rand(1, 3, 8, 8)
        if name == "dsnt":
            p = torch.softmax(p.flatten(2), -1).reshape(1, 3, 8, 8)
            t = t / t.sum(dim=(2, 3), keepdim=True)
        return {"use_target_weight": True}, p, t
    if name in ("kl_discret", "softmax_ce"):
        return (
            {"use_target_weight": True},
            (torch.randn(1, 3, 16, requires_grad=True), torch.randn(1, 3, 20, requires_grad=True)),
            (torch.rand(1, 3, 16), torch.rand(1, 3, 20)),
        )
    if name == "smooth_l1":
        return (
            {"use_target_weight": True},
            torch.rand(1, 3, 2, requires_grad=True),
            torch.rand(1, 3, 2),
        )
    if name == "rle_loss":
        raw = torch.randn(1, 3, 4, requires_grad=True)
        pred = torch.cat((raw[..., :2], raw[..., 2:].sigmoid()), -1)
        return {"use_target_weight": True}, pred, torch.rand(1, 3, 2)
    if name == "combined":
        return (
            {
                "losses": [{"name": "smooth_l1"}, {"name": "smooth_l1", "use_target_weight": True}],
                "weights": [1.0, 0.5],
            },
            torch.rand(1, 3, 2, requires_grad=True),
            torch.rand(1, 3, 2),
        )
    if name in ("mpjpe", "n_mpjpe", "mse", "bone"):  # 3D coordinates (B, K, 3)
        kwargs = {"joint_parents": [0, 0, 1]} if name == "bone" else {}
        return (
            {**kwargs, "use_target_weight": True},
            torch.rand(1, 3, 3, requires_grad=True),
            torch.rand(1, 3, 3),
        )
    if name == "mpjpe_velocity":  # sequences (B, T, K, 3)
        return {}, torch.rand(1, 4, 3, 3, requires_grad=True), torch.rand(1, 4, 3, 3)
    if name == "soft_weight_smooth_l1":  # bottom-up losses: values in tests/bottomup
        return (
            {"use_target_weight": True, "supervise_empty": False},
            torch.rand(1, 3, 8, 8, requires_grad=True),
            torch.rand(1, 3, 8, 8),
        )
    if name == "focal_heatmap":
        target = torch.rand(1, 3, 8, 8) * 0.9
        target[..., 4, 4] = 1.0
        pred = torch.rand(1, 3, 8, 8).clamp(0.05, 0.95).requires_grad_()
        return {"use_target_weight": True}, pred, target
    if name == "oks_loss":  # one-stage losses: values in tests/models/test_one_stage_losses.py
        return (
            {"sigmas": [0.5, 0.5, 0.5]},
            torch.rand(1, 3, 2, requires_grad=True),
            torch.rand(1, 3, 2),
        )
    if name in ("varifocal_loss", "bce"):  # logits (N, C) against scores in [0, 1]
        return {"use_target_weight": True}, torch.randn(1, 3, requires_grad=True), torch.rand(1, 3)
    pytest.skip(f"no test case for third-party loss {name!r}")


@pytest.mark.parametrize("name", [n for n in registry("losses").names() if n not in OWN_SUITES])
def test_loss_is_finite_scalar_with_gradient(name: str) -> None:
    kwargs, pred, target = _loss_case(name)
    loss_fn = registry("losses").build(name, **kwargs)
    loss = loss_fn(pred, target, torch.tensor([[1.0, 0.0, 1.0]]))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()


def test_kl_discret_is_zero_for_matching_softmax_and_divides_by_k() -> None:
    loss_fn = registry("losses").build("kl_discret", beta=10.0, label_softmax=True, label_beta=10.0)
    labels = (torch.rand(2, 3, 8), torch.rand(2, 3, 6))
    assert loss_fn(labels, labels, torch.ones(2, 3)).abs() < 1e-6
    pred = (torch.zeros(2, 3, 8), torch.zeros(2, 3, 6))
    full = loss_fn(pred, labels, torch.ones(2, 3))
    one = loss_fn(pred, labels, torch.tensor([[1.0, 0, 0], [0, 0, 0]]))
    per_kpt = []
    for p, t in zip(pred, labels, strict=True):
        q = torch.softmax(t[0, 0] * 10, 0)
        per_kpt.append((q * (q.log() - torch.log_softmax(p[0, 0] * 10, 0))).mean())
    assert torch.allclose(one, sum(per_kpt) / 3)
    assert full > one


def test_heatmap_softmax_ce_is_not_minimised_by_zero_output() -> None:
    loss_fn = registry("losses").build("heatmap_softmax_ce")
    target = torch.zeros(1, 1, 8, 8)
    target[0, 0, 3, 4] = 1.0
    peaked = torch.zeros(1, 1, 8, 8)
    peaked[0, 0, 3, 4] = 10.0
    assert loss_fn(peaked, target) < loss_fn(torch.zeros(1, 1, 8, 8), target)


def test_softmax_ce_label_smoothing_bounds() -> None:
    with pytest.raises(Exception, match="label_smoothing"):
        registry("losses").build("softmax_ce", label_smoothing=1.5)
