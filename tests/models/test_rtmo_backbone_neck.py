"""RTMO's backbone and neck (CSPDarknet + HybridEncoder/ChannelMapper) and YOLOX's PAFPN.

Key names, shapes and parameter counts are those of MMDetection 3.x ``CSPDarknet`` /
``YOLOXPAFPN`` / ``ChannelMapper`` and MMPose 1.3.2 ``HybridEncoder`` built from the RTMO
configs ``configs/body_2d_keypoint/rtmo/coco/rtmo-{s,m,l}_*_coco-640x640.py``, so that the
published ``rtmo-s/m/l`` checkpoints load with ``strict=True`` into ``backbone.*``/``neck.*``.
"""

from __future__ import annotations

from typing import Any

import pytest
import torch
from torch import nn

from posecli.plugins import registry

#: The RTMO configs' backbone and neck: (deepen, widen, backbone widths, projector width).
RTMO = {
    "s": (0.33, 0.5, [128, 256, 512], 256),
    "m": (0.67, 0.75, [192, 384, 768], 384),
    "l": (1.0, 1.0, [256, 512, 1024], 512),
}


def _encoder_cfg() -> dict[str, Any]:
    return {
        "self_attn_cfg": {"embed_dims": 256, "num_heads": 8, "dropout": 0.0},
        "ffn_cfg": {
            "embed_dims": 256,
            "feedforward_channels": 1024,
            "ffn_drop": 0.0,
            "act_cfg": {"type": "GELU"},
        },
    }


def rtmo(size: str) -> tuple[nn.Module, nn.Module]:
    """Backbone and neck of RTMO-``size`` as its MMPose config builds them."""
    deepen, widen, chans, proj = RTMO[size]
    backbone = registry("backbones").build_from(
        {
            "name": "CSPDarknet",
            "deepen_factor": deepen,
            "widen_factor": widen,
            "out_indices": (2, 3, 4),
            "spp_kernal_sizes": (5, 9, 13),
        }
    )
    neck = registry("necks").build_from(
        {
            "name": "HybridEncoder",
            "in_channels": chans,
            "deepen_factor": deepen,
            "widen_factor": widen,
            "hidden_dim": 256,
            "output_indices": [1, 2],
            "encoder_cfg": _encoder_cfg(),
            "projector": {
                "type": "ChannelMapper",  # MMPose's spelling of the table's kind
                "in_channels": [256, 256],
                "kernel_size": 1,
                "out_channels": proj,
                "act_cfg": None,
                "norm_cfg": {"type": "BN"},
                "num_outs": 2,
            },
        }
    )
    return backbone, neck


def _shapes(backbone: nn.Module, neck: nn.Module) -> dict[str, tuple[int, ...]]:
    out = {f"backbone.{k}": tuple(v.shape) for k, v in backbone.state_dict().items()}
    out.update({f"neck.{k}": tuple(v.shape) for k, v in neck.state_dict().items()})
    return out


def _params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


