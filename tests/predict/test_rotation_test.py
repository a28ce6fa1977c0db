"""The rotation test (``model.test.rotation_test``): the runtime (every backend) and the
model's own predict path average the same four quarter turns (the recipe check's refusals:
tests/cli/test_bad_inputs_recipe.py)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch

from posecli.inference.load import load_predictor

from .conftest import VIDEO

BOXES = np.array([[40, 30, 260, 250], [100, 60, 300, 200]], np.float32)


@pytest.fixture(scope="module")
def frame() -> np.ndarray:
    cap = cv2.VideoCapture(str(VIDEO))
    image = cap.read()[1]
    cap.release()
    return image


def test_runtime_equals_the_models_own_rotation_test(tiny_ckpt: Path, frame: np.ndarray) -> None:
    pred = load_predictor(tiny_ckpt, backend="torch", device="cpu", rotation_test=True)
    assert pred.spec.rotation_test and "rotation test" in pred.spec.test_time_summary()
    crops = pred.crops(frame, BOXES).images
    runtime = pred.raw_outputs(crops)
    model = pred.model
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).contiguous()
    own = model.predict_outputs(images, model.flip_indices, flip_test=True, rotation_test=True)
    scale = float(np.abs(own[0].numpy()).max())  # random weights: tiny logits
    for a, b in zip(runtime, own, strict=True):
        np.testing.assert_allclose(a, b.numpy(), rtol=1e-4, atol=1e-5 * scale)
    plain = model.predict_outputs(images, model.flip_indices, flip_test=True, rotation_test=False)
    assert np.abs(runtime[0] - plain[0].numpy()).max() > 0.1 * scale  # the turns do count


def test_onnx_and_torch_agree_with_the_rotation_test(tiny_ckpt: Path, frame: np.ndarray) -> None:
    pytest.importorskip("onnxruntime")
    ref = load_predictor(tiny_ckpt, backend="torch", device="cpu", rotation_test=True)
    ort = load_predictor(tiny_ckpt, backend="onnxruntime", device="cpu", rotation_test=True)
    a, b = ref.predict(frame, BOXES), ort.predict(frame, BOXES)
    np.testing.assert_allclose(a.keypoints, b.keypoints, atol=1e-3)
    np.testing.assert_allclose(a.keypoint_scores, b.keypoint_scores, atol=1e-4)
    plain = load_predictor(tiny_ckpt, backend="onnxruntime", device="cpu", rotation_test=False)
    assert not np.allclose(plain.predict(frame, BOXES).keypoints, b.keypoints, atol=1e-2)


def test_eval_takes_the_rotation_test_override(tiny_ckpt: Path) -> None:
    """``eval --rotation-test/--no-rotation-test`` reaches the model's predict path (the
    runtime's equality with that path: the first test)."""
    from posecli.engine.evaluation_run import evaluate_checkpoint

    on = evaluate_checkpoint(tiny_ckpt, split="val", device="cpu", rotation_test=True)
    off = evaluate_checkpoint(tiny_ckpt, split="val", device="cpu", rotation_test=False)
    assert on["EPE"] != pytest.approx(off["EPE"], abs=1e-4)
