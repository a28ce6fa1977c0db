"""``posecli export``: a checkpoint → a self-contained ONNX or TorchScript file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import ForceOption, JsonOption, concept, option
from posecli.export.errors import ExportError


def parse_batch(text: str) -> int | None:
    """``dynamic`` → None; ``N`` → N (≥ 1)."""
    if text.strip().lower() == "dynamic":
        return None
    try:
        n = int(text)
    except ValueError:
        raise ExportError(
            f"--batch must be 'dynamic' or a positive integer, got {text!r}"
        ) from None
    if n < 1:
        raise ExportError(f"--batch must be 'dynamic' or a positive integer, got {text!r}")
    return n


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``W,H`` (or ``WxH``) → ``(w, h)``."""
    if text is None:
        return None
    parts = text.lower().replace("x", ",").split(",")
    try:
        w, h = (int(p) for p in parts)
    except ValueError:
        raise ExportError(f"--input-size must be W,H (e.g. 192,256), got {text!r}") from None
    if w < 1 or h < 1:
        raise ExportError(f"--input-size must be positive, got {text!r}")
    return w, h


def export_command(
    checkpoint: Annotated[Path, typer.Argument(help="A posecli checkpoint (best.pt, last.pt).")],
    fmt: Annotated[str, option("--to", detail="onnx or torchscript.")] = "onnx",
    out: Annotated[
        Path | None,
        option("--out", detail="A file (default: the checkpoint's name, .onnx/.ts)."),
    ] = None,
    batch: Annotated[
        str, typer.Option("--batch", help="'dynamic' batch axis or a fixed batch size N.")
    ] = "dynamic",
    input_size: Annotated[
        str | None,
        typer.Option("--input-size", help="Crop size W,H (default: the recipe's)."),
    ] = None,
    opset: Annotated[int, typer.Option("--opset", min=11, help="ONNX opset.")] = 17,
    fp16: Annotated[
        bool, typer.Option("--fp16", help="Half-precision weights (inputs/outputs stay fp32).")
    ] = False,
    preprocess: Annotated[
        bool,
        typer.Option(
            "--preprocess/--no-preprocess",
            help="Graph takes BGR 0-255 crops and normalises them (else normalised RGB).",
        ),
    ] = True,
    flip_test: Annotated[
        bool | None,
        typer.Option(
            "--flip-test/--no-flip-test",
            help=concept(
                "--flip-test",
                "When the file runs (in posecli's runtime, outside the graph). "
                "Default: as the recipe says.",
            ),
        ),
    ] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check",
            help="Compare with the checkpoint's PyTorch predict path (flip test included) on "
            "video frames; fail above 1e-3 px (fp32).",
        ),
    ] = False,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Export a checkpoint to ONNX or TorchScript: preprocessing and network in the graph; the
    recipe's flip test and decode options in the metadata, run by posecli's runtime."""
    from posecli.cli.app import quiet_enabled
    from posecli.cli.output import print_json
    from posecli.export.exporter import export_checkpoint

    fmt = fmt.lower()
    if fmt == "ts":
        fmt = "torchscript"
    result = export_checkpoint(
        checkpoint,
        out,
        fmt=fmt,
        batch=parse_batch(batch),
        input_size=parse_size(input_size),
        opset=opset,
        fp16=fp16,
        preprocess=preprocess,
        flip_test=flip_test,
        check=check,
        force=force,
    )
    if as_json:
        print_json(
            {
                "path": str(result.path),
                "format": result.format,
                "exporter": result.exporter,
                "test_time": result.summary,
                "flip_test": result.metadata["flip_test"],
                "check": result.report.to_dict() if result.report else None,
            }
        )
        return
    if quiet_enabled():
        return
    typer.echo(f"wrote {result.path} ({result.format}, exporter: {result.exporter})")
    typer.echo(f"included: {result.summary} (run by posecli's runtime, outside the graph)")
    if result.report is not None:
        typer.echo(f"check passed: {result.report.summary()}")
