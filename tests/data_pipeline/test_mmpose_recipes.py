"""The whole-body, face and hand recipes: MMPose 1.3.2's state-dict names and shapes, strict
loading of an MMPose-container checkpoint, and one training epoch on a fixture (slow)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from posecli.api import build_model
from posecli.cli.app import create_app
from posecli.models.mmpose_compat import load_mmpose_checkpoint, save_mmpose_checkpoint
from posecli.recipe import load_recipe, resolve_recipe_path

REPO = Path(__file__).resolve().parents[2]
#: MMPose 1.3.2's RTMPose-m state dict (COCO, 17 keypoints, 256×192): key → shape.
REFERENCE = REPO / "tests" / "models" / "data" / "mmpose-rtmpose-m.json"

#: recipe, keypoints, input (w, h): RTMCCHead shapes follow from them (SimCC ratio 2, stride 32).
RECIPES = [
    ("wholebody/rtmpose-m.toml", 133, (192, 256)),
    ("face/rtmpose-m.toml", 98, (256, 256)),
    ("hand/rtmpose-m.toml", 21, (256, 256)),
]

#: ``--set`` overrides turning each recipe into a seconds-long run on MMPose's fixtures.
FIXTURE_OVERRIDES: dict[str, list[str]] = {
    "wholebody/rtmpose-m.toml": [
        'data.train.dataset.ann_file="coco/test_coco_wholebody.json"',
        'data.train.dataset.images="coco"',
        'data.val.dataset={name="coco_wholebody",ann_file="coco/test_coco_wholebody.json",images="coco"}',
        'eval.metrics.0.ann_file="tests/data/mmpose-tests/coco/test_coco_wholebody.json"',
    ],
    "face/rtmpose-m.toml": [
        'data.train.dataset.ann_file="wflw/test_wflw.json"',
        'data.train.dataset.images="wflw"',
        'data.val.dataset.ann_file="wflw/test_wflw.json"',
        'data.val.dataset.images="wflw"',
    ],
    "hand/rtmpose-m.toml": [
        'data.train.dataset.ann_file="coco/test_coco_wholebody.json"',
        'data.train.dataset.images="coco"',
        'data.val.dataset.ann_file="coco/test_coco_wholebody.json"',
        'data.val.dataset.images="coco"',
    ],
}
FIXTURE_OVERRIDES["wholebody/rtmw-m.toml"] = [
    'data.train.dataset.datasets=[{name="coco_wholebody",ann_file="coco/test_coco_wholebody.json",'
    'images="coco"},{name="wflw",ann_file="wflw/test_wflw.json",images="wflw",mapping=[[0,23],'
    '[16,31],[32,39],[60,59],[72,68]]},{name="interhand2d",ann_file='
    '"interhand2.6m/test_interhand2.6m_data.json",images="interhand2.6m",mapping=[[20,112],'
    "[41,91]]}]",
    'data.val.dataset={name="coco_wholebody",ann_file="coco/test_coco_wholebody.json",images="coco"}',
    'eval.metrics.0.ann_file="tests/data/mmpose-tests/coco/test_coco_wholebody.json"',
    "model.neck.in_channels=[32,64,128]",
]
COMMON = [
    'data.root="tests/data/mmpose-tests"',
    "model.pretrained=[]",
    "model.backbone.deepen_factor=0.167",
    "model.backbone.widen_factor=0.125",
    "codec.input_size=[64,64]",
    "train.epochs=1",
    "train.pipeline_switch.epoch=1",
    "data.train.batch_size=4",
    "data.val.batch_size=4",
    "data.train.num_workers=0",
    "data.val.num_workers=0",
]


def expected_shapes(k: int, input_size: tuple[int, int]) -> dict[str, list[int]]:
    """MMPose's RTMPose-m state dict (COCO, 17 keypoints, 256×192) with the head resized."""
    shapes = json.loads(REFERENCE.read_text())
    w, h = input_size
    shapes["head.final_layer.weight"] = [k, 768, 7, 7]
    shapes["head.final_layer.bias"] = [k]
    shapes["head.mlp.1.weight"] = [256, (w // 32) * (h // 32)]
    shapes["head.cls_x.weight"] = [w * 2, 256]
    shapes["head.cls_y.weight"] = [h * 2, 256]
    return shapes


#: RTMW-m's head (K = 133, C = 768, 256×192): MMPose 1.3.2 ``RTMWHead`` names and shapes.
RTMW_HEAD = {
    "final_layer.conv.weight": [133, 768, 7, 7],
    "conv_dec.conv.weight": [192, 192, 7, 7],
    "final_layer2.conv.weight": [133, 576, 7, 7],
    "mlp.0.g": [1],
    "mlp.1.weight": [128, 48],
    "mlp2.0.g": [1],
    "mlp2.1.weight": [128, 192],
    "gau.gamma": [2, 128],
    "gau.beta": [2, 128],
    "gau.o.weight": [256, 512],
    "gau.uv.weight": [1152, 256],
    "gau.ln.g": [1],
    "gau.res_scale.scale": [256],
    "cls_x.weight": [384, 256],
    "cls_y.weight": [512, 256],
}
for _layer, _c in (("final_layer", 133), ("conv_dec", 192), ("final_layer2", 133)):
    RTMW_HEAD.update({f"{_layer}.bn.{b}": [_c] for b in ("weight", "bias", "running_mean")})
    RTMW_HEAD[f"{_layer}.bn.running_var"] = [_c]
    RTMW_HEAD[f"{_layer}.bn.num_batches_tracked"] = []

#: RTMW-m's ``CSPNeXtPAFPN`` (in 192/384/768, 2 CSPNeXt blocks per layer): a few shapes.
RTMW_NECK = {
    "reduce_layers.0.conv.weight": [384, 768, 1, 1],
    "reduce_layers.1.conv.weight": [192, 384, 1, 1],
    "top_down_blocks.0.main_conv.conv.weight": [192, 768, 1, 1],
    "top_down_blocks.0.blocks.1.conv2.depthwise_conv.conv.weight": [192, 1, 5, 5],
    "top_down_blocks.1.final_conv.conv.weight": [192, 192, 1, 1],
    "downsamples.0.conv.weight": [192, 192, 3, 3],
    "downsamples.1.conv.weight": [384, 384, 3, 3],
    "bottom_up_blocks.0.short_conv.conv.weight": [192, 384, 1, 1],
    "bottom_up_blocks.1.final_conv.conv.weight": [768, 768, 1, 1],
}


def _model(name: str) -> torch.nn.Module:
    return build_model(load_recipe(resolve_recipe_path(name)), pretrained=False)


@pytest.mark.parametrize(("name", "k", "size"), RECIPES)
def test_recipe_builds_mmpose_state_dict(name: str, k: int, size: tuple[int, int]) -> None:
    ours = {key: list(v.shape) for key, v in _model(name).state_dict().items()}
    assert ours == expected_shapes(k, size)


def test_rtmw_recipe_builds_mmpose_state_dict() -> None:
    ours = {key: list(v.shape) for key, v in _model("wholebody/rtmw-m.toml").state_dict().items()}
    ref = json.loads(REFERENCE.read_text())
    backbone = {k: v for k, v in ref.items() if k.startswith("backbone.")}
    assert {k: v for k, v in ours.items() if k.startswith("backbone.")} == backbone
    assert {k[5:]: v for k, v in ours.items() if k.startswith("head.")} == RTMW_HEAD
    neck = {k[5:]: v for k, v in ours.items() if k.startswith("neck.")}
    assert {k: neck[k] for k in RTMW_NECK} == RTMW_NECK
    # 2 reduce + 2 down ConvModules (6 entries each) and 4 CSP layers of 3 ConvModules and
    # 2 blocks of 3 ConvModules: 4·6 + 4·(3 + 2·3)·6 = 240 entries, no out_convs
    assert len(neck) == 240 and not any(k.startswith("out_convs") for k in neck)
    assert set(ours) == {k for k in ours if k.split(".")[0] in ("backbone", "neck", "head")}


def test_kl_discret_mask_weights_the_masked_keypoints() -> None:
    from posecli.plugins import registry

    full = registry("losses").build("kl_discret", beta=1.0, label_softmax=True)
    half = registry("losses").build(
        "kl_discret", beta=1.0, label_softmax=True, mask=[1], mask_weight=0.5
    )
    g = torch.Generator().manual_seed(0)
    pred = (torch.randn(2, 3, 8, generator=g), torch.randn(2, 3, 8, generator=g))
    tgt = (torch.rand(2, 3, 8, generator=g), torch.rand(2, 3, 8, generator=g))
    w = torch.ones(2, 3)
    w_half = w.clone()
    w_half[:, 1] = 0.5
    assert torch.allclose(half(pred, tgt, w), full(pred, tgt, w_half))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "k", "size"), [*RECIPES, ("wholebody/rtmw-m.toml", 133, (192, 256))]
)
def test_mmpose_container_loads_strictly(
    name: str, k: int, size: tuple[int, int], tmp_path: Path
) -> None:
    model = _model(name).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.uniform_(-0.05, 0.05)
    path = save_mmpose_checkpoint(tmp_path / "w.pth", model, meta={})
    other = load_mmpose_checkpoint(_model(name).eval(), path, strict=True)
    x = torch.rand(1, 3, size[1], size[0]) * 255
    with torch.no_grad():
        a, b = model(x), other(x)
    assert a[0].shape == (1, k, size[0] * 2) and torch.equal(a[0], b[0])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(FIXTURE_OVERRIDES))
def test_recipe_trains_one_epoch_on_a_fixture(name: str, tmp_path: Path) -> None:
    os.chdir(REPO)
    args = [a for s in COMMON + FIXTURE_OVERRIDES[name] for a in ("--set", s)]
    recipe = str(resolve_recipe_path(name))
    work = tmp_path / "run"
    result = CliRunner().invoke(
        create_app(), ["-q", "train", recipe, "--work-dir", str(work), *args]
    )
    assert result.exit_code == 0, result.output
    assert (work / "last.pt").is_file()
