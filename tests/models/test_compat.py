"""State-dict names/shapes equal MMPose's; parameter counts; MMPose container round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from posecli.api import build_model
from posecli.models.mmpose_compat import (
    convert_mmpose_keys,
    load_mmpose_checkpoint,
    save_mmpose_checkpoint,
)
from posecli.recipe import load_recipe

from .conftest import COCO_META, RECIPES, reference_keys

CASES = [
    ("rtmpose-t.toml", "rtmpose-t", 3_337_007),
    ("rtmpose-s.toml", "rtmpose-s", 5_473_251),
    ("rtmpose-m.toml", "rtmpose-m", 13_587_611),
    ("rtmpose-l.toml", "rtmpose-l", 27_660_339),
    ("hrnet-w32.toml", "hrnet-w32", None),
    ("res50.toml", "res50", None),
]


def _build(recipe_file: str) -> torch.nn.Module:
    return build_model(load_recipe(RECIPES / recipe_file), COCO_META, pretrained=False)


@pytest.mark.parametrize(("recipe_file", "ref", "n_params"), CASES)
def test_state_dict_matches_mmpose(recipe_file: str, ref: str, n_params: int | None) -> None:
    model = _build(recipe_file)
    ours = {k: list(v.shape) for k, v in model.state_dict().items()}
    expected = reference_keys(ref)
    assert sorted(set(ours) - set(expected)) == []
    assert sorted(set(expected) - set(ours)) == []
    assert {k: v for k, v in ours.items() if v != expected[k]} == {}
    total = sum(p.numel() for p in model.parameters())
    assert total == sum(
        torch.Size(v).numel()
        for k, v in expected.items()
        if not k.endswith(("running_mean", "running_var", "num_batches_tracked"))
    )
    if n_params is not None:
        assert total == n_params
        assert round(total / 1e6, 2) == round(n_params / 1e6, 2)


def test_preprocessing_buffers_stay_out_of_state_dict() -> None:
    model = _build("rtmpose-t.toml")
    assert not any(k in ("mean", "std") for k in model.state_dict())
    assert model.mean.shape == (1, 3, 1, 1)


def test_mmpose_container_round_trip_is_strict_and_exact(tmp_path: Path) -> None:
    model = _build("rtmpose-t.toml").eval()
    with torch.no_grad():  # make BN statistics non-trivial so a mismatch would show
        for m in model.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    path = save_mmpose_checkpoint(
        tmp_path / "rtmpose-t.pth", model, meta={"dataset_meta": {"sigmas": [0.1] * 17}}
    )
    raw = torch.load(path, weights_only=True)
    assert set(raw) == {"meta", "state_dict"}
    other = _build("rtmpose-t.toml").eval()
    load_mmpose_checkpoint(other, path, strict=True)
    x = torch.rand(2, 3, 256, 192) * 255
    with torch.no_grad():
        a, b = model(x), other(x)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])


def test_numpy_metadata_and_legacy_keys_are_accepted(tmp_path: Path) -> None:
    import numpy as np

    model = _build("hrnet-w32.toml")
    state = {
        k.replace("head.", "keypoint_head.", 1) if k.startswith("head.") else k: v
        for k, v in model.state_dict().items()
    }
    path = tmp_path / "legacy.pth"
    torch.save({"meta": {"sigmas": np.ones(17, np.float32)}, "state_dict": state}, path)
    load_mmpose_checkpoint(_build("hrnet-w32.toml"), path, strict=True)
    assert "head.final_layer.weight" in convert_mmpose_keys(state)


def test_strict_load_names_missing_keys(tmp_path: Path) -> None:
    from posecli.errors import CheckpointError

    model = _build("rtmpose-t.toml")
    state = model.state_dict()
    state.pop("head.cls_x.weight")
    torch.save({"meta": {}, "state_dict": state}, tmp_path / "bad.pth")
    with pytest.raises(CheckpointError, match=r"head\.cls_x\.weight"):
        load_mmpose_checkpoint(model, tmp_path / "bad.pth", strict=True)
