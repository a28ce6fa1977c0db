"""Writers: predictions JSON (complete, Ctrl-C and killed runs), COCO list, DLC CSV, video, images."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.errors import DataError, PoseCliError
from posecli.inference.writers import (
    CocoResultsWriter,
    DlcCsvWriter,
    ImageWriter,
    PredictionsWriter,
    VideoWriter,
    load_predictions,
    partial_path,
)
from posecli.runtime import FramePrediction

SKELETON = {"name": "toy", "keypoint_names": ["a", "b", "c"], "links": np.array([[0, 1], [1, 2]])}


def _pred(frame: int, n: int = 2, tracks: bool = True) -> FramePrediction:
    kpts = np.arange(n * 3 * 2, dtype=np.float32).reshape(n, 3, 2) + frame
    if n:
        kpts[0, 2] = np.nan
    return FramePrediction(
        frame=frame,
        time_s=frame / 25,
        keypoints=kpts,
        keypoint_scores=np.full((n, 3), 0.9, np.float32),
        bboxes=np.tile(np.array([[1, 2, 11, 22]], np.float32), (n, 1)),
        bbox_scores=np.linspace(0.9, 0.5, n).astype(np.float32),
        track_ids=np.arange(n) + 10 if tracks else None,
        name=f"v.mp4#{frame}",
    )


def test_predictions_json_complete_document(tmp_path: Path) -> None:
    out = tmp_path / "predictions.json"
    with PredictionsWriter(out, skeleton=SKELETON, source="v.mp4", fps=25.0, frame_count=3) as w:
        for i in range(3):
            w.write(None, _pred(i))
            assert partial_path(out).exists() and not out.exists()
    assert not partial_path(out).exists()
    doc = json.loads(out.read_text())  # strict JSON (no NaN)
    assert (
        doc["complete"] is True
        and doc["fps"] == 25.0
        and doc["skeleton"]["links"] == [[0, 1], [1, 2]]
    )
    assert [f["frame"] for f in doc["frames"]] == [0, 1, 2]
    inst = doc["frames"][1]["instances"][0]
    assert set(inst) == {"keypoints", "keypoint_scores", "bbox", "bbox_score", "track_id"}
    assert inst["keypoints"][0] == [1.0, 2.0] and inst["keypoints"][2] == [None, None]
    assert inst["track_id"] == 10 and inst["bbox"] == [1, 2, 11, 22]
    assert load_predictions(out) == doc
    with pytest.raises(PoseCliError, match="already exists; pass --force"):
        PredictionsWriter(out)
    PredictionsWriter(out, force=True).close()
    assert load_predictions(out)["frames"] == []


def test_interrupted_by_exception_keeps_finished_frames(tmp_path: Path) -> None:
    out = tmp_path / "predictions.json"
    with pytest.raises(KeyboardInterrupt), PredictionsWriter(out) as w:
        for i in range(5):
            if i == 3:
                raise KeyboardInterrupt
            w.write(None, _pred(i))
    doc = load_predictions(out)
    assert doc["complete"] is False and [f["frame"] for f in doc["frames"]] == [0, 1, 2]


def test_killed_run_is_recovered_from_the_partial_file(tmp_path: Path) -> None:
    """A process killed hard (os._exit, no cleanup) mid-run: its 4 finished frames survive."""
    out = tmp_path / "predictions.json"
    script = textwrap.dedent(f"""
        import os, numpy as np
        from posecli.inference.writers import PredictionsWriter
        from posecli.runtime import FramePrediction
        w = PredictionsWriter({str(out)!r}, fps=25.0)
        for i in range(4):
            w.write(None, FramePrediction(i, i / 25, np.zeros((1, 3, 2)), np.ones((1, 3)),
                                    np.array([[0, 0, 5, 5]]), np.ones(1)))
        w._fh.write('{{"frame": 4, "time_s"')  # a torn last line
        w._fh.flush()
        os._exit(1)
    """)
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 1, proc.stderr
    assert not out.exists() and partial_path(out).exists()
    doc = load_predictions(out)
    assert doc["complete"] is False and doc["fps"] == 25.0
    assert [f["frame"] for f in doc["frames"]] == [0, 1, 2, 3]
    with pytest.raises(DataError, match="no such predictions file"):
        load_predictions(tmp_path / "other.json")


def test_coco_results_list(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    with CocoResultsWriter(out, image_ids={"v.mp4#1": 101}) as w:
        w.write(None, _pred(0))
        w.write(None, _pred(1, n=1))
        w.write(None, _pred(2, n=0))
    results = json.loads(out.read_text())
    assert len(results) == 3 and [r["image_id"] for r in results] == [0, 0, 101]
    r = results[0]
    assert len(r["keypoints"]) == 9 and r["keypoints"][2] == pytest.approx(0.9)
    assert r["bbox"] == [1, 2, 10, 20] and r["category_id"] == 1 and r["track_id"] == 10
    assert r["score"] == pytest.approx(0.9 * 0.9, abs=1e-4)


def test_dlc_csv_single_and_multi_animal(tmp_path: Path) -> None:
    single = tmp_path / "single.csv"
    with DlcCsvWriter(single, ["a", "b", "c"]) as w:
        for i in range(4):
            w.write(None, _pred(i))
    rows = list(csv.reader(single.open()))
    assert [r[0] for r in rows[:3]] == ["scorer", "bodyparts", "coords"]
    assert rows[1][1:4] == ["a", "a", "a"] and rows[2][1:4] == ["x", "y", "likelihood"]
    assert len(rows) == 3 + 4 and all(len(r) == 1 + 9 for r in rows)
    assert rows[4][0] == "1" and rows[4][1:4] == ["1.000", "2.000", "0.9000"]
    assert rows[3][7:10] == ["", "", "0.9000"]  # NaN keypoint → empty cells

    multi = tmp_path / "multi.csv"
    with DlcCsvWriter(multi, ["a", "b", "c"], individuals=2) as w:
        w.write(None, _pred(0))  # tracks 10, 11
        swapped = _pred(1)
        swapped.track_ids = np.array([11, 10])
        w.write(None, swapped)
        w.write(None, _pred(2, n=0))
    rows = list(csv.reader(multi.open()))
    assert [r[0] for r in rows[:4]] == ["scorer", "individuals", "bodyparts", "coords"]
    assert rows[1][1] == "individual0" and rows[1][10] == "individual1" and len(rows[0]) == 19
    # the instance carrying track 10 stays in slot 0 although it is second in frame 1
    assert rows[5][1:3] == ["7.000", "8.000"] and rows[5][10:12] == ["1.000", "2.000"]
    assert rows[6][1:] == [""] * 18


def test_video_writer_frame_count_fps_and_size(tmp_path: Path) -> None:
    out = tmp_path / "render.mp4"
    with VideoWriter(out, 12.5, (64, 48)) as w:
        for i in range(15):
            w.write(np.full((48, 64, 3), i * 10, np.uint8))
        with pytest.raises(PoseCliError, match="frame size"):
            w.write(np.zeros((10, 10, 3), np.uint8))
    cap = cv2.VideoCapture(str(out))
    assert cap.get(cv2.CAP_PROP_FRAME_COUNT) == 15 and cap.get(cv2.CAP_PROP_FPS) == 12.5
    assert (cap.get(cv2.CAP_PROP_FRAME_WIDTH), cap.get(cv2.CAP_PROP_FRAME_HEIGHT)) == (64, 48)
    cap.release()
    assert not any(p.name.startswith("render.part") for p in tmp_path.iterdir())
    with pytest.raises(PoseCliError, match="already exists"):
        VideoWriter(out, 10, (64, 48))


def test_image_writer(tmp_path: Path) -> None:
    w = ImageWriter(tmp_path / "render", ext="png")
    a = w.write(np.zeros((8, 8, 3), np.uint8), frame=0, name="img01.jpg")
    b = w.write(np.zeros((8, 8, 3), np.uint8), frame=5, name="v.mp4#5")
    assert [a.name, b.name] == ["img01.png", "frame_000005.png"]
    assert cv2.imread(str(a)).shape == (8, 8, 3)
    with pytest.raises(PoseCliError, match="already exists"):
        w.write(np.zeros((8, 8, 3), np.uint8), frame=0, name="img01.jpg")