#: RTMO-s: representative state-dict keys of MMPose's model and their shapes.
RTMO_S_KEYS: dict[str, tuple[int, ...]] = {
    # Focus stem: 3×3 ConvModule on the 4×3 space-to-depth channels
    "backbone.stem.conv.conv.weight": (32, 12, 3, 3),
    "backbone.stem.conv.bn.weight": (32,),
    "backbone.stem.conv.bn.running_var": (32,),
    "backbone.stem.conv.bn.num_batches_tracked": (),
    # stage: [stride-2 ConvModule, (SPP,) CSPLayer]
    "backbone.stage1.0.conv.weight": (64, 32, 3, 3),
    "backbone.stage1.1.main_conv.conv.weight": (32, 64, 1, 1),
    "backbone.stage1.1.short_conv.conv.weight": (32, 64, 1, 1),
    "backbone.stage1.1.final_conv.conv.weight": (64, 64, 1, 1),
    "backbone.stage1.1.blocks.0.conv1.conv.weight": (32, 32, 1, 1),
    "backbone.stage1.1.blocks.0.conv2.conv.weight": (32, 32, 3, 3),
    "backbone.stage2.1.blocks.2.conv2.conv.weight": (64, 64, 3, 3),  # 9 · 0.33 → 3 blocks
    "backbone.stage3.0.conv.weight": (256, 128, 3, 3),
    "backbone.stage3.1.blocks.2.conv1.bn.bias": (128,),
    "backbone.stage4.0.conv.weight": (512, 256, 3, 3),
    "backbone.stage4.1.conv1.conv.weight": (256, 512, 1, 1),  # SPP bottleneck
    "backbone.stage4.1.conv2.conv.weight": (512, 1024, 1, 1),
    "backbone.stage4.2.main_conv.conv.weight": (256, 512, 1, 1),
    "backbone.stage4.2.blocks.0.conv1.conv.weight": (256, 256, 1, 1),
    "backbone.stage4.2.blocks.0.conv2.conv.weight": (256, 256, 3, 3),
    "backbone.stage4.2.final_conv.conv.weight": (512, 512, 1, 1),
    # HybridEncoder
    "neck.input_proj.0.conv.weight": (256, 128, 1, 1),
    "neck.input_proj.0.bn.weight": (256,),
    "neck.input_proj.2.conv.weight": (256, 512, 1, 1),
    "neck.encoder.0.layers.0.self_attn.attn.in_proj_weight": (768, 256),
    "neck.encoder.0.layers.0.self_attn.attn.in_proj_bias": (768,),
    "neck.encoder.0.layers.0.self_attn.attn.out_proj.weight": (256, 256),
    "neck.encoder.0.layers.0.self_attn.attn.out_proj.bias": (256,),
    "neck.encoder.0.layers.0.ffn.layers.0.0.weight": (1024, 256),
    "neck.encoder.0.layers.0.ffn.layers.0.0.bias": (1024,),
    "neck.encoder.0.layers.0.ffn.layers.1.weight": (256, 1024),
    "neck.encoder.0.layers.0.ffn.layers.1.bias": (256,),
    "neck.encoder.0.layers.0.norms.0.weight": (256,),
    "neck.encoder.0.layers.0.norms.1.bias": (256,),
    "neck.sincos_pos_enc.dim_t": (64,),
    "neck.lateral_convs.0.conv.weight": (256, 256, 1, 1),
    "neck.lateral_convs.1.conv.weight": (256, 256, 1, 1),
    "neck.fpn_blocks.0.conv1.conv.weight": (128, 512, 1, 1),
    "neck.fpn_blocks.0.conv2.conv.weight": (128, 512, 1, 1),
    "neck.fpn_blocks.0.bottlenecks.0.branch_3x3.conv.weight": (128, 128, 3, 3),
    "neck.fpn_blocks.0.bottlenecks.0.branch_1x1.conv.weight": (128, 128, 1, 1),
    "neck.fpn_blocks.0.bottlenecks.0.branch_1x1.bn.running_mean": (128,),
    "neck.fpn_blocks.1.conv3.conv.weight": (256, 128, 1, 1),
    "neck.downsample_convs.0.conv.weight": (256, 256, 3, 3),
    "neck.downsample_convs.1.bn.weight": (256,),
    "neck.pan_blocks.1.conv3.conv.weight": (256, 128, 1, 1),
    "neck.pan_blocks.1.bottlenecks.0.branch_3x3.bn.weight": (128,),
    "neck.projector.convs.0.conv.weight": (256, 256, 1, 1),
    "neck.projector.convs.0.bn.weight": (256,),
    "neck.projector.convs.1.bn.running_var": (256,),
}
#: Keys MMPose's model does not have (none of these modules exist there).
RTMO_S_ABSENT = (
    "backbone.stage1.1.attention.fc.weight",  # MMDet's CSPLayer: no channel attention
    "backbone.stage2.1.blocks.3.conv1.conv.weight",  # only 3 blocks
    "neck.fpn_blocks.0.bottlenecks.1.branch_3x3.conv.weight",  # round(3 · 0.33) = 1 block
    "neck.encoder.1.layers.0.norms.0.weight",  # one encoder (use_encoder_idx = [2])
    "neck.encoder.0.layers.1.norms.0.weight",  # one layer per encoder
    "neck.projector.convs.0.conv.bias",  # BN: no conv bias
    "neck.projector.extra_convs.0.conv.weight",  # num_outs = len(in_channels)
)
#: (backbone, neck) parameter counts (BN buffers excluded), RTMO-s/m/l.
RTMO_PARAMS = {
    "s": (4_212_672, 3_782_400),
    "m": (12_352_992, 6_589_696),
    "l": (27_075_968, 11_756_288),
}


