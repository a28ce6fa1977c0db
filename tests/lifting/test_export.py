"""``posecli export`` of lifters: ONNX (metadata) and TorchScript, ``--check`` parity."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from posecli.cli.app import create_app
from tests.lifting._synthetic import SMALL, small_lifter_checkpoint


def _ckpt(name: str, tmp_path: Path) -> Path:
    return small_lifter_checkpoint(name, tmp_path / f"{name}.pt")


@pytest.mark.parametrize("name", sorted(SMALL))
@pytest.mark.parametrize("fmt", ["onnx", "torchscript"])
def test_export_lifter_with_check(name: str, fmt: str, tmp_path: Path, runner) -> None:
    ckpt = _ckpt(name, tmp_path)
    out = tmp_path / f"{name}.{'onnx' if fmt == 'onnx' else 'ts'}"
    res = runner.invoke(
        create_app(), ["export", str(ckpt), "--to", fmt, "--out", str(out), "--check", "--json"]
    )
    assert res.exit_code == 0, res.output
    info = json.loads(res.stdout[res.stdout.index("{") :])
    assert info["check"]["passed"] and info["check"]["max_abs_diff"] < 1e-4
    assert out.is_file()
    if fmt == "torchscript":  # the metadata where every TorchScript reader looks for it
        from posecli.export.torchscript import read_torchscript_metadata

        meta = read_torchscript_metadata(out)
        assert meta["kind"] == "lifting"
        assert meta["seq_len"] == (27 if name == "videopose3d-27" else 9)
    if fmt == "onnx":
        import onnx

        props = {p.key: json.loads(p.value) for p in onnx.load(str(out)).metadata_props}
        assert props["posecli.kind"] == "lifting"
        assert props["posecli.seq_len"] == (27 if name == "videopose3d-27" else 9)
        assert props["posecli.codec"]["name"] == (
            "video_pose_lifting" if "video" in name else "motionbert"
        )
