"""``run_predict``: the bundled video end to end, failed frames, detectors, box files, tracking."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.inference.boxes import DetectorBoxes, FollowBoxes
from posecli.inference.run import PredictConfig, run_predict
from posecli.inference.writers import load_predictions

from ..inference.conftest import corrupt_mjpeg_frame, make_video
from .conftest import FLY_CLIP


@pytest.mark.slow
def test_bundled_video_records_render_and_csv(video_run) -> None:
    summary, out = video_run
    assert summary.frames == 994 and summary.failed == []
    doc = load_predictions(out / "predictions.json")
    assert doc["complete"] and doc["fps"] == pytest.approx(250.0)
    assert [r["frame"] for r in doc["frames"]] == list(range(994))
    kp = np.array([r["instances"][0]["keypoints"] for r in doc["frames"]], np.float32)
    assert kp.shape == (994, 17, 2)
    # inside the model's view of the frame: the whole-frame box padded by the recipe's 1.1 and
    # squared to the 1:1 input (random weights, so not necessarily inside the frame itself)
    half = 406 * 1.1 / 2
    lo, hi = np.array([198, 203]) - half, np.array([198, 203]) + half
    assert np.isfinite(kp).all() and (kp >= lo).all() and (kp <= hi).all()
    assert {r["instances"][0]["track_id"] for r in doc["frames"]} == {0}
    assert doc["skeleton"]["name"] == "mirror_mouse"
    cap = cv2.VideoCapture(str(out / "test_vid_pose.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 994
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (396, 406)
    assert cap.get(cv2.CAP_PROP_FPS) == pytest.approx(250.0)
    cap.release()
    with (out / "predictions.csv").open() as fh:
        rows = list(csv.reader(fh))
    names = doc["skeleton"]["keypoint_names"]
    assert rows[1] == ["bodyparts"] + [n for n in names for _ in range(3)]
    assert rows[2] == ["coords"] + ["x", "y", "likelihood"] * 17
    assert len(rows) == 3 + 994 and rows[3][0] == "0" and rows[-1][0] == "993"
    assert set(summary.timings) >= {"decode", "preprocess", "model", "postprocess", "write"}


def test_failed_frame_is_skipped_and_outputs_stay_aligned(predictor, tmp_path: Path) -> None:
    video = make_video(tmp_path / "v.avi", n=12, size=(96, 80))
    corrupt_mjpeg_frame(video, 5)
    config = PredictConfig(out=tmp_path / "out", render=True, progress=False)
    summary = run_predict(video, predictor, config=config)
    frames = [r["frame"] for r in load_predictions(tmp_path / "out" / "predictions.json")["frames"]]
    assert summary.failed == [5] and frames == [0, 1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    cap = cv2.VideoCapture(str(tmp_path / "out" / "v_pose.mp4"))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 12  # the hole is filled in time
    cap.release()


def test_refuses_existing_outputs_without_force(predictor, tmp_path: Path) -> None:
    from posecli.errors import PoseCliError

    video = make_video(tmp_path / "v.avi", n=3, size=(64, 48))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "predictions.csv").write_text("keep")
    config = PredictConfig(out=tmp_path / "out", formats=["json", "csv"], progress=False)
    with pytest.raises(PoseCliError, match="already exists"):
        run_predict(video, predictor, config=config)
    assert (tmp_path / "out" / "predictions.csv").read_text() == "keep"
    assert not (tmp_path / "out" / "predictions.json").exists()
    config.force = True
    assert run_predict(video, predictor, config=config).frames == 3


def test_follow_boxes_call_the_detector_every_n_frames(predictor, tmp_path: Path) -> None:
    calls: list[int] = []

    def detector(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return np.array([[4, 4, 60, 40]], np.float32), np.array([0.9], np.float32)

    video = make_video(tmp_path / "v.avi", n=9, size=(64, 48))
    boxes = FollowBoxes(DetectorBoxes(detector, score_thr=0.1), every=3, kpt_thr=0.0)
    config = PredictConfig(out=None, progress=False, keep_results=True)
    summary = run_predict(video, predictor, boxes, config)
    assert summary.frames == 9 and len(calls) == 3
    assert all(len(r) == 1 for r in summary.results)


def test_random_torchvision_detector_plumbing(tiny_ckpt: Path, tmp_path: Path, caplog) -> None:
    from posecli.inference.load import load_predictor
    from posecli.inference.setup import make_box_provider

    pred = load_predictor(tiny_ckpt, backend="torch", device="cpu")
    with caplog.at_level(logging.WARNING):
        boxes = make_box_provider(
            detector="ssdlite",
            bbox_thr=0.0,
            max_instances=3,
            det_every=2,
            skeleton=pred.skeleton,
        )
    assert "mirror_mouse" in caplog.text and "person" in caplog.text
    video = make_video(tmp_path / "v.avi", n=4, size=(96, 80))
    summary = run_predict(video, pred, boxes, PredictConfig(out=tmp_path / "o", progress=False))
    doc = load_predictions(tmp_path / "o" / "predictions.json")
    assert summary.frames == 4 and [r["frame"] for r in doc["frames"]] == [0, 1, 2, 3]
    for rec in doc["frames"]:
        assert len(rec["instances"]) <= 3
        for inst in rec["instances"]:
            assert len(inst["keypoints"]) == 17


def _fly_boxes(n: int, path: Path) -> tuple[np.ndarray, np.ndarray]:
    """COCO detections from the fly labels (padded keypoint boxes); returns (boxes, tracks)."""
    from ..inference._fly_labels import load_fly_labels

    kpts, tracks = load_fly_labels()
    kpts, tracks = kpts[:n], tracks[:n]
    lo, hi = np.nanmin(kpts, axis=2), np.nanmax(kpts, axis=2)  # (F, 2, 2)
    c, half = (lo + hi) / 2, np.maximum(hi - lo, 20) / 2 * 1.2
    boxes = np.concatenate([c - half, c + half], -1)  # (F, 2, 4) xyxy
    dets = [
        {
            "image_id": f,
            "category_id": 1,
            "score": 1.0,
            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])],
        }
        for f in range(n)
        for b in boxes[f]
    ]
    path.write_text(json.dumps(dets))
    return boxes, tracks


def test_fly_clip_tracks_follow_labelled_identities(predictor, tmp_path: Path) -> None:
    from posecli.inference.boxes import FileBoxes

    n = 150
    cap = cv2.VideoCapture(str(FLY_CLIP))
    vw = cv2.VideoWriter(
        str(tmp_path / "flies.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 30, (512, 512)
    )
    for _ in range(n):
        vw.write(cv2.resize(cap.read()[1], (512, 512), interpolation=cv2.INTER_AREA))
    vw.release()
    cap.release()
    boxes, tracks = _fly_boxes(n, tmp_path / "dets.json")
    # the video is at half size: scale the detections file the same way
    dets = json.loads((tmp_path / "dets.json").read_text())
    for d in dets:
        d["bbox"] = [v / 2 for v in d["bbox"]]
    (tmp_path / "dets.json").write_text(json.dumps(dets))
    # the mouse model (random weights) cannot place fly keypoints, so match by box IoU
    config = PredictConfig(
        out=None, track=True, track_metric="iou", progress=False, keep_results=True
    )
    dets = FileBoxes(tmp_path / "dets.json")
    summary = run_predict(tmp_path / "flies.avi", predictor, dets, config)
    assert summary.frames == n
    agree = 0
    mapping: dict[int, int] | None = None
    for f, res in enumerate(summary.results):
        assert len(res) == 2 and res.track_ids is not None
        # which labelled instance each predicted box came from (nearest box centre)
        centre = (res.bboxes[:, :2] + res.bboxes[:, 2:]) / 2
        lab = (boxes[f, :, :2] + boxes[f, :, 2:]) / 4
        src = np.argmin(np.linalg.norm(centre[:, None] - lab[None], axis=-1), axis=1)
        pairs = {int(tracks[f, s]): int(t) for s, t in zip(src, res.track_ids, strict=True)}
        mapping = mapping or pairs
        agree += pairs == mapping
    print(f"fly clip: track ids agree with labelled identities on {agree}/{n} frames")
    assert agree / n >= 0.9, f"track ids agree with labelled identities on {agree}/{n} frames"
