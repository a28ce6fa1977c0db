from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from posecli.cli.app import create_app

from .conftest import COCO_MINI, MOUSE_CSV, ROOT


def test_check_dataset_mirror_mouse_json(runner: CliRunner) -> None:
    result = runner.invoke(
        create_app(), ["check-dataset", str(MOUSE_CSV), "--from", "dlc", "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["skeleton"] == "mirror_mouse"
    assert report["counts"]["images"] == 90 and report["counts"]["unlabelled_keypoints"] == 134


def test_check_dataset_exit_1_on_errors(runner: CliRunner, tmp_path: Path) -> None:
    (tmp_path / "ann.json").write_text(COCO_MINI.read_text())
    result = runner.invoke(
        create_app(), ["check-dataset", str(tmp_path / "ann.json"), "--from", "coco"]
    )
    assert result.exit_code == 1 and "missing images" in result.stdout


def test_convert_dataset_cli_refuses_overwrite(runner: CliRunner, tmp_path: Path) -> None:
    app = create_app()
    out = tmp_path / "mm.json"
    args = ["convert-dataset", str(MOUSE_CSV), "--from", "dlc", "--to", "coco", "--out", str(out)]
    assert runner.invoke(app, [*args, "--json"]).exit_code == 0
    again = runner.invoke(app, args)
    assert again.exit_code == 1 and "exists; pass --force" in again.stderr
    assert runner.invoke(app, [*args, "--force"]).exit_code == 0


def test_unknown_format_is_one_line(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        create_app(),
        [
            "convert-dataset",
            str(MOUSE_CSV),
            "--from",
            "dlcc",
            "--to",
            "coco",
            "--out",
            str(tmp_path / "x.json"),
        ],
    )
    assert result.exit_code == 1 and "did you mean 'dlc'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_visualize_dataset(runner: CliRunner, recipe_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "vis"
    result = runner.invoke(
        create_app(), ["visualize", "dataset", str(recipe_file), "--n", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [
        "grid.png",
        "train_000.png",
        "train_001.png",
        "train_002.png",
    ]
    again = runner.invoke(
        create_app(), ["visualize", "dataset", str(recipe_file), "--n", "3", "--out", str(out)]
    )
    assert again.exit_code == 1


def test_subprocess_check_dataset() -> None:
    env = dict(os.environ, POSECLI_DISABLE_PLUGIN_AUTOLOAD="1")
    proc = subprocess.run(
        [sys.executable, "-m", "posecli", "check-dataset", str(MOUSE_CSV), "--from", "dlc"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "images: 90" in proc.stdout and "OK" in proc.stdout
