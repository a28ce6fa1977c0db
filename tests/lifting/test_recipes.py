"""Every shipped lifting recipe end to end on the Human3.6M fixture: one epoch of
``posecli train`` (small widths), ``posecli eval`` of the checkpoint, ``posecli export --check``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posecli.cli.app import create_app
from tests.lifting.conftest import H36M, RECIPES

DATA = [
    f"data.root={json.dumps(str(H36M))}",
    'data.train.dataset.ann_file="test_h36m_body3d.npz"',
    'data.val.dataset.ann_file="test_h36m_body3d.npz"',
    "data.train.batch_size=4",
    "data.val.batch_size=4",
    "data.train.num_workers=0",
    "data.val.num_workers=0",
    "train.epochs=1",
]
TCN = ["model.backbone.stem_channels=32", "model.head.in_channels=32"]
CAMERAS = [
    'data.train.dataset.camera_param_file="cameras.pkl"',
    'data.val.dataset.camera_param_file="cameras.pkl"',
]
SMALL = {
    "simplebaseline3d": TCN,
    "videopose3d-27": TCN + CAMERAS,
    "videopose3d-243": TCN + CAMERAS,
    "motionbert": [
        *CAMERAS,
        "model.backbone.feat_size=32",
        "model.backbone.depth=1",
        "model.head.in_channels=32",
        "model.head.embedding_size=32",
        # the fixture's videos are single frames: one-frame clips
        "data.train.dataset.multiple_target=1",
        "data.train.dataset.multiple_target_step=1",
        "data.val.dataset.multiple_target=1",
    ],
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(SMALL))
def test_lifting_recipe_end_to_end(name: str, tmp_path: Path, runner) -> None:
    work = tmp_path / "run"
    args = [
        "--quiet",
        "train",
        str(RECIPES / f"{name}.toml"),
        "--work-dir",
        str(work),
        "--device",
        "cpu",
    ]
    for item in DATA + SMALL[name]:
        args += ["--set", item]
    res = runner.invoke(create_app(), args)
    assert res.exit_code == 0, res.output
    ckpt = work / "best.pt"
    assert ckpt.is_file()
    res = runner.invoke(create_app(), ["eval", str(ckpt), "--json", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    values = json.loads(res.stdout[res.stdout.index("{") :])
    values = values.get("metrics", values)
    assert values["MPJPE"] > 0 and values["P-MPJPE"] > 0
    onnx = tmp_path / "lifter.onnx"
    res = runner.invoke(
        create_app(), ["--quiet", "export", str(ckpt), "--out", str(onnx), "--check"]
    )
    assert res.exit_code == 0, res.output
    assert onnx.is_file()
