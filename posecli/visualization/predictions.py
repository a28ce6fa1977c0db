"""Render a saved ``predictions.json`` onto its source (``posecli visualize predictions``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecli.errors import DataError, PoseCliError

__all__ = ["PredictionStyle", "render_predictions"]

log = logging.getLogger(__name__)


@dataclass
class PredictionStyle:
    """How instances are drawn.

    Attributes:
        radius, thickness: keypoint radius and link thickness in pixels (0: size-aware, from
            each instance's extent).
        kpt_thr: keypoints scoring below this are not drawn.
        color_by: ``skeleton`` (the skeleton file's colours) or ``track`` (one per track id).
        show_bbox: draw boxes (with score and track id).
    """

    radius: int = 0
    thickness: int = 0
    kpt_thr: float = 0.3
    color_by: str = "skeleton"
    show_bbox: bool = False


def _arrays(record: dict[str, Any], k: int) -> dict[str, Any]:
    """Arrays of one frame record: keypoints ``(N, K, 2)`` (NaN for nulls), scores, boxes, ids."""
    inst = record.get("instances") or []
    n = len(inst)

    def num(v: Any) -> float:
        return float("nan") if v is None else float(v)

    kpts = np.array(
        [[[num(c) for c in p] for p in i["keypoints"]] for i in inst], np.float32
    ).reshape(n, k, 2)
    scores = np.array(
        [[num(s) for s in i.get("keypoint_scores") or [1.0] * k] for i in inst], np.float32
    ).reshape(n, k)
    boxes = np.array(
        [[num(c) for c in (i.get("bbox") or [np.nan] * 4)] for i in inst], np.float32
    ).reshape(n, 4)
    bscores = np.array([num(i.get("bbox_score", 1.0)) for i in inst], np.float32)
    ids = [i.get("track_id") for i in inst]
    track_ids = np.array(ids, np.int64) if ids and all(t is not None for t in ids) else None
    return {
        "keypoints": kpts,
        "scores": scores,
        "bboxes": boxes,
        "bbox_scores": bscores,
        "track_ids": track_ids,
    }


def render_predictions(
    predictions: str | Path,
    source: str | Path,
    out: str | Path,
    *,
    style: PredictionStyle | None = None,
    skeleton: Any = None,
    force: bool = False,
) -> tuple[Path, int]:
    """Draw the instances of ``predictions`` on the frames of ``source``.

    Args:
        predictions: a ``predictions.json`` (or the partial file of an interrupted run).
        source: the images or video the predictions were made on (frames matched by index).
        out: a video file for a video source; an image file for one image; a folder otherwise.
        style: drawing options.
        skeleton: links/colours to use instead of the file's skeleton (name, path or object).
        force: replace an existing output.

    Returns:
        ``(out, frames drawn)``. Frames without a record are written undrawn (video stays
        aligned in time).
    """
    from posecli.inference.sources import open_source
    from posecli.inference.writers import ImageWriter, VideoWriter, check_writable, load_predictions
    from posecli.visualization.draw import draw_pose, skeleton_style

    style = style or PredictionStyle()
    if style.color_by not in ("skeleton", "track"):
        raise PoseCliError(f"--color-by must be skeleton or track, got {style.color_by!r}")
    doc = load_predictions(predictions)
    if skeleton is not None:
        from posecli.data.metainfo import load_skeleton

        skel: Any = load_skeleton(skeleton)
    else:
        skel = doc.get("skeleton")
    records = {int(r["frame"]): r for r in doc.get("frames", [])}
    names = (
        skel.get("keypoint_names")
        if isinstance(skel, dict)
        else getattr(skel, "keypoint_names", None)
    )
    lines = skeleton_style(skel) if skel is not None else {}
    out = Path(out)
    src = open_source(source)
    drawn = 0
    video: VideoWriter | None = None
    images: ImageWriter | None = None
    single = not src.is_video and src.frame_count == 1
    if single or src.is_video:
        check_writable(out, force)
    try:
        for frame in src:
            rec = records.get(frame.index)
            image = frame.image
            if rec is not None and rec.get("instances"):
                k = len(rec["instances"][0]["keypoints"])
                if names is not None and len(names) != k:
                    raise DataError(
                        f"{predictions}: {k} keypoints but the skeleton has {len(names)}"
                    )
                a = _arrays(rec, k)
                image = draw_pose(
                    image,
                    a["keypoints"],
                    a["scores"],
                    kpt_thr=style.kpt_thr,
                    radius=style.radius or None,  # None: size-aware, as predict --render
                    thickness=style.thickness or None,
                    track_ids=a["track_ids"],
                    color_by=style.color_by,  # type: ignore[arg-type]
                    bboxes=a["bboxes"],
                    bbox_scores=a["bbox_scores"],
                    show_bbox=style.show_bbox,
                    **lines,
                )
                drawn += 1
            if src.is_video:
                if video is None:
                    video = VideoWriter(out, src.fps or 30.0, frame.size, force=force)
                video.write(image)
            elif single:
                import cv2

                if not cv2.imwrite(str(out), image):
                    raise PoseCliError(f"{out}: OpenCV cannot write this image format")
            else:
                if images is None:
                    images = ImageWriter(out, ext=".png", force=force)
                images.write(image, frame=frame.index, name=frame.name)
    finally:
        if video is not None:
            video.close()
        src.close()
    if not records:
        log.warning("%s holds no frame records", predictions)
    return out, drawn
