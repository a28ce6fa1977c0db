"""The two-fly recipe end to end through the CLI, on a few frames of the bundled clip:
``posecli train recipes/flies.toml`` trains the centred-instance model and then its centroid
detector; ``eval`` scores it with ground-truth and with detected boxes; ``predict`` takes its
boxes from the checkpoint's own detector, the same ones the Python API gets."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from posecli.cli.app import create_app
from posecli.inference.writers import load_predictions

REPO = Path(__file__).resolve().parents[2]
CLIP = REPO / "examples" / "sleap-flies" / "clip.mp4"
QUICK = [
    "train.epochs=1",
    "data.train.max_images=6",
    "data.val.max_images=3",
    "data.train.batch_size=4",
]


def _run(args: list[str], code: int = 0) -> str:
    result = CliRunner().invoke(create_app(), args)
    assert result.exit_code == code, f"posecli {' '.join(args)}\n{result.output}"
    return result.stdout if code == 0 else result.output


def _json(text: str) -> dict:
    return json.loads(text[text.index("{") :])


@pytest.fixture(scope="module")
def flies_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("flies") / "run"
    # an untrained detector's peaks are low: keep every one (at most 10 a frame)
    detector_quick = [*QUICK, "codec.decode_keypoint_thr=0.0"]
    sets = [*QUICK, "detector.bbox_thr=0.0", f"detector.set={json.dumps(detector_quick)}"]
    _run(
        [
            "--quiet",
            "train",
            "flies.toml",
            *[a for s in sets for a in ("--set", s)],
            "--work-dir",
            str(work),
        ]
    )
    return work


@pytest.mark.slow
def test_train_writes_both_stages_and_eval_scores_them(flies_run: Path) -> None:
    assert (flies_run / "best.pt").is_file()
    assert (flies_run / "detector" / "best.pt").is_file()
    with_gt = _json(_run(["eval", str(flies_run / "best.pt"), "--json"]))
    assert {"coco/AP", "match/recall", "match/error", "EPE"} <= set(with_gt)
    detected = _json(
        _run(
            [
                "eval",
                str(flies_run / "best.pt"),
                "--detector",
                "bottomup",
                "--detector-weights",
                str(flies_run / "detector" / "best.pt"),
                "--bbox-thr",
                "0",
                "--json",
            ]
        )
    )
    assert 0.0 <= detected["match/recall"] <= 1.0 and 0.0 <= detected["coco/AP"] <= 1.0
    assert "EPE" not in detected  # a per-box metric: nothing to compare a detection with
    centroid = _json(_run(["eval", str(flies_run / "detector" / "best.pt"), "--json"]))
    assert {"coco/AP", "match/recall", "match/precision"} <= set(centroid)


def _short_clip(path: Path, n: int = 3) -> Path:
    cap = cv2.VideoCapture(str(CLIP))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (1024, 1024))
    for _ in range(n):
        writer.write(cap.read()[1])
    writer.release()
    cap.release()
    return path


@pytest.mark.slow
def test_predict_takes_the_checkpoints_detector(flies_run: Path, tmp_path: Path) -> None:
    from posecli.inference.setup import make_box_provider
    from posecli.predict import stream
    from posecli.runtime.frames import Frame

    clip = _short_clip(tmp_path / "three.avi")
    out = tmp_path / "pred"
    ckpt = flies_run / "best.pt"
    _run(["--quiet", "predict", str(clip), "--checkpoint", str(ckpt), "--out", str(out)])
    doc = load_predictions(out / "predictions.json")
    assert [r["frame"] for r in doc["frames"]] == [0, 1, 2]
    boxes = make_box_provider(
        detector="bottomup", detector_weights=str(flies_run / "detector" / "best.pt"), bbox_thr=0.0
    )
    cap = cv2.VideoCapture(str(clip))
    api = list(stream(clip, model=ckpt, backend="onnxruntime"))
    for record, result in zip(doc["frames"], api, strict=True):
        image = cap.read()[1]
        expected = boxes(Frame(record["frame"], None, image, "x")).xyxy
        assert len(expected) > 0  # threshold 0: the detector's peaks are all kept
        got = np.array([inst["bbox"] for inst in record["instances"]], np.float32).reshape(-1, 4)
        np.testing.assert_allclose(got, expected, atol=1e-3)  # not the whole frame: detected
        cli_kp = np.array([i["keypoints"] for i in record["instances"]], np.float32)
        np.testing.assert_allclose(
            cli_kp.reshape(result.keypoints.shape), result.keypoints, atol=1e-3
        )
    cap.release()
    # a two-stage checkpoint whose detector run went missing says what to do
    moved = tmp_path / "moved"
    shutil.copytree(flies_run, moved, ignore=shutil.ignore_patterns("detector"))
    err = _run(
        [
            "predict",
            str(clip),
            "--checkpoint",
            str(moved / "best.pt"),
            "--out",
            str(tmp_path / "x"),
        ],
        code=1,
    )
    assert "trains a detector with it, but" in err and "detector/best.pt is missing" in err
