"""The detector of a two-stage checkpoint (recipe ``[detector]``), for ``posecli predict`` and
the Python API; importable without the training engine (the ONNX deploy path imports it).

Boxes come from the table's ``weights`` if given, else from the detector run trained with the
model, ``<checkpoint folder>/detector/best.pt`` (:mod:`posecli.engine.two_stage`).
"""

from __future__ import annotations

from pathlib import Path

from posecli.errors import CheckpointError

__all__ = ["DETECTOR_FOLDER", "checkpoint_detector"]

#: Sub-folder of a run directory holding the detector's own run.
DETECTOR_FOLDER = "detector"


def checkpoint_detector(checkpoint: str | Path) -> tuple[str, str, float] | None:
    """``(detector name, weights, bbox_thr)`` of a two-stage checkpoint file, or None (also
    for zoo names and exported files, which hold no recipe).

    Raises:
        CheckpointError: the recipe names a detector trained with it but its run is missing.
    """
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
