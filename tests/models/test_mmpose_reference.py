"""posecli's recipe models against MMPose 1.3.2, without MMPose: the reference files in
``tests/data/mmpose-reference`` (written by its ``make_reference.py`` with MMPose as the oracle).

Per recipe: the state-dict keys and shapes equal MMPose's (after posecli's MMPose key
conversion, which drops loss buffers), the deterministic fill loads with ``strict=True`` and the
raw tensor-mode outputs equal MMPose's on the same input. The bottom-up AE and DEKR recipes
also predict as MMPose with its configs' test settings (flip test): the flip-merged maps and
the instances of the filled network on a COCO image, and the instances decoded from
hand-built network outputs.
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
    _load_values(model, shapes, _generator().deterministic_fill(shapes, gain))


def _load_values(
    model: torch.nn.Module, shapes: dict[str, list[int]], fill: dict[str, np.ndarray]
) -> None:
    own = model.state_dict()
    state = {
        k: torch.from_numpy(fill[k]) if k in fill else own.get(k, torch.zeros(shapes[k]))
        for k in shapes
    }
    load_weights_into(model, convert_mmpose_keys(state), True, "deterministic fill")


def _outputs(
    model: Any, family: str, x: np.ndarray, ref: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    """posecli's outputs under the reference's names: ``make_reference.posecli_outputs``, the
    one mapping (its ``--compare`` uses it too), in float32."""
    got = _generator().posecli_outputs(model, family, x, ref, None, torch.float32)
    return {k: v for k, v in got.items() if k != "step"}


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


FLIP_NAMES = list(_generator().FLIP_CASES)


@cache
def _flip_model(name: str) -> Any:
    """The recipe's model with the flip case's fill (deterministic values, heatmap offsets)."""
    case = _generator().FLIP_CASES[name][0]
    shapes = _reference_shapes(case)
    model = _build(case)
    _load_values(model, shapes, _generator().flip_fill(name, shapes))
    return model.eval()


def _flip_reference(name: str) -> dict[str, np.ndarray]:
    with np.load(REF / f"{name}.npz") as npz:
        return {k: npz[k] for k in npz.files}


@pytest.mark.parametrize("name", FLIP_NAMES)
def test_bottomup_flip_test_matches_mmpose(name: str) -> None:
    """The shipped recipe's flip test (which maps are flipped, swapped, shifted, merged) and
    decoding (AE: maps restored to the input size; DEKR: rescoring, NMS) as MMPose's config."""
    model, ref = _flip_model(name), _flip_reference(name)
    fi = [int(i) for i in ref["flip_indices"]]
    assert model.flip_indices == fi and model.test_cfg.flip_test
    images = torch.from_numpy(ref["input"])
    merged = model.predict_outputs(images, fi)
    other = "tags" if "tags" in ref else "displacements"
    for key, got in zip(("heatmaps", other), merged, strict=True):
        atol = RTOL_OF_MAX * max(1.0, float(np.abs(ref[key]).max()))
        np.testing.assert_allclose(got, ref[key], rtol=0, atol=atol, err_msg=f"{name}: {key}")

    batch = {
        "inputs": images,
        "input_center": torch.from_numpy(ref["input_center"])[None],
        "input_scale": torch.from_numpy(ref["input_scale"])[None],
    }
    kps, scores = model.predict_instances(batch)
    assert kps[0].shape == ref["keypoints"].shape
    np.testing.assert_allclose(scores[0], ref["keypoint_scores"], rtol=0, atol=1e-5)
    # AE: a peak on the restored maps' border is a two-pixel plateau (equal values, equal
    # tags), of which MMPose keeps the one torch.topk lists last: up to one input pixel off
    # (exact keypoints: the synthetic test below)
    pixel = float(ref["input_scale"][0]) / images.shape[-1]
    atol = 1e-3 if other == "displacements" else 1.001 * pixel
    np.testing.assert_allclose(kps[0], ref["keypoints"], rtol=0, atol=atol)


@pytest.mark.parametrize("name", FLIP_NAMES)
def test_bottomup_decoding_matches_mmpose_on_synthetic_outputs(name: str) -> None:
    """Hand-built outputs of the plain and flipped input (no ties), through the recipe's
    decoder: flip merge, AE's restore to the input size and grouping, DEKR's rescoring and
    NMS, as MMPose's head with its config's test settings (keypoints in input pixels)."""
    gen, ref = _generator(), _flip_reference(name)
    model = _flip_model(name)
    fi = [int(i) for i in ref["flip_indices"]]
    plain, flipped = gen.synthetic_outputs(model.method, fi)
    h, w = gen.SYN_HEATMAP
    decoder = model.decoder(fi)
    merged = decoder.merge_flip(plain, flipped, w * gen.SYN_STRIDE)
    merged = decoder.merge_scales(merged, [], (h * gen.SYN_STRIDE, w * gen.SYN_STRIDE))
    kps, scores = decoder.decode(merged)
    assert kps[0].shape == ref["synthetic_keypoints"].shape == (3, len(fi), 2)
    np.testing.assert_allclose(kps[0], ref["synthetic_keypoints"], rtol=0, atol=1e-4)
    np.testing.assert_allclose(scores[0], ref["synthetic_keypoint_scores"], rtol=0, atol=1e-6)