def test_rtmo_s_state_dict_keys_and_shapes() -> None:
    shapes = _shapes(*rtmo("s"))
    got = {k: shapes.get(k) for k in RTMO_S_KEYS}
    assert got == RTMO_S_KEYS
    assert not [k for k in RTMO_S_ABSENT if k in shapes]
    assert len(shapes) == 397
    assert (
        sum(k.endswith("num_batches_tracked") for k in shapes) == 64
    )  # ConvModules: 35 backbone + 29 neck


@pytest.mark.parametrize("size", ["s", "m", "l"])
def test_rtmo_parameter_counts_and_widths(size: str) -> None:
    backbone, neck = rtmo(size)
    assert (_params(backbone), _params(neck)) == RTMO_PARAMS[size]
    deepen, widen, chans, proj = RTMO[size]
    assert backbone.out_channels == chans and backbone.strides == [8, 16, 32]
    assert neck.out_spec(backbone.out_channels, backbone.strides) == ([proj, proj], [16, 32])
    shapes = _shapes(backbone, neck)
    assert shapes["neck.projector.convs.1.conv.weight"] == (proj, 256, 1, 1)
    blocks = max(round(9 * deepen), 1)
    assert f"backbone.stage3.1.blocks.{blocks - 1}.conv1.conv.weight" in shapes
    assert f"backbone.stage3.1.blocks.{blocks}.conv1.conv.weight" not in shapes
    rep = round(3 * deepen)
    assert f"neck.pan_blocks.0.bottlenecks.{rep - 1}.branch_3x3.conv.weight" in shapes
    assert f"neck.pan_blocks.0.bottlenecks.{rep}.branch_3x3.conv.weight" not in shapes
    has_conv3 = int(256 * widen) != 256  # RTMO-l: hidden = out, conv3 is an identity
    assert ("neck.fpn_blocks.0.conv3.conv.weight" in shapes) == has_conv3


