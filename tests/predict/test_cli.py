"""The CLI: predict, visualize predictions, visualize-heatmap, errors, one subprocess run."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from posecli.cli.app import create_app

from ..inference.conftest import make_video
from .conftest import VIDEO


@pytest.fixture(scope="module")
def app():
    return create_app()


def _frame_png(path: Path) -> Path:
    cap = cv2.VideoCapture(str(VIDEO))
    cv2.imwrite(str(path), cap.read()[1])
    cap.release()
    return path


def test_predict_images_folder_coco_render_json(app, tiny_ckpt: Path, tmp_path: Path) -> None:
    folder = tmp_path / "imgs"
    folder.mkdir()
    _frame_png(folder / "a.png")
    img = cv2.imread(str(folder / "a.png"))
    cv2.imwrite(str(folder / "b.png"), cv2.cvtColor(img, cv2.COLOR_BGR2GRAY))
    out = tmp_path / "out"
    args = [
        "predict",
        str(folder),
        "-c",
        str(tiny_ckpt),
        "--out",
        str(out),
        "--to",
        "json",
        "--to",
        "coco",
        "--render",
        "--bbox",
        "whole",
        "--json",
        "--device",
        "cpu",
        "--kpt-thr",
        "0",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads(res.stdout.strip().splitlines()[-1])
    assert summary["frames"] == 2 and summary["instances"] == 2
    coco = json.loads((out / "predictions.coco.json").read_text())
    assert len(coco) == 2 and len(coco[0]["keypoints"]) == 17 * 3
    rendered = sorted((out / "rendered").iterdir())
    assert [p.name for p in rendered] == ["a.png", "b.png"]
    drawn = cv2.imread(str(rendered[0]))
    assert drawn.shape == img.shape and (drawn != img).any(axis=2).sum() > 50


def test_visualize_predictions_and_heatmap(app, tiny_ckpt: Path, tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", n=6, size=(160, 120))
    runner = CliRunner()
    res = runner.invoke(
        app,
        [
            "-q",
            "predict",
            str(video),
            "-c",
            str(tiny_ckpt),
            "--out",
            str(tmp_path / "p"),
            "--track",
            "--track-metric",
            "iou",
        ],
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        [
            "visualize",
            "predictions",
            str(tmp_path / "p" / "predictions.json"),
            "--source",
            str(video),
            "--out",
            str(tmp_path / "vis.mp4"),
            "--color-by",
            "track",
            "--draw-bbox",
            "--kpt-thr",
            "0",
            "--radius",
            "4",
        ],
    )
    assert res.exit_code == 0, res.output
    cap = cv2.VideoCapture(str(tmp_path / "vis.mp4"))
    ok, frame = cap.read()
    assert ok and frame.shape == (120, 160, 3) and int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 6
    assert (np.abs(frame.astype(int) - int(np.median(frame))).sum(-1) > 60).sum() > 100
    cap.release()
    png = _frame_png(tmp_path / "f.png")
    res = runner.invoke(
        app,
        [
            "visualize-heatmap",
            str(png),
            "-c",
            str(tiny_ckpt),
            "--bbox",
            "20,30,300,380",
            "--out",
            str(tmp_path / "h.png"),
        ],
    )
    assert res.exit_code == 0, res.output
    pic = cv2.imread(str(tmp_path / "h.png"))
    assert pic.shape == (96 + 80, 96 + 80, 3)  # SimCC: crop plus the x and y profile panels
    assert len(np.unique(pic.reshape(-1, 3), axis=0)) > 100


def test_errors_are_one_line(app, tiny_ckpt: Path, tmp_path: Path, monkeypatch) -> None:
    runner = CliRunner()
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"not a video at all")
    res = runner.invoke(
        app, ["predict", str(bad), "-c", str(tiny_ckpt), "--out", str(tmp_path / "o")]
    )
    assert res.exit_code == 1 and "cannot open video" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(app, ["predict", str(bad), "-c", "x.pt", "-m", "rtmpose-m"])
    assert res.exit_code == 1 and "not both" in res.stderr
    png = _frame_png(tmp_path / "f.png")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("POSECLI_OFFLINE", "1")
    monkeypatch.setenv("POSECLI_CACHE_DIR", str(tmp_path / "cache"))
    res = runner.invoke(app, ["predict", str(png)])
    assert res.exit_code == 1 and "pass --checkpoint" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    res = runner.invoke(
        app,
        [
            "visualize-heatmap",
            str(png),
            "-c",
            str(tiny_ckpt),
            "--bbox",
            "5,5,1,1",
            "--out",
            "h.png",
        ],
    )
    assert res.exit_code == 2
    res = runner.invoke(app, ["predict", str(png), "-c", str(tiny_ckpt), "--detector", "nope"])
    assert res.exit_code == 1 and "nope" in res.stderr


def test_default_checkpoint_from_work_dirs(
    app, tiny_ckpt: Path, tmp_path: Path, monkeypatch
) -> None:
    run = tmp_path / "work_dirs" / "run1"
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(tiny_ckpt.read_bytes())
    png = _frame_png(tmp_path / "f.png")
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["predict", str(png), "--json", "--out", "o"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout.strip().splitlines()[-1])["model"].endswith("best.pt")


def test_subprocess_predict(tiny_ckpt: Path, tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", n=5, size=(64, 48))
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "posecli",
            "predict",
            str(video),
            "-c",
            str(tiny_ckpt),
            "--out",
            str(tmp_path / "o"),
            "--to",
            "csv",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert "5 frames" in proc.stdout
    assert len((tmp_path / "o" / "predictions.csv").read_text().splitlines()) == 3 + 5
