"""Export → check → posecli.deploy on video frames, against posecli's PyTorch path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import posecli.deploy
from posecli.export.check import random_crops

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


@pytest.mark.parametrize("name", ROUND_TRIP)
def test_onnx_round_trip_matches_pytorch(
    name: str, exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    result = exported(name)
    assert result.report is not None and result.report.passed, result.report
    assert result.report.num_real > 0
    # graph decode for argmax codecs; DARK-UDP and soft-argmax refinements stay in Python
    assert result.metadata["decode"] is (name not in ("udp-res18", "rtmpose-t-heatmap-prior"))
    model = posecli.deploy.load(result.path)
    kp, sc = [], []
    for frame in frames:
        h, w = frame.shape[:2]
        k, s = model(frame, [[0, 0, w, h]])
        kp.append(k[0])
        sc.append(s[0])
    ref_kp, ref_sc = torch_predict(checkpoints[name], frames, model.padding, model.use_udp)
    assert np.abs(np.stack(kp) - ref_kp).max() <= 1e-3
    assert np.abs(np.stack(sc) - ref_sc).max() <= 1e-4


def test_dynamic_batch_sizes(exported: ExportCache) -> None:
    model = posecli.deploy.load(exported("rtmpose-t-small").path)
    crops = random_crops(32, model.input_size, seed=3)
    full_kp, full_sc = model.predict_crops(crops)
    assert full_kp.shape == (32, 17, 2) and full_sc.shape == (32, 17)
    for n in (1, 7, 32):
        kp, sc = model.predict_crops(crops[:n])
        assert kp.shape == (n, 17, 2) and sc.shape == (n, 17)
        np.testing.assert_allclose(kp, full_kp[:n], atol=1e-4)
        np.testing.assert_allclose(sc, full_sc[:n], atol=1e-5)


def test_fixed_batch_pads_and_splits(exported: ExportCache) -> None:
    dyn = posecli.deploy.load(exported("rle").path)
    fixed = posecli.deploy.load(exported("rle", batch=4).path)
    assert fixed.fixed_batch == 4 and fixed.metadata["batch"] == 4
    crops = random_crops(7, dyn.input_size, seed=1)
    np.testing.assert_allclose(
        fixed.predict_crops(crops)[0], dyn.predict_crops(crops)[0], atol=1e-4
    )


def test_torchscript_round_trip(
    exported: ExportCache, checkpoints: dict[str, Path], frames: list[np.ndarray]
) -> None:
    ts = exported("rtmpose-t-small", fmt="torchscript")
    assert ts.report is not None and ts.report.passed
    model = posecli.deploy.load(ts.path)
    assert model.metadata["format"] == "torchscript"
    assert model.keypoint_names[0] == "nose"
    kp, _ = model(frames[0])
    ref_kp, _ = torch_predict(checkpoints["rtmpose-t-small"], frames[:1], 1.25, False)
    assert np.abs(kp - ref_kp).max() <= 1e-3
    onnx_kp, _ = posecli.deploy.load(exported("rtmpose-t-small").path)(frames[0])
    assert np.abs(kp - onnx_kp).max() <= 1e-3
    for n in (1, 7):
        assert model.predict_crops(random_crops(n, model.input_size))[0].shape == (n, 17, 2)


def test_no_preprocess_no_decode_variants_agree(exported: ExportCache) -> None:
    plain = posecli.deploy.load(exported("res18").path)
    raw = exported("res18", preprocess=False, decode=False)
    assert raw.metadata["output_names"] == ["heatmaps"]
    assert raw.report is not None and raw.report.passed
    other = posecli.deploy.load(raw.path)
    crops = random_crops(5, plain.input_size, seed=2)
    kp_a, sc_a = plain.predict_crops(crops)
    kp_b, sc_b = other.predict_crops(crops)
    np.testing.assert_allclose(kp_a, kp_b, atol=1e-3)
    np.testing.assert_allclose(sc_a, sc_b, atol=1e-4)


def test_flip_test_in_graph(exported: ExportCache) -> None:
    result = exported("rtmpose-t-small", flip_test=True)
    assert result.metadata["flip_test"] is True
    assert result.report is not None and result.report.passed


def test_input_size_override(exported: ExportCache) -> None:
    result = exported("res18", input_size=(64, 96))
    assert result.metadata["input_size"] == [64, 96]
    assert result.metadata["codec"]["heatmap_size"] == [16, 24]
    assert result.report is not None and result.report.passed


def test_fp16_export(exported: ExportCache) -> None:
    result = exported("rle", fp16=True)
    assert result.metadata["fp16"] is True
    assert result.report is not None and result.report.passed
    assert result.report.tolerance == 5e-2
    kp, _ = posecli.deploy.load(result.path).predict_crops(random_crops(3, (96, 128)))
    assert kp.dtype == np.float32 and kp.shape == (3, 17, 2)
