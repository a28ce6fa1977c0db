"""``posecli convert-dataset``: convert between dataset formats (thin layer over
:func:`posecli.data.converters.convert_dataset`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.output import print_json, stdout_console


def convert_dataset_command(
    src: Annotated[
        Path,
        typer.Argument(
            help="Source file: COCO/CrowdPose/AIC/MPII JSON, DeepLabCut CSV/H5, SLEAP .slp or YOLO data.yaml."
        ),
    ],
    from_format: Annotated[
        str,
        typer.Option("--from", help="Source format: coco, dlc, sleap, yolo, mpii, crowdpose, aic."),
    ],
    to_format: Annotated[str, typer.Option("--to", help="Output format: coco, yolo or dlc.")],
    out: Annotated[
        Path,
        typer.Option("--out", "-o", help="Output file (coco: .json, dlc: .csv) or folder (yolo)."),
    ],
    images: Annotated[
        Path | None,
        typer.Option(
            "--images",
            help="Image folder of the source (SLEAP: folder to extract video frames into).",
        ),
    ] = None,
    skeleton: Annotated[
        str | None,
        typer.Option(
            "--skeleton",
            help="Skeleton name or TOML file (default: from the data, or inferred with a warning).",
        ),
    ] = None,
    split: Annotated[
        str | None,
        typer.Option(
            "--split", help="Write train/val outputs, e.g. val=0.1 (random images, seeded)."
        ),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the --split draw.")] = 0,
    bbox: Annotated[
        str | None,
        typer.Option(
            "--bbox", help="DeepLabCut boxes: keypoints (extent, default) or image (whole frame)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Overwrite existing outputs.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print the summary as one JSON document.")
    ] = False,
) -> None:
    """Convert a dataset between formats (COCO area and num_keypoints are computed when missing)."""
    from posecli.data.converters import convert_dataset

    summary = convert_dataset(
        src,
        from_format,
        to_format,
        out,
        images=images,
        skeleton=skeleton,
        split=split,
        seed=seed,
        force=force,
        bbox=bbox,
    )
    if as_json:
        print_json(summary)
        return
    con = stdout_console()
    for note in summary["warnings"]:
        con.print(f"[yellow]warning:[/yellow] {note}")
    parts = ", ".join(
        f"{k}: {summary['images'][k]} images / {summary['instances'][k]} instances"
        for k in summary["images"]
    )
    con.print(
        f"{summary['from']} → {summary['to']} ({summary['skeleton']}, {summary['num_keypoints']} keypoints): {parts}"
    )
    if summary["frames_extracted"]:
        con.print(f"extracted {summary['frames_extracted']} video frames")
    for path in summary["written"]:
        con.print(f"wrote {path}")
