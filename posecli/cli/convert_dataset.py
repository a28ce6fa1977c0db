"""``posecli convert-dataset``: convert between dataset formats (thin layer over
:func:`posecli.data.converters.convert_dataset`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import (
    ForceOption,
    FromOption,
    JsonOption,
    SkeletonOption,
    option,
)
from posecli.cli.output import print_json, stdout_console


def convert_dataset_command(
    src: Annotated[
        Path,
        typer.Argument(
            help="Source file: COCO/CrowdPose/AIC/MPII JSON, DeepLabCut CSV/H5, SLEAP .slp or "
            "YOLO data.yaml."
        ),
    ],
    to_format: Annotated[str, option("--to", detail="coco, yolo or dlc.")],
    out: Annotated[
        Path, option("--out", detail="coco: a .json file, dlc: a .csv file, yolo: a folder.")
    ],
    from_format: FromOption = None,
    images: Annotated[
        Path | None,
        option("--images", detail="SLEAP: the folder to extract video frames into."),
    ] = None,
    skeleton: SkeletonOption = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(
            "--val-fraction",
            help="Also split: this fraction of the images (random, seeded) goes to a val output.",
        ),
    ] = None,
    seed: Annotated[int, option("--seed", detail="Of the --val-fraction draw.")] = 0,
    bbox_from: Annotated[
        str | None,
        typer.Option(
            "--bbox-from",
            help="DeepLabCut boxes: keypoints (their extent, default) or image (whole frame).",
        ),
    ] = None,
    force: ForceOption = False,
    as_json: JsonOption = False,
) -> None:
    """Convert a dataset between formats (COCO area and num_keypoints are computed when missing)."""
    from posecli.data.converters import convert_dataset
    from posecli.data.validate import detect_format

    if val_fraction is not None and not 0 < val_fraction < 1:
        raise typer.BadParameter("must be between 0 and 1 (exclusive)", param_hint="--val-fraction")
    from_format = from_format or detect_format(src)
    split = f"val={val_fraction}" if val_fraction is not None else None
    kwargs = dict(images=images, skeleton=skeleton, split=split, seed=seed, bbox=bbox_from)
    if to_format.lower() == "yolo":  # a folder: the ownership rule, replaced whole with --force
        from posecli.outputs import output_folder

        with output_folder(out, force=force) as folder:
            summary = convert_dataset(src, from_format, "yolo", folder, force=True, **kwargs)
        if folder != out:
            _relocate(summary, folder, out)
    else:
        summary = convert_dataset(src, from_format, to_format, out, force=force, **kwargs)
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
        f"{summary['from']} → {summary['to']} ({summary['skeleton']}, "
        f"{summary['num_keypoints']} keypoints): {parts}"
    )
    if summary["frames_extracted"]:
        con.print(f"extracted {summary['frames_extracted']} video frames")
    for path in summary["written"]:
        con.print(f"wrote {path}")


def _relocate(summary: dict, staging: Path, out: Path) -> None:
    """After the swap: paths in the summary and the YOLO ``path:`` line name ``out``."""
    summary["written"] = [p.replace(str(staging), str(out), 1) for p in summary["written"]]
    yaml_path = out / "data.yaml"
    if yaml_path.is_file():
        text = yaml_path.read_text()
        yaml_path.write_text(text.replace(str(staging.resolve()), str(out.resolve())))
