"""Lifting models: MMPose state-dict layout of the four recipes, backbones, heads, losses."""

from __future__ import annotations

import pytest
import torch

from posecli.api import build_model
from posecli.plugins import registry
from posecli.recipe import load_recipe
from tests.lifting.conftest import RECIPES

#: MMPose 1.3.2 facts: receptive fields and the published parameter counts (VideoPose3D paper:
#: 8.56 M for 27 frames, 16.95 M for 243; MotionBERT 42.3 M + head).
LAYOUT = {
    "simplebaseline3d": {
        "keys": 32,
        "shapes": {
            "backbone.expand_conv.conv.weight": (1024, 34, 1),
            "backbone.tcn_blocks.1.conv2.0.bn.running_var": (1024,),
            "head.conv.weight": (48, 1024, 1),
            "head.conv.bias": (48,),
        },
    },
    "videopose3d-27": {
        "keys": 32,
        "params_m": 8.56,
        "shapes": {
            "backbone.expand_conv.conv.weight": (1024, 34, 3),
            "backbone.expand_conv.bn.num_batches_tracked": (),
            "backbone.tcn_blocks.1.conv1.0.conv.weight": (1024, 1024, 3),
            "backbone.tcn_blocks.1.conv2.0.conv.weight": (1024, 1024, 1),
            "head.conv.weight": (51, 1024, 1),
        },
    },
    "videopose3d-243": {
        "keys": 56,
        "params_m": 16.95,
        "shapes": {
            "backbone.tcn_blocks.3.conv1.0.conv.weight": (1024, 1024, 3),
            "backbone.tcn_blocks.3.conv2.0.bn.weight": (1024,),
            "head.conv.bias": (51,),
        },
    },
    "motionbert": {
        "keys": 260,
        "shapes": {
            "backbone.joints_embed.weight": (512, 3),
            "backbone.temp_embed": (1, 243, 1, 512),
            "backbone.spat_embed": (1, 17, 512),
            "backbone.blocks_st.4.attn_s.qkv.weight": (1536, 512),
            "backbone.blocks_ts.0.attn_t.proj.bias": (512,),
            "backbone.blocks_ts.2.mlp_t.2.weight": (512, 1024),
            "backbone.attn_regress.4.weight": (2, 1024),
            "backbone.norm.weight": (512,),
            "head.pre_logits.fc.weight": (512, 512),
            "head.fc.weight": (3, 512),
        },
    },
}


@pytest.mark.parametrize("name", sorted(LAYOUT))
def test_recipe_builds_with_mmpose_state_dict_layout(name: str) -> None:
    recipe = load_recipe(RECIPES / f"{name}.toml")
    model = build_model(recipe, pretrained=False)
    state = model.state_dict()
    spec = LAYOUT[name]
    assert len(state) == spec["keys"]
    for key, shape in spec["shapes"].items():
        assert tuple(state[key].shape) == shape, key
    assert all(k.startswith(("backbone.", "head.")) for k in state)
    if "params_m" in spec:
        n = sum(p.numel() for p in model.parameters()) / 1e6
        assert abs(n - spec["params_m"]) < 0.01
    # a state dict saved from the layout loads back strictly into a fresh build
    fresh = build_model(recipe, pretrained=False)
    fresh.load_state_dict(state, strict=True)


def test_strided_and_dilated_tcn_agree_on_the_same_weights() -> None:
    kw = {"in_channels": 34, "stem_channels": 32, "num_blocks": 2, "kernel_sizes": (3, 3, 3)}
    strided = registry("backbones").build("tcn", use_stride_conv=True, **kw).eval()
    dilated = registry("backbones").build("tcn", **kw).eval()
    dilated.load_state_dict(strided.state_dict(), strict=True)
    x = torch.randn(3, 34, 27)
    assert strided(x)[-1].shape == (3, 32, 1)
    torch.testing.assert_close(strided(x)[-1], dilated(x)[-1], rtol=1e-5, atol=1e-5)


