"""``posecli eval``: score a checkpoint on a recipe split with the recipe's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.recipe import SetOption


def eval_command(
    checkpoint: Annotated[Path, typer.Argument(help="A posecli checkpoint (best.pt, last.pt).")],
    split: Annotated[
        str, typer.Option("--split", help="Recipe split to evaluate: val, test or train.")
    ] = "val",
    data: Annotated[
        Path | None,
        typer.Option(
            "--data",
            help="Annotation file to evaluate instead of the split's own (COCO JSON, DLC CSV/H5, "
            "SLEAP .slp...).",
        ),
    ] = None,
    bbox_file: Annotated[
        Path | None,
        typer.Option("--bbox-file", help="COCO detection results to use instead of GT boxes."),
    ] = None,
    flip: Annotated[
        bool | None,
        typer.Option("--flip/--no-flip", help="Flip test (default: as the recipe says)."),
    ] = None,
    overrides: SetOption = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    batch_size: Annotated[int | None, typer.Option("--batch-size", min=1)] = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one flat JSON object of metrics.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Write the predictions as a COCO results JSON file."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite --out if it exists.")] = False,
) -> None:
    """Evaluate a checkpoint: COCO AP, PCK, AUC, EPE, NME as the recipe's eval.metrics say."""
    from rich.table import Table

    from posecli.cli.output import print_json, stdout_console
    from posecli.engine.evaluation_run import evaluate_checkpoint

    values = evaluate_checkpoint(
        checkpoint,
        split=split,
        data=data,
        bbox_file=bbox_file,
        flip_test=flip,
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
