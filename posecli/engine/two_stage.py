"""Two-stage recipes: a top-down model and the detector that feeds it (SLEAP's centroid +
centred-instance pipeline), one ``posecli train`` for both.

A top-down recipe with ``[detector] recipe = "flies-centroid.toml"`` trains that recipe after
its own model, into ``<run>/detector/`` (same seed and device). ``posecli predict`` and the
Python API read the checkpoint's ``detector`` table: boxes come from ``weights`` if given, else
from ``<checkpoint folder>/detector/best.pt``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from posecli.errors import CheckpointError, RecipeError
from posecli.recipe import Recipe

__all__ = ["DETECTOR_FOLDER", "checkpoint_detector", "detector_recipe", "train_detector"]

#: Sub-folder of a run directory holding the detector's own run.
DETECTOR_FOLDER = "detector"


def detector_recipe(recipe: Recipe, overrides: list[str] | None = None) -> Recipe | None:
    """The detector's recipe of a two-stage ``recipe`` (checked whole), or None; its
    ``detector.set`` overrides applied, then ``overrides``.

    Raises:
        RecipeError: the detector recipe is missing, invalid or not a bottom-up model while
            the detector is ``bottomup``.
    """
    from posecli.recipe import load_recipe
    from posecli.recipe.check import check_recipe

    section = recipe.detector
    if section is None or section.recipe is None:
        return None
    path = Path(section.recipe)
    if not path.is_file():
        raise RecipeError(f"detector.recipe: {path} not found")
    stage = load_recipe(path, [*section.set, *(overrides or [])])
    check_recipe(stage, f"{path} (detector of {recipe.name})")
    if section.name == "bottomup" and stage.model.kind != "bottomup":
        raise RecipeError(
            f"detector.recipe: {path} trains a {stage.model.kind} model; detector 'bottomup' "
            "needs a bottom-up one"
        )
    return stage


def train_detector(
    stage: Recipe,
    run_dir: Path,
    *,
    device: str = "auto",
    force: bool = False,
    progress: bool = True,
) -> Any:
    """Train the detector recipe ``stage`` into ``run_dir/detector`` (continuing a run that
    stopped there, unless ``force``); returns its ``TrainResult``."""
    from posecli.engine.training_run import run_training

    target = run_dir / DETECTOR_FOLDER
    resume = True if (target / "last.pt").is_file() and not force else None
    return run_training(
        stage,
        work_dir=target,
        device=device,
        resume=resume,
        force=force and target.exists(),
        progress=progress,
        recipe_path=str(stage.name),
    )


def checkpoint_detector(
    checkpoint: str | Path, recipe: Recipe | None = None
) -> tuple[str, str, float] | None:
    """``(detector name, weights, bbox_thr)`` of a two-stage checkpoint file, or None (also
    for zoo names and exported files, which hold no recipe). ``recipe``: the checkpoint's, if
    already read.

    Raises:
        CheckpointError: the recipe names a detector trained with it but its run is missing.
    """
    if recipe is None:
        path = Path(str(checkpoint))
        if path.suffix.lower() not in (".pt", ".pth", ".ckpt") or not path.is_file():
            return None
        from posecli.engine.checkpoint import read_checkpoint
        from posecli.recipe import recipe_from_toml

        text = read_checkpoint(path).get("recipe")
        if not text:
            return None
        recipe = recipe_from_toml(text, source=str(path))
    section = recipe.detector
    if section is None:
        return None
    if section.weights is not None:
        return section.name, section.weights, section.bbox_thr
    weights = Path(checkpoint).parent / DETECTOR_FOLDER / "best.pt"
    if not weights.is_file():
        raise CheckpointError(
            f"{checkpoint}: its recipe trains a detector with it, but {weights} is missing "
            "(train the recipe to the end, or pass --bbox/--detector)"
        )
    return section.name, str(weights), section.bbox_thr
