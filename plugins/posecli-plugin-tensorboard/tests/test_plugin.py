"""The tensorboard callback on a real (short) training run of the bundled mouse recipe.

Run with the plugin installed and from a posecli checkout (the recipe's data is in
``examples/mirror-mouse``). The run goes through ``posecli train`` exactly as users type it and
the events are read back with TensorBoard's own reader.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from posecli.engine.callbacks import build_callback
from posecli.errors import BuildError

REPO = Path(__file__).resolve().parents[3]
RECIPE = REPO / "recipes" / "rtmpose.toml"
FAST = [
    "codec.input_size=[112, 112]",
    "model.head.input_size=[112, 112]",
    "model.head.in_featuremap_size=[14, 14]",
    "data.train.batch_size=12",
    "train.epochs=1",
    "train.log_interval=2",
    "train.schedule.0.iters=3",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("tb") / "run"
    sets = [*FAST, 'train.callbacks=[{name = "tensorboard", images = 4}]']
    done = subprocess.run(
        [sys.executable, "-m", "posecli", "-q", "train", str(RECIPE), "--work-dir", str(work)]
        + [arg for s in sets for arg in ("--set", s)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return work


def _events(work: Path) -> EventAccumulator:
    acc = EventAccumulator(str(work / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    acc.Reload()
    return acc


def test_scalars_match_the_metrics_log(run: Path) -> None:
    acc = _events(run)
    tags = set(acc.Tags()["scalars"])
    assert {"train/loss", "train/lr", "epoch/loss", "val/EPE", "val/PCK_img"} <= tags
    assert "val_keypoint_error/nose_top" in tags
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    train = [r for r in records if r["type"] == "train"]
    val = next(r for r in records if r["type"] == "val")
    losses = acc.Scalars("train/loss")
    assert [e.step for e in losses] == [r["step"] for r in train]  # every 2nd iteration
    assert [e.value for e in losses] == pytest.approx([r["loss"] for r in train], rel=1e-6)
    (epe,) = acc.Scalars("val/EPE")
    assert epe.step == val["step"] and epe.value == pytest.approx(val["EPE"], rel=1e-6)
    (nose,) = acc.Scalars("val_keypoint_error/nose_top")
    assert nose.value == pytest.approx(val["keypoint_errors"]["nose_top"], rel=1e-6)


def test_predicted_poses_and_recipe_are_recorded(run: Path) -> None:
    acc = _events(run)
    assert acc.Tags()["images"] == ["val/predictions"]
    (event,) = acc.Images("val/predictions")
    assert (event.width, event.height) == (4 * 112, 112)  # the 4 crops side by side
    image = cv2.imdecode(np.frombuffer(event.encoded_image_string, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == (112, 448, 3) and image.std() > 10
    text = acc.Tensors("recipe/text_summary")[0].tensor_proto.string_val[0].decode()
    assert 'name = "rtmpose-mouse"' in text and "[model.backbone]" in text


def test_bad_arguments_are_reported_with_their_path() -> None:
    with pytest.raises(BuildError, match="images must be >= 0"):
        build_callback({"name": "tensorboard", "images": -1})
    with pytest.raises(
        BuildError, match="train.callbacks.log_dri: unknown argument .* did you mean log_dir"
    ):
        build_callback({"name": "tensorboard", "log_dri": "x"})
