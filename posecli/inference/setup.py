"""Choosing the model and the box provider of a ``posecli predict`` run from its options."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from posecli.errors import PoseCliError
from posecli.inference.boxes import (
    BoxProvider,
    DetectorBoxes,
    FileBoxes,
    FollowBoxes,
    WholeFrameBoxes,
)

__all__ = [
    "PERSON_SKELETONS",
    "detector_mismatch",
    "find_work_dir_checkpoints",
    "load_default_predictor",
    "make_box_provider",
    "resolve_model_spec",
]

log = logging.getLogger(__name__)

#: Zoo model used when neither a checkpoint nor a model name is given.
DEFAULT_MODEL = "rtmpose-m"

#: Skeletons of people: the ones a COCO person detector finds boxes for.
PERSON_SKELETONS = frozenset(
    {
        "coco",
        "coco_wholebody",
        "mpii",
        "aic",
        "crowdpose",
        "halpe",
        "ochuman",
        "posetrack18",
        "jhmdb",
        "h36m",
        "body8",
        "halpe26",
    }
)


def find_work_dir_checkpoints(root: Path | None = None) -> list[Path]:
    """Every ``best.pt`` under ``root/work_dirs`` (default: the current folder), newest first."""
    base = (root or Path.cwd()) / "work_dirs"
    if not base.is_dir():
        return []
    found = [p for p in base.rglob("best.pt") if p.is_file()]
    return sorted(found, key=lambda p: p.stat().st_mtime, reverse=True)


def resolve_model_spec(
    checkpoint: Path | None, model: str | None, root: Path | None = None
) -> tuple[str, str]:
    """``(spec, how)``: what to load and a few words on why.

    ``--checkpoint`` wins, then ``--model``; with neither, the only ``best.pt`` under
    ``./work_dirs/`` or else the default zoo model :data:`DEFAULT_MODEL`.
    """
    if checkpoint is not None and model is not None:
        raise PoseCliError("pass either --checkpoint or --model, not both")
    if checkpoint is not None:
        return str(checkpoint), "--checkpoint"
    if model is not None:
        return model, "--model"
    found = find_work_dir_checkpoints(root)
    if len(found) == 1:
        return str(found[0]), "the only best.pt under work_dirs/"
    if found:
        log.warning(
            "%d checkpoints under work_dirs/ (newest: %s); pass --checkpoint to use one. "
            "Using the default model %s.",
            len(found),
            found[0],
            DEFAULT_MODEL,
        )
    return DEFAULT_MODEL, "the default model"


def load_default_predictor(spec: str, how: str, **kwargs: Any) -> Any:
    """:func:`~posecli.inference.load.load_predictor` for ``spec``; failing to get the default
    model says what to pass instead."""
    from posecli.inference.load import load_predictor

    try:
        return load_predictor(spec, **kwargs)
    except PoseCliError as exc:
        if how != "the default model":
            raise
        raise PoseCliError(
            f"no --checkpoint given and the default model {spec} is not available ({exc}); "
            "pass --checkpoint path/to/best.pt (or --model NAME once its weights are cached)"
        ) from None


def detector_mismatch(detector: Any, skeleton: Any) -> str | None:
    """A warning when a person detector meets a skeleton that is not a person's, else None."""
    category = getattr(detector, "category", None) or "person"
    name = getattr(skeleton, "name", None)
    if category != "person" or name is None or name in PERSON_SKELETONS:
        return None
    return (
        f"the detector finds '{category}' boxes but the checkpoint's skeleton is '{name}': "
        "boxes may miss your subjects; consider --bbox whole or --bbox-file"
    )


def make_box_provider(
    *,
    bbox: str | None = None,
    bbox_file: Path | None = None,
    detector: str | None = None,
    detector_weights: str | None = None,
    det_every: int = 1,
    bbox_thr: float = 0.3,
    nms_thr: float = 0.3,
    max_instances: int | None = None,
    device: str = "cpu",
    skeleton: Any = None,
    kpt_thr: float = 0.3,
    category_id: int | None = None,
    checkpoint: str | Path | None = None,
) -> BoxProvider:
    """The box provider the options ask for (see ``posecli predict --help``).

    With none of ``bbox``, ``bbox_file`` and ``detector``, a two-stage ``checkpoint`` (recipe
    ``[detector]``) brings its own detector and box threshold; otherwise the whole frame is
    the box, and a person skeleton gets a note that a detector is usually wanted.
    ``det_every > 1`` wraps the provider in :class:`FollowBoxes`.
    """
    chosen = [x for x in (bbox, bbox_file, detector) if x is not None]
    if len(chosen) > 1:
        raise PoseCliError("pass only one of --bbox, --bbox-file and --detector")
    if not chosen and checkpoint is not None:
        from posecli.inference.two_stage import checkpoint_detector

        stage = checkpoint_detector(checkpoint)
        if stage is not None:
            detector, detector_weights, bbox_thr = stage
            log.info("boxes from the checkpoint's detector %s (%s)", detector, detector_weights)
    if bbox is not None and bbox != "whole":
        raise PoseCliError(f"--bbox: expected 'whole', got {bbox!r}")
    provider: BoxProvider
    if bbox_file is not None:
        provider = FileBoxes(
            bbox_file,
            category_id=category_id,
            score_thr=bbox_thr,
            nms_thr=nms_thr,
            max_instances=max_instances,
        )
    elif detector is not None:
        from posecli.plugins import registry

        factory = registry("detectors").get(detector).factory
        model = factory(weights=detector_weights, device=device)
        warning = detector_mismatch(model, skeleton)
        if warning:
            log.warning(warning)
        provider = DetectorBoxes(
            model, score_thr=bbox_thr, nms_thr=nms_thr, max_instances=max_instances
        )
    else:
        if bbox is None and getattr(skeleton, "name", None) in PERSON_SKELETONS:
            log.info("using the whole frame as the box; pass --detector for several people")
        provider = WholeFrameBoxes()
    if det_every > 1:
        if detector is None:
            raise PoseCliError("--det-every needs --detector")
        provider = FollowBoxes(provider, det_every, kpt_thr=kpt_thr)
    return provider
