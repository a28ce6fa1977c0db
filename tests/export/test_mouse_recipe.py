"""Issue 13 item 5: a default export of the mouse recipe behaves like its checkpoint.

``posecli export`` with default flags carries the recipe's flip test and its SimCC
soft-argmax decode; the exported file through the runtime and the checkpoint on the PyTorch
backend then agree within 1e-3 px on frames of the bundled video.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from posecli.cli.app import create_app
from posecli.inference.load import load_predictor

from .conftest import REPO


def _mouse_checkpoint(path: Path) -> Path:
    """The shipped mouse recipe, untrained (no ImageNet weights), head maps made peaked."""
    import torch

    from posecli.api import build_model, skeleton_metainfo
    from posecli.data.metainfo import load_skeleton
    from posecli.engine.checkpoint import save_checkpoint
    from posecli.recipe import load_recipe

    recipe = load_recipe(REPO / "recipes" / "rtmpose.toml", ["model.backbone.pretrained=false"])
    skeleton = load_skeleton(recipe.data.skeleton)
    torch.manual_seed(0)
    model = build_model(recipe, skeleton, pretrained=False).eval()
    # random near-zero maps give a flat heatmap prior whose tied maxima make the argmax
    # (and the soft-argmax window) a coin toss; a trained head's maps are peaked
    torch.nn.init.normal_(model.head.final_layer.weight, std=0.05)
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(skeleton))
    return path


@pytest.mark.slow
def test_default_export_predicts_like_the_checkpoint(
    tmp_path: Path, frames: list[np.ndarray], runner: CliRunner
) -> None:
    ckpt = _mouse_checkpoint(tmp_path / "mouse.pt")
    out = tmp_path / "mouse.onnx"
    res = runner.invoke(create_app(), ["export", str(ckpt), "--out", str(out), "--check", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["flip_test"] is True and data["check"]["passed"] is True
    assert data["check"]["flip_test"] is True and data["check"]["num_real"] == 4
    assert "soft_argmax_beta=10.0" in data["test_time"] and "box padding 1.1" in data["test_time"]
    checkpoint = load_predictor(ckpt, backend="torch", device="cpu")
    exported = load_predictor(out, device="cpu")
    assert exported.flip_test and checkpoint.flip_test
    assert exported.spec.codec == checkpoint.spec.codec  # soft-argmax decode travels along
    for a, b in zip(checkpoint.predict(frames), exported.predict(frames), strict=True):
        assert np.abs(a.keypoints - b.keypoints).max() <= 1e-3
        assert np.abs(a.keypoint_scores - b.keypoint_scores).max() <= 1e-4