@pytest.mark.parametrize("side", [640, 320])
def test_rtmo_s_output_shapes(side: str) -> None:
    backbone, neck = rtmo("s")
    backbone.eval()
    neck.eval()
    with torch.no_grad():
        feats = backbone(torch.rand(1, 3, side, side) * 255)
        outs = neck(feats)
    assert [tuple(f.shape) for f in feats] == [
        (1, 128, side // 8, side // 8),
        (1, 256, side // 16, side // 16),
        (1, 512, side // 32, side // 32),
    ]
    assert [tuple(o.shape) for o in outs] == [
        (1, 256, side // 16, side // 16),
        (1, 256, side // 32, side // 32),
    ]
    assert all(torch.isfinite(o).all() for o in outs)


def test_rtmo_s_state_dict_round_trips_strictly() -> None:
    backbone, neck = rtmo("s")
    other_backbone, other_neck = rtmo("s")
    other_backbone.load_state_dict(backbone.state_dict(), strict=True)
    other_neck.load_state_dict(neck.state_dict(), strict=True)
    x = torch.rand(1, 3, 128, 128)
    for m in (backbone, neck, other_backbone, other_neck):
        m.eval()
    with torch.no_grad():
        a, b = neck(backbone(x)), other_neck(other_backbone(x))
    assert all(torch.equal(u, v) for u, v in zip(a, b, strict=True))


def test_csp_darknet_batchnorm_and_stem_follow_mmdet() -> None:
    backbone = registry("backbones").build("csp_darknet", deepen_factor=0.33, widen_factor=0.5)
    bn = backbone.stem.conv.bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.03)
    assert isinstance(backbone.stem.conv.act, nn.SiLU)
    # Focus: channels ordered top-left, bottom-left, top-right, bottom-right
    conv = backbone.stem.conv.conv
    with torch.no_grad():
        conv.weight.zero_()
        conv.weight[0, 3, 1, 1] = 1.0  # the bottom-left pixel's first colour channel
    x = torch.arange(16, dtype=torch.float32).reshape(1, 1, 4, 4).repeat(1, 3, 1, 1)
    focused = torch.cat(
        (x[..., ::2, ::2], x[..., 1::2, ::2], x[..., ::2, 1::2], x[..., 1::2, 1::2]), 1
    )
    assert torch.equal(conv(focused)[0, 0], x[0, 0, 1::2, ::2])


def test_csp_darknet_frozen_stages_depthwise_and_p6() -> None:
    backbone = registry("backbones").build(
        "csp_darknet", deepen_factor=0.33, widen_factor=0.25, frozen_stages=1
    )
    backbone.train()
    assert not any(p.requires_grad for p in backbone.stem.parameters())
    assert not any(p.requires_grad for p in backbone.stage1.parameters())
    assert all(p.requires_grad for p in backbone.stage2.parameters())
    dw = registry("backbones").build(
        "csp_darknet", deepen_factor=0.33, widen_factor=0.25, use_depthwise=True
    )
    keys = dw.state_dict()
    assert keys["stage1.0.depthwise_conv.conv.weight"].shape == (16, 1, 3, 3)
    assert keys["stage1.1.blocks.0.conv2.pointwise_conv.conv.weight"].shape == (16, 16, 1, 1)
    assert "stage1.1.blocks.0.conv1.conv.weight" in keys  # the 1×1 stays a plain ConvModule
    p6 = registry("backbones").build(
        "csp_darknet", arch="P6", deepen_factor=0.33, widen_factor=0.25, out_indices=(3, 4, 5)
    )
    assert p6.out_channels == [128, 192, 256] and p6.strides == [16, 32, 64]
    feats = p6(torch.rand(1, 3, 128, 128))
    assert [tuple(f.shape[1:]) for f in feats] == [(128, 8, 8), (192, 4, 4), (256, 2, 2)]
    with pytest.raises(Exception, match="frozen_stages"):
        registry("backbones").build("csp_darknet", frozen_stages=5)


def test_hybrid_encoder_positional_encoding_is_mmposes() -> None:
    """MMPose: ``stack((enc(y), enc(x)), -1).transpose(-1, -2).reshape(1, h·w, -1)``, with
    ``enc(p) = cat(cos(p / dim_t), sin(p / dim_t))``, ``dim_t = T ** (arange(C/2) / (C/2))``."""
    _, neck = rtmo("s")
    h, w = 3, 5
    dim_t = 10000.0 ** (torch.arange(64, dtype=torch.float32) / 64)
    gy, gx = torch.meshgrid(torch.arange(h * 1.0), torch.arange(w * 1.0), indexing="ij")
    fy, fx = gy.reshape(-1, 1) / dim_t, gx.reshape(-1, 1) / dim_t
    enc = torch.stack(
        (torch.cat((fy.cos(), fy.sin()), -1), torch.cat((fx.cos(), fx.sin()), -1)), -1
    )
    expected = enc.transpose(-1, -2).reshape(1, h * w, -1)
    torch.testing.assert_close(neck.sincos_pos_enc(h, w), expected)
    assert torch.equal(neck.sincos_pos_enc.dim_t, dim_t)


def test_hybrid_encoder_without_projector_and_learnable_encoding() -> None:
    neck = registry("necks").build(
        "hybrid_encoder",
        in_channels=[8, 16, 32],
        hidden_dim=16,
        encoder_cfg={
            "self_attn_cfg": {"embed_dims": 16, "num_heads": 2},
            "ffn_cfg": {"embed_dims": 16, "feedforward_channels": 32},
        },
        spe_learnable=True,
    )
    assert "sincos_pos_enc.dim_t" in dict(neck.named_parameters())
    assert isinstance(neck.encoder[0].layers[0].ffn.layers[0][1], nn.ReLU)  # MMCV FFN default
    feats = [torch.rand(1, c, 32 // 2**i, 32 // 2**i) for i, c in enumerate([8, 16, 32])]
    outs = neck(feats)
    assert neck.out_spec([8, 16, 32], [8, 16, 32]) == ([16, 16, 16], [8, 16, 32])
    assert [tuple(o.shape) for o in outs] == [(1, 16, 32, 32), (1, 16, 16, 16), (1, 16, 8, 8)]


def test_channel_mapper_follows_mmdet_defaults_and_extra_levels() -> None:
    mapper = registry("necks").build(
        "channel_mapper", in_channels=[4, 8], out_channels=6, num_outs=4
    )
    keys = {k: tuple(v.shape) for k, v in mapper.state_dict().items()}
    # MMDet defaults: 3×3, no norm (so biased convs), ReLU; extra levels: stride-2 3×3 convs
    assert keys == {
        "convs.0.conv.weight": (6, 4, 3, 3),
        "convs.0.conv.bias": (6,),
        "convs.1.conv.weight": (6, 8, 3, 3),
        "convs.1.conv.bias": (6,),
        "extra_convs.0.conv.weight": (6, 8, 3, 3),
        "extra_convs.0.conv.bias": (6,),
        "extra_convs.1.conv.weight": (6, 6, 3, 3),
        "extra_convs.1.conv.bias": (6,),
    }
    assert isinstance(mapper.convs[0].act, nn.ReLU)
    outs = mapper([torch.rand(1, 4, 16, 16), torch.rand(1, 8, 8, 8)])
    assert [tuple(o.shape) for o in outs] == [
        (1, 6, 16, 16),
        (1, 6, 8, 8),
        (1, 6, 4, 4),
        (1, 6, 2, 2),
    ]
    assert mapper.out_spec([4, 8], [8, 16]) == ([6] * 4, [8, 16, 32, 64])


#: YOLOX-s neck (MMDet yolox_s_8xb8-300e_coco: in 128/256/512, out 128, 1 CSP block).
YOLOX_S_NECK_KEYS: dict[str, tuple[int, ...]] = {
    "reduce_layers.0.conv.weight": (256, 512, 1, 1),
    "reduce_layers.1.conv.weight": (128, 256, 1, 1),
    "top_down_blocks.0.main_conv.conv.weight": (128, 512, 1, 1),
    "top_down_blocks.0.short_conv.conv.weight": (128, 512, 1, 1),
    "top_down_blocks.0.blocks.0.conv1.conv.weight": (128, 128, 1, 1),
    "top_down_blocks.0.blocks.0.conv2.conv.weight": (128, 128, 3, 3),
    "top_down_blocks.0.final_conv.conv.weight": (256, 256, 1, 1),
    "top_down_blocks.1.final_conv.conv.weight": (128, 128, 1, 1),
    "downsamples.0.conv.weight": (128, 128, 3, 3),
    "downsamples.1.conv.weight": (256, 256, 3, 3),
    "bottom_up_blocks.0.main_conv.conv.weight": (128, 256, 1, 1),
    "bottom_up_blocks.1.final_conv.conv.weight": (512, 512, 1, 1),
    "out_convs.0.conv.weight": (128, 128, 1, 1),
    "out_convs.2.conv.weight": (128, 512, 1, 1),
    "out_convs.2.bn.running_mean": (128,),
}


def test_yolox_pafpn_keys_shapes_and_outputs() -> None:
    neck = registry("necks").build(
        "YOLOXPAFPN", in_channels=[128, 256, 512], out_channels=128, num_csp_blocks=1
    )
    shapes = {k: tuple(v.shape) for k, v in neck.state_dict().items()}
    assert {k: shapes.get(k) for k in YOLOX_S_NECK_KEYS} == YOLOX_S_NECK_KEYS
    assert "top_down_blocks.0.blocks.1.conv1.conv.weight" not in shapes
    assert _params(neck) == 2_950_144
    bn = neck.out_convs[0].bn
    assert (bn.eps, bn.momentum) == (1e-3, 0.03)
    assert neck.out_spec([128, 256, 512], [8, 16, 32]) == ([128] * 3, [8, 16, 32])
    backbone = registry("backbones").build("csp_darknet", deepen_factor=0.33, widen_factor=0.5)
    backbone.eval()
    neck.eval()
    for side in (640, 320):
        with torch.no_grad():
            outs = neck(backbone(torch.rand(1, 3, side, side)))
        assert [tuple(o.shape) for o in outs] == [
            (1, 128, side // s, side // s) for s in (8, 16, 32)
        ]
