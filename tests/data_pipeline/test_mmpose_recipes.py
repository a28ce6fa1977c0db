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


def _model(name: str) -> torch.nn.Module:
    return build_model(load_recipe(resolve_recipe_path(name)), pretrained=False)


@pytest.mark.parametrize(("name", "k", "size"), RECIPES)
def test_recipe_builds_mmpose_state_dict(name: str, k: int, size: tuple[int, int]) -> None:
    ours = {key: list(v.shape) for key, v in _model(name).state_dict().items()}
    assert ours == expected_shapes(k, size)


@pytest.mark.slow
@pytest.mark.parametrize(("name", "k", "size"), RECIPES)
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
