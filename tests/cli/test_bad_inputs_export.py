"""``posecli export`` on bad inputs: one line naming the culprit, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import assert_one_line, cli

CASES = {
    # case: (arguments after the checkpoint, exit code, culprits)
    "unknown --to": (["--to", "xml"], 1, ["'xml'", "onnx"]),
    "--batch 0": (["--batch", "0"], 1, ["--batch", "'0'"]),
    "--input-size not W,H": (["--input-size", "abc"], 1, ["--input-size", "'abc'"]),
    "--opset too old": (["--opset", "5"], 2, ["--opset"]),
    "existing --out": (["-o", "{t}/exists.onnx"], 1, ["exists.onnx", "--force"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments(case: str, tmp_path: Path, tiny_ckpt: Path) -> None:
    (tmp_path / "exists.onnx").write_bytes(b"the user's")
    args, code, culprits = CASES[case]
    assert_one_line(
        cli("export", tiny_ckpt, *[a.format(t=tmp_path) for a in args]), code, *culprits
    )
    assert (tmp_path / "exists.onnx").read_bytes() == b"the user's"


def test_bad_checkpoints(tmp_path: Path, tiny_ckpt: Path) -> None:
    assert_one_line(cli("export", tmp_path / "none.pt"), 1, "none.pt", "not found")
    trunc = tmp_path / "trunc.pt"
    trunc.write_bytes(tiny_ckpt.read_bytes()[:40_000])
    assert_one_line(cli("export", trunc), 1, "trunc.pt", "truncated")
