"""Export → check → the runtime on video frames, against the checkpoint's PyTorch paths."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posecli.export.check import random_crops
from posecli.runtime import Predictor, open_exported

from .conftest import ExportCache
from .helpers import torch_predict

ROUND_TRIP = [
    "rtmpose-t",
    "rtmpose-s",
    "rtmpose-t-heatmap-prior",
    pytest.param("hrnet-w32", marks=pytest.mark.slow),
    "rle",
    "res18",
    "simcc-res18",
    "regression-res18",
    "integral-res18",
    "udp-res18",
]


def _runtime(path: Path, **kwargs: object) -> Predictor:
    spec, backend = open_exported(path)
    return Predictor(spec, backend, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_onnx_round_trip_matches_pytorch(
    name: str, exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    """A default export carries the recipe's flip test and decode: the file through the
    runtime equals ``model.predict`` (the evaluation path), flip test included."""
    result = exported(name)
    assert result.report is not None and result.report.passed, result.report
    assert result.report.num_real > 0 and result.report.flip_test is True
    assert result.metadata["flip_test"] is True and result.metadata["spec_version"] == 2
    predictor = _runtime(result.path)
    ours = predictor.predict(frames)
    spec = predictor.spec
    ref_kp, ref_sc = torch_predict(checkpoints[name], frames, spec.padding, spec.use_udp)
    assert np.abs(np.stack([r.keypoints[0] for r in ours]) - ref_kp).max() <= 1e-3
    assert np.abs(np.stack([r.keypoint_scores[0] for r in ours]) - ref_sc).max() <= 1e-4


def test_no_flip_test_export(
    exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    result = exported("rtmpose-t-small", flip_test=False)
    assert result.metadata["flip_test"] is False and result.report.flip_test is False
    assert "flip test off" in result.summary
    ours = _runtime(result.path).predict(frames[:2])
    ref_kp, _ = torch_predict(checkpoints["rtmpose-t-small"], frames[:2], 1.25, False, False)
    assert np.abs(np.stack([r.keypoints[0] for r in ours]) - ref_kp).max() <= 1e-3
    # the runtime can still turn the flip test on for a file exported without it
    flipped = _runtime(result.path, flip_test=True).predict(frames[:2])
    ref_kp, _ = torch_predict(checkpoints["rtmpose-t-small"], frames[:2], 1.25, False, True)
    assert np.abs(np.stack([r.keypoints[0] for r in flipped]) - ref_kp).max() <= 1e-3


def test_dynamic_batch_sizes(exported: ExportCache) -> None:
    spec, backend = open_exported(exported("rtmpose-t-small").path)
    crops = random_crops(32, spec.input_size, seed=3)
    full = backend.run(crops)
    assert [o.shape for o in full] == [(32, 17, 192), (32, 17, 256)]
    for n in (1, 7, 32):
        part = backend.run(crops[:n])
        for a, b in zip(part, full, strict=True):
            np.testing.assert_allclose(a, b[:n], atol=1e-4)


def test_fixed_batch_pads_and_splits(exported: ExportCache) -> None:
    _, dyn = open_exported(exported("rle").path)
    _, fixed = open_exported(exported("rle", batch=4).path)
    assert fixed.fixed_batch == 4
    crops = random_crops(7, (96, 128), seed=1)
    np.testing.assert_allclose(fixed.run(crops)[0], dyn.run(crops)[0], atol=1e-4)


def test_torchscript_round_trip(
    exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    ts = exported("rtmpose-t-small", fmt="torchscript")
    assert ts.report is not None and ts.report.passed
    predictor = _runtime(ts.path)
    assert predictor.backend.name == "torchscript" and predictor.spec.keypoint_names[0] == "nose"
    kp = predictor.predict(frames[0]).keypoints
    ref_kp, _ = torch_predict(checkpoints["rtmpose-t-small"], frames[:1], 1.25, False)
    assert np.abs(kp - ref_kp).max() <= 1e-3
    onnx_kp = _runtime(exported("rtmpose-t-small").path).predict(frames[0]).keypoints
    assert np.abs(kp - onnx_kp).max() <= 1e-3


def test_no_preprocess_variant_agrees(exported: ExportCache, frames: list[np.ndarray]) -> None:
    plain = _runtime(exported("res18").path)
    raw = exported("res18", preprocess=False)
    assert raw.metadata["output_names"] == ["heatmaps"] and raw.metadata["preprocess"] is False
    assert raw.report is not None and raw.report.passed
    other = _runtime(raw.path)
    assert other.spec.normalize is True
    a, b = plain.predict(frames[:2]), other.predict(frames[:2])
    for x, y in zip(a, b, strict=True):
        np.testing.assert_allclose(x.keypoints, y.keypoints, atol=1e-3)
        np.testing.assert_allclose(x.keypoint_scores, y.keypoint_scores, atol=1e-4)


def test_input_size_override(exported: ExportCache) -> None:
    result = exported("res18", input_size=(64, 96))
    assert result.metadata["input_size"] == [64, 96]
    assert result.metadata["codec"]["heatmap_size"] == [16, 24]
    assert result.report is not None and result.report.passed


def test_fp16_export(exported: ExportCache, frames: list[np.ndarray]) -> None:
    result = exported("rle", fp16=True)
    assert result.metadata["fp16"] is True
    assert result.report is not None and result.report.passed
    assert result.report.tolerance == 5e-2
    kp = _runtime(result.path).predict(frames[0]).keypoints
    assert kp.dtype == np.float32 and kp.shape == (1, 17, 2)
