"""``posecli export`` through Typer's CliRunner."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from posecli.cli.app import create_app
from posecli.runtime import open_exported


def test_export_command(checkpoints: dict[str, Path], tmp_path: Path, runner: CliRunner) -> None:
    app = create_app()
    out = tmp_path / "cli.onnx"
    args = ["export", str(checkpoints["rtmpose-t-small"]), "--to", "onnx", "--out", str(out)]
    res = runner.invoke(app, [*args, "--check", "--batch", "dynamic", "--opset", "17", "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert data["path"] == str(out) and data["check"]["passed"] is True
    assert data["flip_test"] is True and data["check"]["flip_test"] is True
    assert "flip test on, decode simcc" in data["test_time"]
    assert open_exported(out)[0].input_size == (96, 128)

    res = runner.invoke(app, args)
    assert res.exit_code == 1
    assert res.stderr.strip().count("\n") == 0 and "exists; pass --force" in res.stderr

    res = runner.invoke(app, [*args, "--force", "--batch", "0"])
    assert res.exit_code == 1 and "--batch must be 'dynamic'" in res.stderr

    ts = tmp_path / "cli.ts"
    res = runner.invoke(
        app, ["export", str(checkpoints["rtmpose-t-small"]), "--to", "torchscript", "-o", str(ts)]
    )
    assert res.exit_code == 0, res.output
    assert f"wrote {ts}" in res.stdout
    included = [line for line in res.stdout.splitlines() if line.startswith("included:")]
    assert len(included) == 1 and "flip test on" in included[0]

    res = runner.invoke(app, [*args, "--force", "--no-flip-test"])
    assert res.exit_code == 0, res.output
    assert "included: flip test off" in res.stdout
    assert open_exported(out)[0].flip_test is False


def test_export_help_lists_options(runner: CliRunner) -> None:
    res = runner.invoke(create_app(), ["export", "--help"])
    assert res.exit_code == 0
    for opt in ("--to", "--batch", "--input-size", "--opset", "--fp16", "--no-preprocess",
                "--no-flip-test", "--check", "--force"):  # fmt: skip
        assert opt in res.stdout
