"""A lifter trains through ``posecli train`` on the Human3.6M fixture (its MPJPE falls) and
``posecli eval`` reports MPJPE / P-MPJPE / N-MPJPE for the checkpoint."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posecli.cli.app import create_app
from tests.lifting.conftest import H36M, RECIPES

TINY = [
    f"data.root={json.dumps(str(H36M))}",
    'data.train.dataset.ann_file="test_h36m_body3d.npz"',
    'data.train.dataset.camera_param_file="cameras.pkl"',
    'data.val.dataset.ann_file="test_h36m_body3d.npz"',
    'data.val.dataset.camera_param_file="cameras.pkl"',
    "data.train.batch_size=4",
    "data.val.batch_size=4",
    "data.train.num_workers=0",
    "data.val.num_workers=0",
    "model.backbone.stem_channels=64",
    "model.head.in_channels=64",
    "train.epochs=20",
    "train.val_interval=10",
]


@pytest.mark.slow
def test_videopose3d_trains_on_the_fixture_and_evaluates(tmp_path: Path, runner) -> None:
    work = tmp_path / "run"
    args = [
        "train",
        str(RECIPES / "videopose3d-27.toml"),
        "--work-dir",
        str(work),
        "--device",
        "cpu",
    ]
    for item in TINY:
        args += ["--set", item]
    result = runner.invoke(create_app(), args)
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    vals = [r["MPJPE"] for r in records if r["type"] == "val"]
    epochs = [r["loss"] for r in records if r["type"] == "epoch"]
    assert len(vals) == 2 and vals[-1] < vals[0]  # training MPJPE (mm) falls
    assert sum(epochs[-5:]) < sum(epochs[:5])
    out = runner.invoke(
        create_app(),
        [
            "eval",
            str(work / "best.pt"),
            "--json",
            "--device",
            "cpu",
            "--set",
            "eval.metrics=[{name='mpjpe', mode='mpjpe', unit_scale=1000.0}, "
            "{name='mpjpe', mode='n-mpjpe', unit_scale=1000.0}, "
            "{name='mpjpe', mode='p-mpjpe', unit_scale=1000.0}]",
        ],
    )
    assert out.exit_code == 0, out.output
    values = json.loads(out.stdout[out.stdout.index("{") :])
    values = values.get("metrics", values)
    assert values["MPJPE"] == pytest.approx(min(vals), rel=1e-4)
    assert values["P-MPJPE"] <= values["N-MPJPE"] <= values["MPJPE"] + 1e-6
