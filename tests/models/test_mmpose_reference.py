"""posecli's recipe models against MMPose 1.3.2, without MMPose: the reference files in
``tests/data/mmpose-reference`` (written by its ``make_reference.py`` with MMPose as the oracle).

Per recipe: the state-dict keys and shapes equal MMPose's (after posecli's MMPose key
conversion, which drops loss buffers), the deterministic fill loads with ``strict=True`` and the
raw tensor-mode outputs equal MMPose's on the same input.
"""

from __future__ import annotations

import importlib.util
import json
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest
import torch

from posecli.api import build_model
from posecli.models.mmpose_compat import convert_mmpose_keys
from posecli.models.weights import load_weights_into
from posecli.recipe import load_recipe

REF = Path(__file__).resolve().parents[1] / "data" / "mmpose-reference"
RECIPES = Path(__file__).resolve().parents[2] / "posecli" / "recipes"
#: outputs agree to this fraction of their largest magnitude (a few times the float32 rounding
#: measured against MMPose; a layer off by a LayerNorm epsilon shows as ~1e-4 already)
RTOL_OF_MAX = 1e-5
#: per output family where the rounding is larger (RTMPose's SimCC logits: ~2e-5)
RTOL_OF_MAX_FAMILY = {"simcc": 1e-4}


@cache
def _generator() -> ModuleType:
    """``make_reference.py``: its case table and :func:`deterministic_fill` (it imports
    MMPose only inside the functions that need it)."""
    spec = importlib.util.spec_from_file_location(
        "mmpose_make_reference", REF / "make_reference.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


NAMES = list(_generator().CASES)


def _build(name: str) -> torch.nn.Module:
    recipe = _generator().CASES[name][1]
    return build_model(load_recipe(RECIPES / recipe), pretrained=False)


def _reference_shapes(name: str) -> dict[str, list[int]]:
    return json.loads((REF / f"{name}.json").read_text())


def _load_fill(model: torch.nn.Module, shapes: dict[str, list[int]], gain: float) -> None:
    """The deterministic values of MMPose's key list, loaded as an MMPose checkpoint would be;
    the kept entries (BatchNorm counters, constants) take the model's own values."""
    fill = _generator().deterministic_fill(shapes, gain)
    own = model.state_dict()
    state = {
        k: torch.from_numpy(fill[k]) if k in fill else own.get(k, torch.zeros(shapes[k]))
        for k in shapes
    }
    load_weights_into(model, convert_mmpose_keys(state), True, "deterministic fill")


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().float().cpu().numpy()


@torch.no_grad()
def _outputs(
    model: Any, family: str, x: np.ndarray, ref: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """posecli's outputs under the reference's names (see ``make_reference.mmpose_outputs``)."""
    inputs = torch.from_numpy(x)
    if family in ("tcn", "motionbert"):
        return {"pose": _np(model(inputs))}
    if family == "simcc":
        px, py = model(inputs)
        s = int(ref["step"])
        return {"simcc_x": _np(px[:, ::s]), "simcc_y": _np(py[:, ::s])}
    if family == "maps":
        a, b = model(inputs)
        return {"out0": _np(a), "out1": _np(b)}
    if family == "cid":
        scores, coords, heatmaps, _ = model.head.instance_maps(model.extract_feats(inputs))
        n = len(ref["root_scores"])  # MMPose keeps the roots above its score threshold
        m = len(ref["instance_heatmaps"])
        return {
            "iia": _np(model(inputs)),
            "root_scores": _np(scores[0, :n]),
            "root_coords": coords[0, :n].numpy(),
            "instance_heatmaps": _np(heatmaps[0, :m]),
        }
    if family == "rtmo":  # candidates back in anchor order; the head module per level
        feats = model.extract_feats(inputs)
        scores, bboxes, keypoints, kpt_vis, idx = model.head(feats)  # = model(inputs)
        order = idx[0].argsort()
        out = {
            "scores": _np(scores[0][order]),
            "bboxes": _np(bboxes[0][order]),
            "keypoints": _np(keypoints[0][order]),
            "keypoint_scores": _np(kpt_vis[0][order]),
        }
        cls, box, _, vis, _ = model.head.head_module(feats)
        for i, (c, b, v) in enumerate(zip(cls, box, vis, strict=True)):
            out[f"cls{i}"], out[f"bbox{i}"], out[f"vis{i}"] = _np(c), _np(b), _np(v)
        return out
    raise AssertionError(f"unknown output family {family!r}")


@pytest.mark.parametrize("name", NAMES)
def test_recipe_model_matches_mmpose(name: str) -> None:
    shapes = _reference_shapes(name)
    model = _build(name)
    own = {k: list(v.shape) for k, v in model.state_dict().items()}
    converted = convert_mmpose_keys({k: torch.empty(0) for k in shapes})
    assert set(shapes) - set(converted) <= {"head.loss_oks.sigmas"}
    assert own == {k: shapes[k] for k in converted}

    _, _, family, gain = _generator().CASES[name]
    with np.load(REF / f"{name}-forward.npz") as npz:
        ref = {k: npz[k] for k in npz.files}
    assert float(ref["fill_gain"]) == pytest.approx(gain)
    _load_fill(model, shapes, gain)
    model.eval()
    got = _outputs(model, family, ref["input"], ref)
    names = [k for k in ref if k not in ("input", "fill_gain", "step")]
    assert sorted(got) == sorted(names)
    for key in names:
        want = ref[key]
        if want.dtype.kind in "iu":
            np.testing.assert_array_equal(got[key], want, err_msg=f"{name}: {key}")
            continue
        rtol = RTOL_OF_MAX_FAMILY.get(family, RTOL_OF_MAX)
        atol = rtol * max(1.0, float(np.abs(want).max()))
        np.testing.assert_allclose(got[key], want, rtol=0, atol=atol, err_msg=f"{name}: {key}")
