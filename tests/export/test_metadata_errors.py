"""Metadata read back, overwrite protection, corrupted files, untraceable plugin components."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest
import torch

from posecli import __version__
from posecli.api import load_checkpoint
from posecli.cli.app import error_line
from posecli.errors import PoseCliError
from posecli.export.errors import ExportError
from posecli.export.exporter import export_checkpoint, export_model
from posecli.export.onnx import read_onnx_metadata
from posecli.export.torchscript import read_torchscript_metadata
from posecli.runtime import open_exported
from posecli.runtime.backends import OrtBackend

from .conftest import ExportCache

COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def test_metadata_read_back(exported: ExportCache) -> None:
    path = exported("rle").path
    meta = read_onnx_metadata(path)
    assert meta == OrtBackend(path).metadata()
    assert meta["posecli_version"] == __version__
    assert meta["recipe"] == "rle-res50_coco-256x192"
    assert meta["skeleton"] == "coco"
    assert meta["keypoint_names"][:3] == ["nose", "left_eye", "right_eye"]
    assert meta["flip_indices"] == COCO_FLIP
    assert [15, 13] in meta["skeleton_links"]  # left_ankle - left_knee
    assert meta["input_size"] == [96, 128]
    assert meta["codec"] == {"name": "regression", "input_size": [96, 128]}
    assert meta["output_kind"] == "coords" and meta["flip_test"] is True
    assert meta["flip"] == {
        "flip_mode": "heatmap", "shift_heatmap": False, "simcc_shift_bins": 0.0,
        "shift_coords": True,
    }  # fmt: skip
    assert meta["batch"] == "dynamic" and meta["output_names"] == ["coords"]
    assert meta["bbox_padding"] == 1.25 and meta["use_udp"] is False


def test_torchscript_metadata(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    path = export_checkpoint(checkpoints["rle"], tmp_path / "m.ts", fmt="torchscript").path
    meta = read_torchscript_metadata(path)
    assert meta["flip_indices"] == COCO_FLIP and meta["format"] == "torchscript"


def test_never_overwrites_without_force(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "m.onnx"
    out.write_bytes(b"keep me")
    with pytest.raises(ExportError, match="exists; pass --force"):
        export_checkpoint(checkpoints["rle"], out)
    assert out.read_bytes() == b"keep me"
    export_checkpoint(checkpoints["rle"], out, force=True)
    assert out.read_bytes() != b"keep me"


def test_corrupted_onnx_is_a_one_line_error(exported: ExportCache, tmp_path: Path) -> None:
    good = exported("rle").path
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    with pytest.raises(PoseCliError) as info:
        open_exported(bad)
    line = error_line(info.value)
    assert "\n" not in line and str(bad) in line and "not a loadable ONNX model" in line
    with pytest.raises(PoseCliError, match="no such model file"):
        open_exported(tmp_path / "missing.onnx")


def test_rtmcc_input_size_mismatch(checkpoints: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ExportError, match="input size 128x128 does not fit"):
        export_checkpoint(checkpoints["rtmpose-s"], tmp_path / "x.onnx", input_size=(128, 128))


class _Opaque(torch.autograd.Function):
    @staticmethod
    def forward(ctx: object, x: torch.Tensor) -> torch.Tensor:
        return x * 1.0

    @staticmethod
    def backward(ctx: object, g: torch.Tensor) -> torch.Tensor:
        return g


class OpaqueHead(torch.nn.Module):
    """A plugin-style head using a Python autograd.Function (TorchScript cannot save it) and an
    operator ONNX has no symbolic for (``linalg_svdvals``)."""

    def __init__(self, head: torch.nn.Module) -> None:
        super().__init__()
        self.inner = head

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        out = _Opaque.apply(self.inner(feats))
        return out + torch.linalg.svdvals(out[:, :2, :2]).sum() * 0

    def postprocess(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.inner.postprocess(outputs)


@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_untraceable_plugin_component_is_named(
    fmt: str, checkpoints: dict[str, Path], tmp_path: Path
) -> None:
    model, recipe = load_checkpoint(checkpoints["rle"])
    model.head = OpaqueHead(model.head)
    with pytest.raises(ExportError) as info:
        export_model(model, recipe, tmp_path / f"x.{fmt}", fmt=fmt)
    line = error_line(info.value)
    assert "\n" not in line
    assert f"cannot export model.head ({__name__}.OpaqueHead) to {fmt}" in line
    assert not (tmp_path / f"x.{fmt}").exists()
