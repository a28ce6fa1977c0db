"""Checkpoints of small random-weight models for the export tests (built once per session)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pytest

from posecli.api import build_model, skeleton_metainfo
from posecli.data.metainfo import load_skeleton
from posecli.engine.checkpoint import save_checkpoint
from posecli.recipe import load_recipe

REPO = Path(__file__).resolve().parents[2]
VIDEO = REPO / "examples/mirror-mouse/videos/test_vid.mp4"

_SMALL_RES = ["model.backbone.depth=18", "model.head.in_channels=512"]
MODELS: dict[str, tuple[str, list[str]]] = {
    "rtmpose-t": ("coco/rtmpose-t.toml", []),  # full 256x192: the benchmarked model
    "rtmpose-t-small": (
        "coco/rtmpose-t.toml",
        [
            "codec.input_size=[96,128]",
            "model.head.input_size=[96,128]",
            "model.head.in_featuremap_size=[3,4]",
        ],
    ),
    "rtmpose-t-heatmap-prior": (  # the mouse recipe's head options
        "coco/rtmpose-t.toml",
        [
            "codec.input_size=[96,128]",
            "model.head.input_size=[96,128]",
            "model.head.in_featuremap_size=[3,4]",
            "model.head.heatmap_prior=true",
            "codec.soft_argmax_beta=10.0",
        ],
    ),
    "rtmpose-s": (
        "coco/rtmpose-s.toml",
        [
            "codec.input_size=[96,128]",
            "model.head.input_size=[96,128]",
            "model.head.in_featuremap_size=[3,4]",
        ],
    ),
    "hrnet-w32": (
        "coco/hrnet-w32.toml",
        ["codec.input_size=[64,96]", "codec.heatmap_size=[16,24]"],
    ),
    "rle": (
        "coco/rle-res50.toml",
        [*_SMALL_RES, "codec.input_size=[96,128]", "model.head.input_size=[96,128]"],
    ),
    "res18": (
        "coco/res50.toml",
        [*_SMALL_RES, "codec.input_size=[96,128]", "codec.heatmap_size=[24,32]"],
    ),
    "simcc-res18": (
        "coco/simcc-res50.toml",
        [
            *_SMALL_RES,
            "codec.input_size=[96,128]",
            "model.head.input_size=[96,128]",
            "model.head.in_featuremap_size=[3,4]",
        ],
    ),
    "regression-res18": (
        "coco/rle-res50.toml",
        [
            *_SMALL_RES,
            "codec.input_size=[96,128]",
            'model.head={name="regression_head",in_channels=512,num_joints=17,'
            'input_size=[96,128],loss={name="smooth_l1"}}',
        ],
    ),
    "integral-res18": (
        "coco/res50.toml",
        [
            "model.backbone.depth=18",
            'codec={name="integral_regression",input_size=[96,128],heatmap_size=[24,32],sigma=2.0}',
            'model.head={name="integral_regression_head",in_channels=512,input_size=[96,128],'
            "deconv_out_channels=[64,64,64],deconv_kernel_sizes=[4,4,4]}",
        ],
    ),
    "udp-res18": (
        "coco/res50.toml",
        [
            *_SMALL_RES,
            'codec={name="udp_heatmap",input_size=[96,128],heatmap_size=[24,32],sigma=2.0}',
        ],
    ),
}


def make_checkpoint(name: str, directory: Path) -> Path:
    """Build model ``name`` (random weights, seeded) and save a posecli checkpoint."""
    import torch

    torch.manual_seed(0)
    recipe_file, overrides = MODELS[name]
    recipe = load_recipe(REPO / "recipes" / recipe_file, overrides)
    model = build_model(recipe, pretrained=False).eval()
    if getattr(model.head, "heatmap_prior", False):
        # a trained head's maps are peaked; near-zero random ones give a flat prior whose
        # tied maxima make the argmax (and the soft-argmax window) a coin toss
        torch.nn.init.normal_(model.head.final_layer.weight, std=0.05)
    skeleton = load_skeleton(recipe.data.skeleton)
    path = directory / f"{name}.pt"
    save_checkpoint(path, model, recipe, metainfo=skeleton_metainfo(skeleton))
    return path


class LazyCheckpoints(dict):  # type: ignore[type-arg]
    """``name → checkpoint path``, each built on first use."""

    def __init__(self, directory: Path) -> None:
        super().__init__()
        self.directory = directory

    def __missing__(self, name: str) -> Path:
        self[name] = path = make_checkpoint(name, self.directory)
        return path


@pytest.fixture(scope="session")
def checkpoints(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    return LazyCheckpoints(tmp_path_factory.mktemp("ckpt"))


@pytest.fixture(scope="session")
def frames() -> list[np.ndarray]:
    """Three frames of the bundled video (BGR uint8)."""
    cap = cv2.VideoCapture(str(VIDEO))
    out = []
    while len(out) < 3:
        ok, frame = cap.read()
        assert ok, f"cannot read {VIDEO}"
        out.append(frame)
    cap.release()
    return out


class ExportCache:
    """Export each ``(model, options)`` once per session (with ``check=True``)."""

    def __init__(self, checkpoints: dict[str, Path], directory: Path) -> None:
        self.checkpoints = checkpoints
        self.directory = directory
        self.results: dict[tuple[Any, ...], Any] = {}

    def __call__(self, name: str, fmt: str = "onnx", **options: Any) -> Any:
        from posecli.export.exporter import FORMATS, export_checkpoint

        key = (name, fmt, *sorted(options.items()))
        if key not in self.results:
            out = self.directory / f"{name}-{len(self.results)}{FORMATS[fmt]}"
            self.results[key] = export_checkpoint(
                self.checkpoints[name], out, fmt=fmt, check=True, **options
            )
        return self.results[key]


@pytest.fixture(scope="session")
def exported(checkpoints: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> ExportCache:
    return ExportCache(checkpoints, tmp_path_factory.mktemp("exported"))


@pytest.fixture(scope="session", autouse=True)
def export_cache(tmp_path_factory: pytest.TempPathFactory):
    """``--backend auto`` exports into a temporary cache, never the user's."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSECLI_CACHE_DIR", str(tmp_path_factory.mktemp("posecli-cache")))
        yield
