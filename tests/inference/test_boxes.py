"""Box providers: whole frame, detection-results file, NMS/filtering, boxes from keypoints."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from posecli.errors import DataError
from posecli.inference.boxes import (
    Boxes,
    DetectorBoxes,
    FileBoxes,
    FollowBoxes,
    WholeFrameBoxes,
    _nms_numpy,
    box_iou,
    boxes_from_keypoints,
    filter_boxes,
    nms,
)
from posecli.inference.sources import Frame


def _frame(index: int = 0, name: str = "v.mp4#0", video: bool = True, size=(100, 80)) -> Frame:
    img = np.zeros((size[1], size[0], 3), np.uint8)
    return Frame(index, index / 10 if video else None, img, name, Path(name) if not video else None)


def test_whole_frame_box() -> None:
    boxes = WholeFrameBoxes()(_frame())
    assert boxes.xyxy.tolist() == [[0, 0, 100, 80]] and boxes.scores.tolist() == [1.0]


def test_nms_matches_numpy_and_known_case() -> None:
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [20, 20, 30, 30], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.9, 0.8, 0.7, 0.95], np.float32)
    assert nms(boxes, scores, 0.5).tolist() == [3, 2]
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (200, 2))
    rand = np.concatenate([xy, xy + rng.uniform(5, 40, (200, 2))], 1).astype(np.float32)
    sc = rng.uniform(size=200).astype(np.float32)
    for thr in (0.3, 0.5, 0.7):
        assert nms(rand, sc, thr).tolist() == _nms_numpy(rand, sc, thr).tolist()
    assert box_iou(boxes[:1], boxes[:1])[0, 0] == pytest.approx(1.0)


def test_filter_boxes_threshold_zero_size_clip_and_max() -> None:
    boxes = Boxes(
        np.array(
            [
                [-5, -5, 50, 50],
                [10, 10, 10, 40],
                [60, 60, 90, 70],
                [0, 0, 5, 5],
                [0, 0, 1e9, np.nan],
            ],
            np.float32,
        ),
        np.array([0.9, 0.99, 0.5, 0.1, 0.8], np.float32),
    )
    out = filter_boxes(boxes, image_size=(100, 80), score_thr=0.2, nms_thr=0.5)
    assert out.xyxy.tolist() == [[0, 0, 50, 50], [60, 60, 90, 70]]  # zero-width and NaN dropped
    assert len(filter_boxes(boxes, image_size=(100, 80), max_instances=1)) == 1


def _write_dets(path: Path, records: list) -> Path:
    path.write_text(json.dumps(records))
    return path


def test_file_boxes_match_by_index_stem_and_mapping(tmp_path: Path) -> None:
    dets = _write_dets(
        tmp_path / "dets.json",
        [
            {"image_id": 3, "category_id": 1, "bbox": [10, 10, 20, 30], "score": 0.9},
            {"image_id": 3, "category_id": 2, "bbox": [0, 0, 5, 5], "score": 0.9},  # not a person
            {"image_id": 785, "category_id": 1, "bbox": [1, 2, 3, 4], "score": 0.5},
            {"image_id": 7, "category_id": 1, "bbox": [5, 5, 10, 10]},
        ],
    )
    provider = FileBoxes(dets)
    assert provider(_frame(3)).xyxy.tolist() == [[10, 10, 30, 40]]
    assert len(provider(_frame(4))) == 0
    assert provider(_frame(0, "000000000785.jpg", video=False)).xyxy.tolist() == [[1, 2, 4, 6]]
    mapped = FileBoxes(dets, images={"cat.png": 7})(_frame(0, "cat.png", video=False))
    assert mapped.scores.tolist() == [1.0]
    assert len(FileBoxes(dets, category_id=None)(_frame(3))) == 2
    assert FileBoxes(dets, frame_offset=3)(_frame(0)).xyxy.tolist() == [[10, 10, 30, 40]]


def test_file_boxes_errors_name_the_record(tmp_path: Path) -> None:
    bad = _write_dets(
        tmp_path / "bad.json",
        [{"image_id": 1, "bbox": [1, 2, 3, 4]}, {"image_id": 2, "bbox": [1, 2]}],
    )
    with pytest.raises(DataError, match=r"bad\.json: record 1: 'bbox'"):
        FileBoxes(bad)
    (tmp_path / "x.json").write_text("{")
    with pytest.raises(DataError, match=r"x\.json: cannot read"):
        FileBoxes(tmp_path / "x.json")
    with pytest.raises(DataError, match="expected a JSON list"):
        FileBoxes(_write_dets(tmp_path / "d.json", {"a": 1}))  # type: ignore[arg-type]


def test_shared_coco_detection_file_loads() -> None:
    path = (
        Path(__file__).resolve().parents[1] / "data/mmpose-annotations/test_coco_det_AP_H_56.json"
    )
    records = json.loads(path.read_text())
    provider = FileBoxes(path)
    assert len(provider) == sum(r["category_id"] == 1 for r in records)


def test_boxes_from_keypoints() -> None:
    kpts = np.array([[[10, 20], [30, 60], [99, 99]], [[0, 0], [1, 1], [2, 2]]], np.float32)
    scores = np.array([[1, 1, 0.1], [0.0, 0.0, 0.0]], np.float32)
    boxes = boxes_from_keypoints(kpts, scores, kpt_thr=0.3, padding=1.5)
    assert boxes.xyxy[0].tolist() == [5, 10, 35, 70]  # centre (20, 40), half (15, 30)
    assert boxes.scores.tolist() == [1.0, 0.0]
    assert len(filter_boxes(boxes)) == 1  # the instance without keypoints is dropped


def test_follow_boxes_runs_detector_every_n_frames() -> None:
    calls: list[int] = []

    def detector(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        calls.append(1)
        return np.array([[10, 10, 40, 40]], np.float32), np.array([0.9], np.float32)

    follow = FollowBoxes(DetectorBoxes(detector, score_thr=0.5), every=3)
    kpts = np.array([[[20, 20], [30, 30]]], np.float32)
    used = []
    for i in range(7):
        boxes = follow(_frame(i))
        used.append(len(calls))
        follow.update(kpts + i, np.ones((1, 2), np.float32), (100, 80))
        if i == 1:
            assert boxes.xyxy[0].tolist() == pytest.approx(
                [18.75, 18.75, 31.25, 31.25]
            )  # frame 0, x1.25
    assert used == [1, 1, 1, 2, 2, 2, 3] and follow.detector_calls == 3
    assert len(follow(_frame(7))) == 1
    with pytest.raises(ValueError):
        FollowBoxes(WholeFrameBoxes(), every=0)