def test_tcn_sliding_output_matches_per_window_output_and_causal_alignment() -> None:
    kw = {"in_channels": 34, "stem_channels": 16, "num_blocks": 1, "kernel_sizes": (3, 3)}
    for causal in (False, True):
        tcn = registry("backbones").build("tcn", causal=causal, **kw).eval()
        x = torch.randn(1, 34, 20)
        full = tcn(x)[-1]  # one output per 9-frame window
        assert full.shape[-1] == 20 - 9 + 1
        win = tcn(x[..., 5:14])[-1]
        torch.testing.assert_close(full[..., 5:6], win)
    with pytest.raises(ValueError, match="at least 9 frames"):
        tcn(torch.randn(1, 34, 8))


def test_dstformer_attention_is_per_frame_spatially_and_per_joint_temporally() -> None:
    model = (
        registry("backbones")
        .build(
            "dstformer",
            in_channels=3,
            feat_size=32,
            depth=1,
            num_heads=4,
            seq_len=8,
            att_fuse=False,
        )
        .eval()
    )
    x = torch.randn(2, 8, 17, 3)
    (out,) = model(x)
    assert out.shape == (2, 8, 17, 32)
    y = x.clone()
    y[1] = torch.randn(8, 17, 3)  # another sample: no effect on sample 0
    torch.testing.assert_close(model(y)[0][0], out[0])


@pytest.mark.parametrize(
    ("name", "kwargs", "feats", "batch"),
    [
        (
            "temporal_regression_head",
            {"in_channels": 8, "num_joints": 17},
            (torch.randn(2, 8, 1, requires_grad=True),),
            {
                "lifting_target_label": torch.randn(2, 17, 3),
                "lifting_target_weights": torch.ones(2, 17),
            },
        ),
        (
            "trajectory_regression_head",
            {"in_channels": 8},
            (torch.randn(2, 8, 1, requires_grad=True),),
            {"target_root": torch.randn(2, 3), "trajectory_weights": torch.ones(2, 17)},
        ),
        (
            "motion_regression_head",
            {"in_channels": 8, "embedding_size": 16, "loss": {"name": "mpjpe_velocity"}},
            (torch.randn(2, 5, 17, 8, requires_grad=True),),
            {
                "lifting_target_label": torch.randn(2, 5, 17, 3),
                "lifting_target_weights": torch.ones(2, 5, 17),
            },
        ),
    ],
)
def test_lifting_heads_loss_and_backward(name, kwargs, feats, batch) -> None:
    head = registry("heads").build(name, **kwargs)
    losses = head.loss(feats, batch)
    loss = next(v for k, v in losses.items() if k.startswith("loss"))
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert feats[0].grad is not None and torch.isfinite(feats[0].grad).all()


def test_lifting_losses_on_hand_computed_cases() -> None:
    reg = registry("losses")
    target = torch.zeros(1, 2, 3)
    pred = torch.tensor([[[3.0, 4.0, 0.0], [0.0, 0.0, 1.0]]])
    assert reg.build("mpjpe")(pred, target).item() == pytest.approx(3.0)  # (5 + 1) / 2
    w = torch.tensor([[1.0, 0.0]])
    assert reg.build("mpjpe", use_target_weight=True)(pred, target, w).item() == pytest.approx(2.5)
    # N-MPJPE: a prediction at twice the scale has no error after alignment
    g = torch.randn(2, 17, 3)
    assert reg.build("n_mpjpe")(2 * g, g).item() == pytest.approx(0.0, abs=1e-6)
    # velocity term: a constant offset over time has zero velocity error
    seq = torch.randn(1, 4, 17, 3)
    full = reg.build("mpjpe_velocity")(seq + 1.0, seq).item()
    plain = reg.build("mpjpe")(seq + 1.0, seq).item()
    nm = reg.build("n_mpjpe")(seq + 1.0, seq).item()
    assert full == pytest.approx(plain + 0.5 * nm, rel=1e-5)
    # bone loss: bones of (0,0,0)→(1,0,0) vs (0,0,0)→(3,0,0) differ by 2
    bone = reg.build("bone", joint_parents=[0, 0])
    a = torch.tensor([[[0.0, 0, 0], [1.0, 0, 0]]])
    b = torch.tensor([[[0.0, 0, 0], [3.0, 0, 0]]])
    assert bone(a, b).item() == pytest.approx(2.0)
    assert reg.build("mse")(a, b).item() == pytest.approx(4.0 / 6)
    for name in ("mpjpe", "n_mpjpe", "mpjpe_velocity", "bone", "mse"):
        assert reg.get(name).aliases  # MMPose class names


