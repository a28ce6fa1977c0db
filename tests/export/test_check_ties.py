"""The export parity check on an untrained model: tied maxima are not compared, real
differences still fail."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posecli.api import build_model, skeleton_metainfo
from posecli.data.metainfo import load_skeleton
from posecli.export.check import check_exported, compare_predictors
from posecli.export.exporter import export_model
from posecli.recipe import load_recipe

pytestmark = pytest.mark.slow


def _export(tmp: Path, scale: float) -> tuple[object, object, Path]:
    """RTMPose-t with random weights; ``scale`` multiplies the SimCC classifiers' weights
    (1: flat, tied outputs; large: clear maxima)."""
    import torch

    torch.manual_seed(0)
    recipe = load_recipe("coco/rtmpose-t.toml", ["model.pretrained=[]"])
    model = build_model(recipe, pretrained=False).eval()
    with torch.no_grad():
        for layer in (model.head.cls_x, model.head.cls_y):
            layer.weight.mul_(scale)
    out = tmp / f"rtmpose-t-{scale:g}.onnx"
    export_model(model, recipe, out, metainfo=skeleton_metainfo(load_skeleton("coco")))
    return model, recipe, out


@pytest.fixture(scope="module")
def untrained(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, Path]:
    return _export(tmp_path_factory.mktemp("ties"), 1.0)


@pytest.fixture(scope="module")
def decisive(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object, Path]:
    return _export(tmp_path_factory.mktemp("decisive"), 1e5)


def test_untrained_model_passes_with_ties_counted(untrained: tuple[object, object, Path]) -> None:
    """Flat outputs tie: keypoints are not comparable, the raw outputs still are."""
    model, recipe, out = untrained
    report = check_exported(out, model, recipe)
    assert report.passed, report.summary()
    assert report.max_abs_raw < 1e-4
    assert report.num_unstable > 0
    assert "keypoints with tied maxima not compared" in report.summary()


def test_decisive_model_compares_keypoints(decisive: tuple[object, object, Path]) -> None:
    model, recipe, out = decisive
    report = check_exported(out, model, recipe)
    assert report.passed, report.summary()
    assert report.num_unstable < report.num_real * 17 // 2


def test_a_real_difference_still_fails(decisive: tuple[object, object, Path]) -> None:
    from posecli.export.check import BUNDLED_VIDEO, video_frames
    from posecli.runtime import Predictor, open_exported
    from posecli.runtime.backends import TorchBackend

    model, _, out = decisive
    spec, runner = open_exported(out, device="cpu")

    class Shifted:
        """The exported runtime with its x distributions moved by 3 bins."""

        name, device, threads = "shifted", "cpu", None

        def run(self, crops: np.ndarray) -> list[np.ndarray]:
            outs = runner.run(crops)
            return [np.roll(outs[0], 3, axis=-1), *outs[1:]]

        def set_threads(self, threads: int) -> None:
            runner.set_threads(threads)

    reference = Predictor(
        spec.replace(normalize=False), TorchBackend(model, "cpu", channels_last=False)
    )
    report = compare_predictors(
        Predictor(spec, Shifted()), reference, frames=video_frames(BUNDLED_VIDEO, 2)
    )
    assert not report.passed
    assert report.max_abs_keypoints > 1.0
