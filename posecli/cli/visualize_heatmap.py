"""``posecli visualize-heatmap``: a model's raw outputs (heatmaps, SimCC, points) on one crop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.errors import PoseCliError


def parse_bbox(text: str | None) -> list[float] | None:
    """``"x1,y1,x2,y2"`` → four floats (x2 > x1, y2 > y1); ``None`` stays ``None``."""
    if text is None:
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise typer.BadParameter(
            "expected x1,y1,x2,y2 with x2 > x1 and y2 > y1", param_hint="--bbox"
        )
    return values


def visualize_heatmap_command(
    image: Annotated[Path, typer.Argument(help="An image file.")],
    checkpoint: Annotated[
        str, typer.Option("--checkpoint", "-c", help="A posecli checkpoint or zoo model name.")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="Output PNG file.")],
    bbox: Annotated[
        str | None, typer.Option("--bbox", help="Crop box x1,y1,x2,y2 (default: whole image).")
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    force: Annotated[bool, typer.Option("--force", help="Overwrite the output.")] = False,
) -> None:
    """Draw the model's outputs for one crop: heatmap grid, SimCC profiles or regressed points."""
    import cv2

    from posecli.cli.output import stdout_console
    from posecli.inference.predictor import Predictor
    from posecli.inference.sources import read_image
    from posecli.inference.writers import check_writable
    from posecli.visualization.model_outputs import render_model_outputs

    box = parse_bbox(bbox)
    check_writable(out, force)
    img = read_image(image)
    predictor = Predictor(checkpoint, device=device, batch_size=1)
    picture = render_model_outputs(predictor, img, box)
    if not cv2.imwrite(str(out), picture):
        raise PoseCliError(f"{out}: OpenCV cannot write this image format (use .png)")
    stdout_console().print(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]})")
