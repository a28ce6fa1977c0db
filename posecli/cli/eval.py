"""``posecli eval``: score a checkpoint on a recipe split with the recipe's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import (
    BboxThrOption,
    DetectorOption,
    DetectorWeightsOption,
    DeviceOption,
    FlipTestOption,
    ForceOption,
    FromOption,
    RotationTestOption,
    SetOption,
    option,
)


def eval_command(
    checkpoint: Annotated[Path, typer.Argument(help="A posecli checkpoint (best.pt, last.pt).")],
    split: Annotated[str, option("--split", detail="Default: val.")] = "val",
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Annotation file to evaluate instead of the split's own, in any format "
            "(COCO JSON, DLC CSV/H5, SLEAP .slp, YOLO data.yaml...); keypoints are matched to "
            "the checkpoint's by name.",
        ),
    ] = None,
    data_format: FromOption = None,
    bbox_file: Annotated[
        Path | None, option("--bbox-file", detail="Used instead of the ground-truth boxes.")
    ] = None,
    detector: DetectorOption = None,
    detector_weights: DetectorWeightsOption = None,
    bbox_thr: BboxThrOption = 0.3,
    flip_test: FlipTestOption = None,
    rotation_test: RotationTestOption = None,
    overrides: SetOption = None,
    device: DeviceOption = "auto",
    batch_size: Annotated[
        int | None, option("--batch-size", detail="Default: the split's.", min=1)
    ] = None,
    as_json: Annotated[bool, option("--json", detail="One flat object of metrics.")] = False,
    out: Annotated[
        Path | None, option("--out", detail="The predictions as a COCO results JSON file.")
    ] = None,
    force: ForceOption = False,
) -> None:
    """Evaluate a checkpoint: COCO AP, PCK, AUC, EPE, NME as the recipe's eval.metrics say."""
    from rich.table import Table

    from posecli.cli.output import print_json, stdout_console
    from posecli.engine.evaluation_run import evaluate_checkpoint

    if data_format is not None and data is None:
        raise typer.BadParameter(
            "needs --data (the file whose format it names)", param_hint="--from"
        )
    values = evaluate_checkpoint(
        checkpoint,
        split=split,
        data=data,
        data_format=data_format,
        bbox_file=bbox_file,
        detector=detector,
        detector_weights=detector_weights,
        bbox_thr=bbox_thr,
        flip_test=flip_test,
        rotation_test=rotation_test,
        overrides=list(overrides or []),
        device=device,
        batch_size=batch_size,
        out=out,
        force=force,
    )
    if as_json:
        print_json(values)
        return
    table = Table(title=f"{checkpoint} on {split}")
    table.add_column("metric", style="bold")
    table.add_column("value", justify="right")
    for name, value in values.items():
        table.add_row(name, f"{value:.4f}")
    stdout_console().print(table)
