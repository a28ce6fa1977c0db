"""The exported-model backend of ``posecli predict`` (``DeployedPredictor``)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.errors import PoseCliError
from posecli.export.predictor import DeployedPredictor

from .conftest import ExportCache
from .helpers import torch_predict


def test_deployed_predictor_matches_pytorch(
    exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    predictor = DeployedPredictor(exported("rtmpose-s").path, batch_size=2, device="cpu")
    assert str(predictor.device) == "cpu" and predictor.input_size == (96, 128)
    assert predictor.skeleton is not None and predictor.skeleton.name == "coco"
    parts = [predictor.crops(f) for f in frames]
    crops = type(parts[0])(
        np.concatenate([p.images for p in parts]),
        np.concatenate([p.centers for p in parts]),
        np.concatenate([p.scales for p in parts]),
    )
    kp, sc = predictor.infer(crops)  # two runs of batch_size 2
    ref_kp, ref_sc = torch_predict(checkpoints["rtmpose-s"], frames, 1.25, False)
    assert np.abs(kp - ref_kp).max() <= 1e-3
    assert np.abs(sc - ref_sc).max() <= 1e-4
    with pytest.raises(PoseCliError, match="exported without flip test"):
        DeployedPredictor(exported("rtmpose-s").path, flip_test=True)


def test_run_predict_with_onnx_model(
    exported: ExportCache, frames: list[np.ndarray], tmp_path: Path
) -> None:
    from posecli.inference.run import PredictConfig, run_predict

    folder = tmp_path / "frames"
    folder.mkdir()
    for i, frame in enumerate(frames):
        cv2.imwrite(str(folder / f"{i:03d}.png"), frame)
    predictor = DeployedPredictor(exported("rtmpose-s").path, device="cpu")
    summary = run_predict(
        folder, predictor, config=PredictConfig(out=None, progress=False, keep_results=True)
    )
    assert summary.frames == 3 and summary.instances == 3
    direct = predictor.predict(frames[1])[0]
    np.testing.assert_allclose(summary.results[1].keypoints, direct, atol=1e-4)
