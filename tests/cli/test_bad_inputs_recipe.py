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