def test_flip_test_is_equivariant_under_the_flip() -> None:
    """With flip test, predicting the mirrored input gives the mirrored prediction."""
    recipe = load_recipe(
        RECIPES / "videopose3d-27.toml",
        [
            "model.backbone.stem_channels=16",
            "model.head.in_channels=16",
            "model.test.flip_test=true",
        ],
    )
    model = build_model(recipe, pretrained=False).eval()
    fi = model.flip_indices
    x = torch.randn(2, 34, 27)
    pose, _ = model.predict_outputs(x, fi)
    mirrored, _ = model.predict_outputs(model._flip_inputs(x, fi), fi)
    torch.testing.assert_close(mirrored, model._flip_outputs(pose, fi), rtol=1e-4, atol=1e-5)
    plain, _ = model.predict_outputs(x, None)
    assert not torch.allclose(plain, pose)


def test_mmpose_0x_lifter_checkpoint_loads_strictly(tmp_path) -> None:
    """MMPose's published TCN lifters are 0.x files (``keypoint_head.*``): renamed on load."""
    from posecli.models.mmpose_compat import load_mmpose_checkpoint

    recipe = load_recipe(
        RECIPES / "videopose3d-27.toml",
        ["model.backbone.stem_channels=16", "model.head.in_channels=16"],
    )
    src = build_model(recipe, pretrained=False).eval()
    legacy = {
        k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k: v
        for k, v in src.state_dict().items()
    }
    path = tmp_path / "videopose_0x.pth"
    torch.save({"state_dict": legacy, "meta": {"mmpose_version": "0.x"}}, path)
    dst = build_model(recipe, pretrained=False).eval()
    load_mmpose_checkpoint(dst, path, strict=True)
    x = torch.randn(2, 34, 27)
    torch.testing.assert_close(dst(x), src(x))


@pytest.mark.parametrize(
    ("name", "dataset"),
    [
        ("simplebaseline3d", {"seq_len": 1}),
        ("videopose3d-27", {"seq_len": 27, "causal": False, "pad_video_seq": True}),
        ("motionbert", {"multiple_target": 1}),
    ],
)
def test_decoding_the_encoded_target_gives_the_ground_truth(name: str, dataset: dict) -> None:
    """A perfect network output (the codec's own label) decodes to the dataset's 3D target."""
    import numpy as np

    from posecli.data.collate import collate
    from posecli.data.transforms.target import GenerateTarget
    from tests.lifting.conftest import H36M

    recipe = load_recipe(RECIPES / f"{name}.toml")
    model = build_model(recipe, pretrained=False)
    ds = registry("datasets").build(
        "h36m",
        ann_file="test_h36m_body3d.npz",
        camera_param_file="cameras.pkl",
        root=str(H36M),
        **dataset,
    )
    gen = GenerateTarget(encoder=recipe.codec.as_dict())
    batch = collate([gen(ds[i], np.random.default_rng(0)) for i in range(4)])
    label = torch.as_tensor(batch["lifting_target_label"])
    kp = model.decode(
        label, batch["target_root"].numpy(), batch.get("camera_wh"), batch.get("factor")
    )
    np.testing.assert_allclose(kp, batch["lifting_target"].numpy(), atol=1e-5)
