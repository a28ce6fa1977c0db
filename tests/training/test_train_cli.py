"""End-to-end training and evaluation through the CLI on the bundled mouse data."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import pytest
import torch
from typer.testing import CliRunner

from posecli.cli.app import create_app
from posecli.engine.checkpoint import read_checkpoint

from .conftest import FAST, GLIBC, RECIPE, set_args

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("run") / "mouse"
    import os

    os.chdir(Path(__file__).resolve().parents[2])
    result = CliRunner().invoke(
        create_app(), ["-q", "train", str(RECIPE), "--work-dir", str(work), *set_args(FAST)]
    )
    assert result.exit_code == 0, result.stderr + result.stdout
    assert f"run directory: {work}" in result.stdout
    assert "best checkpoint:" in result.stdout
    return work


def test_run_directory_holds_everything(trained: Path) -> None:
    names = {p.name for p in trained.iterdir()}
    assert {
        "recipe.toml",
        "metrics.jsonl",
        "train.log",
        "curves.png",
        "last.pt",
        "best.pt",
    } <= names
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    kinds = [r["type"] for r in records]
    assert kinds.count("epoch") == 2 and kinds.count("val") == 2 and "train" in kinds
    curves = cv2.imread(str(trained / "curves.png"))
    assert curves is not None and curves.std() > 5
    ckpt = read_checkpoint(trained / "last.pt")
    assert ckpt["epoch"] == 2 and ckpt["step"] == 2 * 6
    assert {"optimizer", "scheduler", "rng", "ema_state_dict", "scaler", "metainfo"} <= set(ckpt)
    assert ckpt["metainfo"]["num_keypoints"] == 17
    log = (trained / "train.log").read_text()
    assert "epoch 2/2" in log
    assert ("malloc: freed memory stays in the process" in log) == GLIBC  # CPU run


def test_second_run_refuses_to_overwrite(trained: Path) -> None:
    result = CliRunner().invoke(
        create_app(), ["train", str(RECIPE), "--work-dir", str(trained), *set_args(FAST)]
    )
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert (
        line.startswith(f"Error: run directory {trained} already holds files") and "\n" not in line
    )
    assert "last.pt" in line and "--resume" in line and "--force" in line


def test_eval_subprocess_reproduces_validation_metrics(trained: Path, tmp_path: Path) -> None:
    out = tmp_path / "preds.json"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "posecli",
            "eval",
            str(trained / "best.pt"),
            "--json",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    values = json.loads(done.stdout)
    records = [json.loads(line) for line in (trained / "metrics.jsonl").read_text().splitlines()]
    best_epoch = read_checkpoint(trained / "best.pt")["epoch"]
    val = next(r for r in records if r["type"] == "val" and r["epoch"] == best_epoch)
    assert values["EPE"] == pytest.approx(val["EPE"], abs=1e-4)
    assert values["PCK_img"] == pytest.approx(val["PCK_img"], abs=1e-6)
    results = json.loads(out.read_text())
    assert len(results) == 18 and len(results[0]["keypoints"]) == 17 * 3


def test_eval_flags(trained: Path) -> None:
    runner = CliRunner()
    plain = runner.invoke(
        create_app(), ["eval", str(trained / "best.pt"), "--json", "--no-flip-test"]
    )
    assert plain.exit_code == 0, plain.stderr
    values = json.loads(plain.stdout)
    assert set(values) == {"PCK_img", "EPE"}
    missing = runner.invoke(create_app(), ["eval", str(trained / "best.pt"), "--split", "test"])
    assert missing.exit_code == 1
    assert "has no data.test split (has: train, val)" in missing.stderr


def test_resume_of_a_finished_run_is_refused(trained: Path) -> None:
    """Nothing left to train is an error, not a success that trained nothing (issue 14.3)."""
    before = read_checkpoint(trained / "last.pt")["state_dict"]
    result = CliRunner().invoke(
        create_app(),
        ["-q", "train", str(RECIPE), "--work-dir", str(trained), "--resume", *set_args(FAST)],
    )
    assert result.exit_code == 1, result.stderr
    assert "already trained 2 epochs and the recipe trains 2" in result.stderr
    after = read_checkpoint(trained / "last.pt")["state_dict"]
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_eval_set_overrides_reach_the_test_config(trained: Path) -> None:
    runner = CliRunner()
    by_flag = runner.invoke(
        create_app(), ["eval", str(trained / "best.pt"), "--json", "--no-flip-test"]
    )
    by_set = runner.invoke(
        create_app(),
        ["eval", str(trained / "best.pt"), "--json", "--set", "model.test.flip_test=false"],
    )
    with_flip = runner.invoke(create_app(), ["eval", str(trained / "best.pt"), "--json"])
    assert by_flag.exit_code == by_set.exit_code == with_flip.exit_code == 0
    assert json.loads(by_flag.stdout) == json.loads(by_set.stdout)
    assert json.loads(by_flag.stdout) != json.loads(with_flip.stdout)


def test_eval_on_the_training_split_uses_the_validation_pipeline() -> None:
    """No random augmentation when scoring training frames: the val pipeline is used."""
    from posecli.engine.evaluation_run import _eval_dataset
    from posecli.recipe import load_recipe

    recipe = load_recipe(RECIPE, FAST)
    dataset = _eval_dataset(recipe, "train")
    names = [type(t).__name__ for t in dataset.pipeline.transforms]
    assert names == ["LoadImage", "GetBBoxCenterScale", "TopdownAffine"]
    assert len(dataset) == 72
    sample = dataset[0]
    assert not sample.get("flip", False) and float(sample.get("bbox_rotation", 0.0)) == 0.0


def test_eval_set_overrides_reach_the_codec(trained: Path) -> None:
    runner = CliRunner()
    wide = runner.invoke(create_app(), ["eval", str(trained / "best.pt"), "--json"])
    narrow = runner.invoke(
        create_app(),
        ["eval", str(trained / "best.pt"), "--json", "--set", "codec.soft_argmax_window=0.5"],
    )
    assert wide.exit_code == narrow.exit_code == 0, narrow.stderr
    assert json.loads(wide.stdout)["EPE"] != json.loads(narrow.stdout)["EPE"]
