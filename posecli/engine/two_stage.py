"""Two-stage recipes: a top-down model and the detector that feeds it (SLEAP's centroid +
centred-instance pipeline), one ``posecli train`` for both.

A top-down recipe with ``[detector] recipe = "flies-centroid.toml"`` trains that recipe after
its own model, into ``<run>/detector/`` (same seed and device). ``posecli predict`` and the
Python API read the checkpoint's ``detector`` table
(:func:`posecli.inference.two_stage.checkpoint_detector`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from posecli.errors import RecipeError
from posecli.inference.two_stage import DETECTOR_FOLDER
from posecli.recipe import Recipe

__all__ = ["detector_recipe", "train_detector"]


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
