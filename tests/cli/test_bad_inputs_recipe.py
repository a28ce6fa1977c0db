"""``posecli recipe show`` on bad inputs: one line with the file and the dotted key."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import REPO, assert_one_line, cli

RECIPE = REPO / "recipes" / "rtmpose.toml"

CASES = {
    "unknown optimiser": (["-s", "train.optimizer.name='adamx'"], ["train.optimizer", "adamx"]),
    "unknown skeleton": (["-s", "data.skeleton='nope'"], ["data.skeleton", "'nope'"]),
    "negative learning rate": (["-s", "train.optimizer.lr=-1"], ["train.optimizer", "-1"]),
    "unknown backbone": (["-s", "model.backbone.name='resnett'"], ["resnett"]),
    "backbone argument of the wrong type": (
        ["-s", 'model.backbone.out_indices="abc"'],
        ["model.backbone", "efficientnet_lite0", "plugin posecli"],
    ),
    "non-numeric sigma": (["-s", 'codec.sigma=[5.0,"a"]'], ["codec", "'a'"]),
    "unknown top-level key": (["-s", "trian.epochs=3"], ["trian"]),
    "one-number input size": (["-s", "codec.input_size=[224]"], ["codec.input_size", "[224]"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_values(case: str, in_repo: Path) -> None:
    args, culprits = CASES[case]
    assert_one_line(cli("recipe", "show", RECIPE, *args), 1, "rtmpose.toml", *culprits)


def test_bad_files(tmp_path: Path) -> None:
    assert_one_line(cli("recipe", "show", tmp_path / "none.toml"), 1, "none.toml", "not found")
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "x"\n[codec\n')
    assert_one_line(cli("recipe", "show", bad), 1, "bad.toml:2:")


ROTATION_TEST_REFUSALS = {  # recipe → what the one line names besides the key
    "coco/hrnet-w32.toml": "heatmap_head",  # no SimCC outputs to turn back
    "coco/rtmpose-t.toml": "[192, 256]",  # not square
    "coco/rtmo-s.toml": "bottomup",  # whole images, not crops
}


@pytest.mark.parametrize("name", sorted(ROTATION_TEST_REFUSALS))
def test_rotation_test_needs_a_square_simcc_top_down_model(name: str, in_repo: Path) -> None:
    run = cli("recipe", "show", REPO / "recipes" / name, "-s", "model.test.rotation_test=true")
    culprit = ROTATION_TEST_REFUSALS[name]
    assert_one_line(run, 1, Path(name).name, "model.test.rotation_test", culprit)
