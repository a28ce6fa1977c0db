"""``posecli visualize``: pictures of what goes into (``dataset``) and comes out of a model."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import ForceOption, KptThrOption, SetOption, option
from posecli.cli.output import print_json, stdout_console

visualize_app = typer.Typer(
    name="visualize",
    help="Render pipeline samples or saved predictions as images and video.",
    no_args_is_help=True,
)


@visualize_app.command("dataset")
def visualize_dataset_command(
    recipe: Annotated[
        Path, typer.Argument(help="Recipe TOML whose data split and pipeline to render.")
    ],
    split: Annotated[str, option("--split", detail="Default: train.")] = "train",
    n: Annotated[int, typer.Option("--n", min=1, help="Number of samples to render.")] = 16,
    out: Annotated[Path, option("--out", detail="A folder for the PNG files.")] = Path("vis"),
    seed: Annotated[
        int | None,
        option("--seed", detail="Of the random augmentation (default: the recipe's)."),
    ] = None,
    overrides: SetOption = None,
    force: ForceOption = False,
    as_json: Annotated[bool, option("--json", detail="The written files.")] = False,
) -> None:
    """Render samples after the pipeline: the augmented crop with keypoints and skeleton, and the encoded target."""
    from posecli.data.visualize import visualize_dataset

    if split not in ("train", "val", "test"):
        raise typer.BadParameter("must be train, val or test", param_hint="--split")
    paths = visualize_dataset(
        recipe, split=split, n=n, out=out, seed=seed, overrides=overrides, force=force
    )
    if as_json:
        print_json([str(p) for p in paths])
    else:
        stdout_console().print(f"wrote {len(paths)} images to {out}")


@visualize_app.command("predictions")
def visualize_predictions_command(
    predictions: Annotated[
        Path, typer.Argument(help="A predictions.json written by posecli predict.")
    ],
    source: Annotated[
        str, typer.Option("--source", help="The images or video the predictions are of.")
    ],
    out: Annotated[
        Path, option("--out", detail="A video (video source), image (one image) or folder.")
    ],
    radius: Annotated[
        int, typer.Option("--radius", min=0, help="Keypoint radius in px (0: from image size).")
    ] = 0,
    thickness: Annotated[
        int, typer.Option("--thickness", min=0, help="Link thickness in px (0: from image size).")
    ] = 0,
    kpt_thr: KptThrOption = 0.3,
    color_by: Annotated[
        str, typer.Option("--color-by", help="skeleton (file colours) or track (one per id).")
    ] = "skeleton",
    show_bbox: Annotated[bool, typer.Option("--draw-bbox", help="Draw the boxes.")] = False,
    skeleton: Annotated[str | None, option("--skeleton", detail="For links and colours.")] = None,
    force: ForceOption = False,
) -> None:
    """Draw saved predictions on their images or video (skeleton colours or track ids)."""
    from posecli.visualization.predictions import PredictionStyle, render_predictions

    _warn_other_source(predictions, source)
    style = PredictionStyle(
        radius=radius,
        thickness=thickness,
        kpt_thr=kpt_thr,
        color_by=color_by,
        show_bbox=show_bbox,
    )
    path, drawn = render_predictions(
        predictions, source, out, style=style, skeleton=skeleton, force=force
    )
    stdout_console().print(f"drew {drawn} frames into {path}")


def _warn_other_source(predictions: Path, source: str) -> None:
    """Warn when the predictions were made on another source than the one drawn on."""
    import warnings

    from posecli.errors import PoseCliWarning
    from posecli.inference.writers import load_predictions

    made_on = str(load_predictions(predictions).get("source") or "")
    if made_on and Path(made_on).name != Path(source.rstrip("/")).name:
        warnings.warn(
            f"{predictions} holds predictions for {made_on}, drawn here on {source}",
            PoseCliWarning,
            stacklevel=2,
        )
