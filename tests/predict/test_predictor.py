"""The Predictor: preprocessing parity with evaluation, batching, boxes and odd images."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.inference.load import load_predictor
from posecli.runtime import Predictor

from .conftest import VIDEO


def _frames(n: int) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(VIDEO))
    frames = [cap.read()[1] for _ in range(n)]
    cap.release()
    return frames


def test_whole_frame_single_image(predictor: Predictor) -> None:
    img = _frames(1)[0]
    res = predictor.predict(img)
    assert res.keypoints.shape == (1, 17, 2) and res.keypoint_scores.shape == (1, 17)
    assert np.allclose(res.bboxes, [[0, 0, img.shape[1], img.shape[0]]])
    assert np.isfinite(res.keypoints).all()


def test_batch_size_1_and_16_agree(tiny_ckpt: Path) -> None:
    frames = _frames(5)
    boxes = [np.array([[10, 20, 200, 300], [150, 100, 390, 400]], np.float32)] * 5
    one = load_predictor(tiny_ckpt, backend="torch", device="cpu", batch_size=1).predict(
        frames, boxes
    )
    many = load_predictor(tiny_ckpt, backend="torch", device="cpu", batch_size=16).predict(
        frames, boxes
    )
    assert len(one) == len(many) == 5
    for a, b in zip(one, many, strict=True):
        assert a.keypoints.shape == (2, 17, 2)
        np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
        np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores, atol=1e-4)


def test_boxes_move_keypoints_with_the_crop(predictor: Predictor) -> None:
    """Same crop content at another place in a bigger image → keypoints shift by the offset."""
    img = _frames(1)[0]
    big = np.zeros((img.shape[0] + 50, img.shape[1] + 70, 3), np.uint8)
    big[50:, 70:] = img
    box = np.array([[40, 60, 300, 330]], np.float32)
    a = predictor.predict(img, box)
    b = predictor.predict(big, box + np.array([70, 50, 70, 50], np.float32))
    np.testing.assert_allclose(b.keypoints - [70, 50], a.keypoints, atol=0.05)


def test_zero_size_boxes_are_skipped_and_empty_frames_ok(predictor: Predictor) -> None:
    img = _frames(1)[0]
    res = predictor.predict(img, np.array([[5, 5, 5, 40], [0, 0, 100, 100]], np.float32))
    assert len(res) == 1 and np.allclose(res.bboxes, [[0, 0, 100, 100]])
    empty = predictor.predict(img, np.zeros((0, 4), np.float32))
    assert empty.keypoints.shape == (0, 17, 2)


def test_alpha_and_greyscale_images(predictor: Predictor, tmp_path: Path) -> None:
    img = _frames(1)[0]
    bgra = cv2.cvtColor(img, cv2.COLOR_BGR2BGRA)
    grey = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    cv2.imwrite(str(tmp_path / "a.png"), bgra)
    ref = predictor.predict(img)
    np.testing.assert_allclose(predictor.predict(bgra).keypoints, ref.keypoints, atol=1e-4)
    np.testing.assert_allclose(
        predictor.predict(str(tmp_path / "a.png")).keypoints, ref.keypoints, atol=1e-4
    )
    assert predictor.predict(grey).keypoints.shape == (1, 17, 2)


def test_predictions_reproduce_evaluation(tiny_ckpt: Path) -> None:
    """Predicting the val images with the val boxes gives the eval keypoints and EPE."""
    import torch

    from posecli.api import load_checkpoint
    from posecli.data.loader import build_dataloader
    from posecli.engine.evaluate import predict_loader
    from posecli.engine.evaluation_run import evaluate_checkpoint

    metrics = evaluate_checkpoint(tiny_ckpt, split="val", device="cpu")
    model, recipe = load_checkpoint(tiny_ckpt)
    loader = build_dataloader(recipe, "val", shuffle=False)
    paths, boxes, gts, vis, ref = [], [], [], [], []
    for preds, meta in predict_loader(model, loader, torch.device("cpu")):
        ref.append(preds["keypoints"])
        boxes.append(meta["bbox"].reshape(-1, 4))
        gts.append(meta["keypoints"].reshape(len(preds["keypoints"]), -1, 2))
        vis.append(meta["keypoints_visible"].reshape(len(preds["keypoints"]), -1))
    for batch in loader:
        paths += [m["img_path"] for m in batch["meta"]]
    ref_kp, gt, visible = np.concatenate(ref), np.concatenate(gts), np.concatenate(vis) > 0
    bbs = np.concatenate(boxes)
    ours = load_predictor(tiny_ckpt, backend="torch", device="cpu", batch_size=7).predict(
        paths, list(bbs[:, None])
    )
    kp = np.concatenate([r.keypoints for r in ours])
    assert kp.shape == ref_kp.shape == (18, 17, 2)
    np.testing.assert_allclose(kp, ref_kp, atol=1e-3)
    epe = float(np.linalg.norm(kp - gt, axis=-1)[visible].mean())
    assert epe == pytest.approx(metrics["EPE"], abs=1e-3)
