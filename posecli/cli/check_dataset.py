"""``posecli check-dataset``: validate a dataset and print a report (exit 1 on errors)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import FromOption, ImagesOption, JsonOption, SkeletonOption
from posecli.cli.output import print_json, stdout_console


def check_dataset_command(
    src: Annotated[
        Path,
        typer.Argument(
            help="Dataset file (COCO/MPII JSON, DeepLabCut CSV/H5, SLEAP .slp, YOLO data.yaml)."
        ),
    ],
    fmt: FromOption = None,
    images: ImagesOption = None,
    skeleton: SkeletonOption = None,
    no_decode: Annotated[
        bool,
        typer.Option(
            "--no-decode-images", help="Only check that images exist; do not decode them."
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Check images, keypoints, visibility, boxes, ids and the skeleton of a dataset."""
    from posecli.data.check import check_dataset

    report = check_dataset(src, fmt, images=images, skeleton=skeleton, decode=not no_decode)
    if as_json:
        print_json(report)
    else:
        con = stdout_console()
        c = report["counts"]
        con.print(
            f"[bold]{report['source']}[/bold] ({report['format']}, skeleton {report['skeleton']})"
        )
        con.print(
            f"  images: {c['images']} ({c['images_without_labels']} without labels)   "
            f"instances: {c['instances']} ({c['labelled_instances']} labelled)   tracks: {c['tracks']}"
        )
        con.print(
            f"  keypoints: {c['keypoints']} per instance; labelled {c['labelled_keypoints']}, "
            f"unlabelled {c['unlabelled_keypoints']}; visibility 0/1/2: "
            f"{c['visibility']['0']}/{c['visibility']['1']}/{c['visibility']['2']}; "
            f"least labelled: {c['least_labelled_keypoint']}"
        )
        for w in report["warnings"]:
            con.print(f"  [yellow]warning[/yellow]: {w}", markup=True)
        for e in report["errors"]:
            con.print(f"  [red]error[/red]: {e}")
        con.print(
            "[green]OK[/green]"
            if report["ok"]
            else f"[red]{len(report['errors'])} problem(s)[/red]"
        )
    if not report["ok"]:
        raise typer.Exit(1)
