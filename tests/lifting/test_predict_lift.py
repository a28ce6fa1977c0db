"""``posecli predict VIDEO --checkpoint 2D.pt --lift LIFTER.pt --render`` end to end on a clip of
the bundled mouse video (random-weight 2D model, synthetic-projection lifter: a smoke test)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.cli.app import create_app
from posecli.inference.lifting import coco_to_h36m
from tests.lifting._synthetic import train_mouse_lifter
from tests.predict._tiny import REPO, make_tiny_checkpoint

VIDEO = REPO / "examples" / "mirror-mouse" / "videos" / "test_vid.mp4"


def _clip(path: Path, n: int = 40) -> Path:
    cap = cv2.VideoCapture(str(VIDEO))
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    out = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (w, h))
    for _ in range(n):
        ok, frame = cap.read()
        assert ok
        out.write(frame)
    out.release()
    cap.release()
    return path


def test_coco_to_h36m_mapping() -> None:
    kp = np.arange(17 * 2, dtype=np.float32).reshape(17, 2)
    sc = np.linspace(0.1, 0.9, 17).astype(np.float32)
    h, s = coco_to_h36m(kp, sc)
    np.testing.assert_allclose(h[0], (kp[11] + kp[12]) / 2)  # root: mid-hip
    np.testing.assert_allclose(h[8], (kp[5] + kp[6]) / 2)  # thorax: mid-shoulder
    np.testing.assert_allclose(h[7], (h[0] + h[8]) / 2)  # spine
    np.testing.assert_allclose(h[10], (kp[1] + kp[2]) / 2)  # head: mid-eye
    np.testing.assert_allclose(h[9], kp[0])  # neck base: nose
    np.testing.assert_allclose(h[[1, 2, 3, 4, 5, 6]], kp[[12, 14, 16, 11, 13, 15]])  # legs
    np.testing.assert_allclose(h[[11, 12, 13, 14, 15, 16]], kp[[5, 7, 9, 6, 8, 10]])  # arms
    assert s[0] == pytest.approx((sc[11] + sc[12]) / 2)


@pytest.mark.slow
def test_predict_lift_writes_and_renders_3d(tmp_path: Path, runner) -> None:
    lifter, losses = train_mouse_lifter(tmp_path / "lifter.pt")
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])  # it learns the projections
    ckpt = make_tiny_checkpoint(tmp_path / "tiny.pt")
    out = tmp_path / "pred"
    res = runner.invoke(
        create_app(),
        [
            "-q",
            "predict",
            str(_clip(tmp_path / "clip.mp4")),
            "-c",
            str(ckpt),
            "--backend",
            "torch",
            "--device",
            "cpu",
            "--out",
            str(out),
            "--track",
            "--track-metric",
            "iou",
            "--render",
            "--lift",
            str(lifter),
        ],
    )
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "predictions.json").read_text())
    insts = [i for fr in doc["frames"] for i in fr["instances"]]
    assert len(doc["frames"]) == 40 and insts
    kp3 = np.array([i["keypoints_3d"] for i in insts])
    assert kp3.shape == (len(insts), 17, 3) and np.isfinite(kp3).all()
    assert doc["lifting"]["skeleton"] == "mirror_mouse" and doc["lifting"]["window"] == "centred"
    rows = (out / "predictions_3d.csv").read_text().splitlines()
    assert len(rows) == len(insts) + 1 and rows[0].count(",") == 1 + 17 * 3
    video = next(out.glob("*_pose.mp4"))
    cap = cv2.VideoCapture(str(video))
    assert int(cap.get(cv2.CAP_PROP_FRAME_COUNT)) == 40
    assert int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)) == 396 + 406  # 2D overlay | 3D view
    ok, frame = cap.read()
    assert ok and frame[:, 396:].std() > 5  # the 3D panel is drawn, not blank
