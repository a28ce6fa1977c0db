"""``posecli visualize-heatmap``: a model's raw outputs (heatmaps, SimCC, points) on one crop."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import DeviceOption, ForceOption, option
from posecli.errors import PoseCliError, blame


def parse_bbox(text: str | None) -> list[float] | None:
    """``"x1,y1,x2,y2"`` → four floats (x2 > x1, y2 > y1); ``whole`` or ``None`` → ``None``."""
    if text is None or text.strip().lower() == "whole":
        return None
    try:
        values = [float(v) for v in text.split(",")]
    except ValueError:
        values = []
    if len(values) != 4 or values[2] <= values[0] or values[3] <= values[1]:
        raise typer.BadParameter(
            "expected whole or x1,y1,x2,y2 with x2 > x1 and y2 > y1", param_hint="--bbox"
        )
    return values


def visualize_heatmap_command(
    image: Annotated[Path, typer.Argument(help="An image file.")],
    checkpoint: Annotated[str, option("--checkpoint", detail="Or a zoo model name.")],
    out: Annotated[Path, option("--out", detail="A PNG file.")],
    bbox: Annotated[
        str | None, option("--bbox", detail="Or x1,y1,x2,y2 in pixels. Default: whole.")
    ] = None,
    device: DeviceOption = "auto",
    force: ForceOption = False,
) -> None:
    """Draw the model's outputs for one crop: heatmap grid, SimCC profiles or regressed points."""
    import warnings

    import cv2

    from posecli.cli.output import stdout_console
    from posecli.data.io import atomic_write
    from posecli.errors import PoseCliWarning
    from posecli.inference.load import load_predictor
    from posecli.inference.writers import check_writable
    from posecli.runtime.frames import read_image
    from posecli.visualization.model_outputs import render_model_outputs

    box = parse_bbox(bbox)
    with blame(f"cannot write {out}"):
        check_writable(out, force)
    img = read_image(image)
    h, w = img.shape[:2]
    if min(h, w) < 8:
        warnings.warn(
            f"{image} is {w}×{h} pixels: too small for a meaningful crop (the picture shows "
            "the model's outputs on an almost uniform input)",
            PoseCliWarning,
            stacklevel=1,
        )
    predictor = load_predictor(checkpoint, backend="torch", device=device, batch_size=1)
    picture = render_model_outputs(predictor, img, box)
    try:
        ok, encoded = cv2.imencode(out.suffix or ".png", picture)
    except cv2.error:
        ok = False
    if not ok:
        raise PoseCliError(f"{out}: OpenCV cannot encode {out.suffix or 'this'} images (use .png)")
    with blame(f"cannot write {out}"), atomic_write(out, "wb") as fh:
        fh.write(encoded.tobytes())
    stdout_console().print(f"wrote {out} ({picture.shape[1]}x{picture.shape[0]})")
