"""posecli checkpoints: atomic save, weights-only load, round trip through the public API."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posecli.api import build_model, load_checkpoint, skeleton_metainfo
from posecli.engine.checkpoint import read_checkpoint, save_checkpoint
from posecli.errors import CheckpointError
from posecli.recipe import load_recipe

from .conftest import COCO_META, RECIPES


def test_round_trip_restores_model_recipe_and_state(tmp_path: Path) -> None:
    recipe = load_recipe(RECIPES / "rtmpose-t.toml")
    model = build_model(recipe, COCO_META, pretrained=False)
    ema = build_model(recipe, COCO_META, pretrained=False)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    rng = {"torch": torch.get_rng_state(), "numpy": np.random.default_rng(0).bit_generator.state}
    path = save_checkpoint(
        tmp_path / "run" / "last.pt",
        model,
        recipe,
        metainfo=skeleton_metainfo(COCO_META),
        ema=ema,
        optimizer=opt,
        epoch=3,
        step=120,
        rng=rng,
        metrics={"AP": 0.5},
    )
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    data = read_checkpoint(path)
    assert data["epoch"] == 3 and data["step"] == 120 and data["metrics"] == {"AP": 0.5}
    assert data["metainfo"]["flip_indices"] == COCO_META["flip_indices"]
    assert "optimizer" in data and "rng" in data

    loaded, loaded_recipe = load_checkpoint(path)
    assert loaded_recipe == recipe
    assert not loaded.training
    x = torch.rand(1, 3, 256, 192) * 255
    ema.eval()
    with torch.no_grad():
        assert torch.equal(loaded(x)[0], ema(x)[0])  # EMA weights preferred
    plain, _ = load_checkpoint(path, prefer_ema=False)
    for k, v in model.state_dict().items():
        assert torch.equal(plain.state_dict()[k], v)


def test_non_checkpoints_are_rejected(tmp_path: Path) -> None:
    torch.save({"meta": {}, "state_dict": {}}, tmp_path / "mmpose.pth")
    with pytest.raises(CheckpointError, match="MMPose"):
        read_checkpoint(tmp_path / "mmpose.pth")
    with pytest.raises(CheckpointError, match="not found"):
        read_checkpoint(tmp_path / "missing.pt")


def test_weights_only_refuses_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self) -> tuple[object, tuple[str]]:
            return (print, ("pwned",))

    torch.save({"posecli": "0", "recipe": "", "state_dict": {}, "x": Evil()}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="refuses to unpickle them") as info:
        read_checkpoint(tmp_path / "evil.pt")
    assert "evil.pt" in str(info.value) and "weights_only=False" not in str(info.value)
