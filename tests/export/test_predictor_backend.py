"""Exported files in ``posecli predict``: the runtime's one Predictor on ONNX Runtime."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.errors import PoseCliError
from posecli.inference.load import load_predictor

from .conftest import ExportCache
from .helpers import torch_predict


def test_exported_predictor_matches_pytorch(
    exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    predictor = load_predictor(exported("rtmpose-s").path, batch_size=2, device="cpu")
    assert predictor.device == "cpu" and predictor.input_size == (96, 128)
    assert predictor.backend.name == "onnxruntime" and predictor.flip_test is True
    assert predictor.skeleton is not None and predictor.skeleton.name == "coco"
    results = predictor.predict(frames)  # two runs of batch_size 2 (+ their mirrored crops)
    ref_kp, ref_sc = torch_predict(checkpoints["rtmpose-s"], frames, 1.25, False)
    assert np.abs(np.stack([r.keypoints[0] for r in results]) - ref_kp).max() <= 1e-3
    assert np.abs(np.stack([r.keypoint_scores[0] for r in results]) - ref_sc).max() <= 1e-4
    with pytest.raises(PoseCliError, match="is a onnxruntime file"):
        load_predictor(exported("rtmpose-s").path, backend="torch")


def test_run_predict_with_onnx_model(
    exported: ExportCache, frames: list[np.ndarray], tmp_path: Path
) -> None:
    from posecli.inference.run import PredictConfig, run_predict

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    predictor = load_predictor(exported("rtmpose-s").path, device="cpu")
    summary = run_predict(
        folder, predictor, config=PredictConfig(out=None, progress=False, keep_results=True)
    )
    assert summary.frames == 3 and summary.instances == 3 and summary.backend == "onnxruntime"
    direct = predictor.predict(frames[1]).keypoints
    np.testing.assert_allclose(summary.results[1].keypoints, direct, atol=1e-4)
