"""MMPose 0.x state dicts of the bottom-up recipes (AE, CID, DEKR) load strictly, converted as
MMPose 1.3.2's load hooks convert them; MMPose 1.x state dicts pass untouched. No MMPose here:
the 1.x key lists are ``tests/data/mmpose-reference/{ae,cid,dekr}-hrnet-w32.json``.

The legacy layout, built here from a 1.x key list by :data:`LEGACY`: the longest matching 1.x
prefix is replaced by its 0.x name (the head was ``keypoint_head``; CID's ``iia_module`` and
``gfd_module`` parts sat directly in it under older names; DEKR's displacement branch was the
offset branch and its rescoring net sat beside the head). Values: DEKR's last displacement conv
(``displacement_conv_layers.3``, weight and bias) has the opposite sign (its vectors' start and
end swapped) and its heatmap conv (``heatmap_conv_layers.2``) has the root map as its first output
channel instead of its last.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
import torch

from posecli.api import build_model
from posecli.models.mmpose_compat import convert_mmpose_keys, is_legacy_mmpose
from posecli.models.weights import load_pretrained
from posecli.recipe import load_recipe

REF = Path(__file__).resolve().parents[1] / "data" / "mmpose-reference"
RECIPES = Path(__file__).resolve().parents[2] / "posecli" / "recipes" / "coco"
NAMES = ["ae-hrnet-w32", "cid-hrnet-w32", "dekr-hrnet-w32"]

#: MMPose 1.x prefix → MMPose 0.x prefix (the longest match applies)
LEGACY = {
    "head.": "keypoint_head.",
    "head.iia_module.keypoint_root_conv.": "keypoint_head.keypoint_center_conv.",
    "head.gfd_module.conv_down.": "keypoint_head.conv_down.",
    "head.gfd_module.channel_attention.": "keypoint_head.c_attn.",
    "head.gfd_module.spatial_attention.": "keypoint_head.s_attn.",
    "head.gfd_module.fuse_attention.": "keypoint_head.fuse_attn.",
    "head.gfd_module.heatmap_conv.": "keypoint_head.heatmap_conv.",
    "head.displacement_conv_layers.": "keypoint_head.offset_conv_layers.",
    "head.rescore_net.": "rescore_net.",
}
NEGATED = "head.displacement_conv_layers.3."
ROOT_LAST = "head.heatmap_conv_layers.2."


def _legacy_name(key: str) -> str:
    match = max((p for p in LEGACY if key.startswith(p)), key=len, default=None)
    return key if match is None else LEGACY[match] + key[len(match) :]


def _legacy_value(key: str, value: torch.Tensor) -> torch.Tensor:
    if key.startswith(NEGATED):
        return -value
    if key.startswith(ROOT_LAST):
        return torch.cat((value[-1:], value[:-1]))
    return value


@cache
def _model(name: str) -> torch.nn.Module:
    return build_model(load_recipe(RECIPES / f"{name}.toml"), pretrained=False)


@cache
def _current(name: str) -> dict[str, torch.Tensor]:
    """Distinct values for every key of MMPose 1.x's list (shapes from the reference file)."""
    shapes = json.loads((REF / f"{name}.json").read_text())
    gen = torch.Generator().manual_seed(0)
    own = _model(name).state_dict()
    return {
        k: torch.randn(shape, generator=gen)
        if own[k].is_floating_point()
        else torch.randint(0, 1000, shape, generator=gen, dtype=own[k].dtype)
        for k, shape in shapes.items()
    }


@pytest.mark.parametrize("name", NAMES)
def test_legacy_mmpose_checkpoint_loads_strictly_converted(name: str, tmp_path: Path) -> None:
    current = _current(name)
    legacy = {_legacy_name(k): _legacy_value(k, v) for k, v in current.items()}
    assert is_legacy_mmpose(legacy) and not any(k.startswith("head.") for k in legacy)
    path = tmp_path / f"{name}-legacy.pth"
    torch.save({"meta": {"mmpose_version": "0.29.0"}, "state_dict": legacy}, path)

    model = _model(name)
    missing, unexpected = load_pretrained(model, str(path), strict=True)
    assert missing == unexpected == []
    got = model.state_dict()
    assert sorted(got) == sorted(current)
    assert [k for k in got if not torch.equal(got[k], current[k])] == []
    if name == "dekr-hrnet-w32":  # the 0.x file holds the opposite sign and the root first
        for p in ("weight", "bias"):
            old = legacy[f"keypoint_head.offset_conv_layers.3.{p}"]
            assert torch.equal(got[NEGATED + p], -old) and old.abs().sum() > 0
            old = legacy[f"keypoint_head.heatmap_conv_layers.2.{p}"]
            assert torch.equal(got[ROOT_LAST + p][-1], old[0])
            assert torch.equal(got[ROOT_LAST + p][:-1], old[1:])


@pytest.mark.parametrize("name", NAMES)
def test_current_mmpose_state_dict_is_left_untouched(name: str) -> None:
    current = _current(name)
    assert not is_legacy_mmpose(current)
    converted = convert_mmpose_keys(current)
    assert list(converted) == list(current)
    assert all(converted[k] is v for k, v in current.items())


def test_legacy_heatmap_head_final_layer_splits_into_conv_layers() -> None:
    """A 0.x heatmap head kept its intermediate convs in ``final_layer`` (conv, BN, ReLU, ...,
    output conv): the last entry becomes ``final_layer``, the others ``conv_layers``."""
    t = [torch.full((2,), float(i)) for i in range(5)]
    converted = convert_mmpose_keys(
        {
            "backbone.conv1.weight": t[0],
            "keypoint_head.final_layer.0.weight": t[1],
            "keypoint_head.final_layer.1.running_mean": t[2],
            "keypoint_head.final_layer.3.weight": t[3],
            "keypoint_head.final_layer.3.bias": t[4],
        }
    )
    expected = [
        "backbone.conv1.weight",
        "head.conv_layers.0.weight",
        "head.conv_layers.1.running_mean",
        "head.final_layer.weight",
        "head.final_layer.bias",
    ]
    assert list(converted) == expected
    assert all(converted[k] is v for k, v in zip(expected, t, strict=True))
