"""Torchvision person detectors: registry, offline weights resolution, plumbing with random init."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from posecli.errors import CheckpointError
from posecli.inference import detectors
from posecli.inference.boxes import DetectorBoxes
from posecli.inference.detectors import TorchvisionDetector, resolve_torchvision_weights
from posecli.plugins import PluginManager

from .test_boxes import _frame


def test_detectors_are_registered_by_snake_case_name() -> None:
    reg = PluginManager(autoload=False).registry("detectors")
    # torchvision's, and posecli's own bottom-up checkpoints as detectors
    assert set(reg.names()) == {*detectors.DETECTOR_ARCHS, "bottomup"}
    assert reg.get("centroid").name == "bottomup"
    assert reg.get("fcos").name == "fcos_resnet50_fpn"
    assert reg.get("SSDlite").factory is detectors.ssdlite320_mobilenet_v3_large
    assert "torchvision" in reg.get("retinanet").help


def test_torchvision_weights_come_from_the_hub_cache_only(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(detectors, "_hub_checkpoints_dir", lambda: tmp_path / "checkpoints")
    with pytest.raises(
        CheckpointError,
        match=r"fcos_resnet50_fpn_coco-99b0c9b7\.pth is not in the torch hub cache.*put it in .*checkpoints",
    ):
        resolve_torchvision_weights("fcos_resnet50_fpn", "torchvision://DEFAULT")
    (tmp_path / "checkpoints").mkdir()
    target = tmp_path / "checkpoints" / "fcos_resnet50_fpn_coco-99b0c9b7.pth"
    target.write_bytes(b"x")
    assert resolve_torchvision_weights("fcos_resnet50_fpn", "torchvision://COCO_V1") == target
    assert (
        resolve_torchvision_weights(
            "fcos_resnet50_fpn", "torchvision://FCOS_ResNet50_FPN_Weights.COCO_V1"
        )
        == target
    )
    with pytest.raises(CheckpointError, match="unknown weights"):
        resolve_torchvision_weights("fcos_resnet50_fpn", "torchvision://IMAGENET")


def test_random_detector_plumbing_and_weights_round_trip(tmp_path: Path) -> None:
    torch.manual_seed(0)
    kwargs = {"min_size": 64, "max_size": 96, "score_thresh": 0.0}
    det = TorchvisionDetector("retinanet_resnet50_fpn", **kwargs)
    image = np.random.default_rng(0).integers(0, 255, (60, 80, 3), np.uint8)
    boxes, scores = det(image)
    assert boxes.dtype == np.float32 and boxes.shape == (len(scores), 4) and len(scores) >= 1
    assert np.all(np.diff(scores) <= 0)
    weights = tmp_path / "det.pth"
    torch.save({"state_dict": det.model.state_dict()}, weights)
    again = TorchvisionDetector("retinanet_resnet50_fpn", weights, **kwargs)
    boxes2, _ = again(image)
    np.testing.assert_allclose(boxes2, boxes, atol=1e-4)
    provided = DetectorBoxes(det, score_thr=0.0, nms_thr=0.5, max_instances=5)(
        _frame(size=(80, 60))
    )
    assert provided.xyxy.shape[1] == 4 and len(provided) <= 5


def test_bad_weights_are_one_line_errors(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="not found"):
        TorchvisionDetector("ssdlite320_mobilenet_v3_large", tmp_path / "nope.pth")
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv.weight": torch.zeros(1)}, wrong)
    with pytest.raises(CheckpointError, match="do not match"):
        TorchvisionDetector("fasterrcnn_mobilenet_v3_large_fpn", wrong)
    with pytest.raises(CheckpointError, match="unknown detector"):
        TorchvisionDetector("yolo")
