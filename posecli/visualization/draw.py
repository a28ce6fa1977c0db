"""Drawing poses on images: keypoints, skeleton links, boxes and track ids (OpenCV, anti-aliased).

Coordinates are image pixels in the pixel-centre convention (pixel ``i`` covers
``[i - 0.5, i + 0.5]``), which is OpenCV's: no offset is applied. Points are drawn with
sub-pixel precision (``shift`` bits) and ``cv2.LINE_AA``. Colours are BGR ``uint8`` triples.

The main entry point is :func:`draw_pose`; :func:`skeleton_style` turns a skeleton object (with
``links``, ``keypoint_colors``, ``link_colors``) into the arrays it takes.
"""

from __future__ import annotations

import colorsys
from typing import Any, Literal

import cv2
import numpy as np

__all__ = [
    "DETAIL_FRACTION",
    "draw_pose",
    "instance_sizes",
    "palette",
    "size_aware_style",
    "skeleton_style",
    "track_color",
]

_SHIFT = 4  # sub-pixel bits for cv2 drawing
_SCALE = 1 << _SHIFT


def palette(n: int, *, saturation: float = 0.85, value: float = 1.0) -> np.ndarray:
    """``n`` well-separated BGR colours ``(n, 3)`` uint8 (golden-ratio hue steps)."""
    hues = (np.arange(n) * 0.618033988749895) % 1.0
    rgb = [colorsys.hsv_to_rgb(float(h), saturation, value) for h in hues]
    return (np.asarray(rgb, np.float64).reshape(-1, 3)[:, ::-1] * 255 + 0.5).astype(np.uint8)


def track_color(track_id: int) -> tuple[int, int, int]:
    """A stable BGR colour for a track id (the same id always gets the same colour)."""
    hue = (int(track_id) * 0.618033988749895 + 0.11) % 1.0
    r, g, b = colorsys.hsv_to_rgb(hue, 0.9, 1.0)
    return int(b * 255), int(g * 255), int(r * 255)


def skeleton_style(skeleton: Any) -> dict[str, np.ndarray | None]:
    """``links`` ``(L, 2)`` int, ``keypoint_colors`` ``(K, 3)``, ``link_colors`` ``(L, 3)`` of a skeleton.

    Accepts an object or a mapping with those fields (missing or empty ones are ``None``).
    Skeleton files and :class:`~posecli.data.metainfo.Skeleton` store colours as **RGB** (as
    MMPose's dataset metainfo); they are returned as **BGR**, the order :func:`draw_pose` and
    OpenCV use.
    """

    def get(name: str) -> Any:
        return skeleton.get(name) if isinstance(skeleton, dict) else getattr(skeleton, name, None)

    def bgr(colors: Any) -> np.ndarray | None:
        if colors is None or np.size(colors) == 0:
            return None
        return np.ascontiguousarray(np.asarray(colors, np.uint8).reshape(-1, 3)[:, ::-1])

    links = get("links")
    detail = get("detail_ids")
    return {
        "links": None if links is None else np.asarray(links, np.int64).reshape(-1, 2),
        "keypoint_colors": bgr(get("keypoint_colors")),
        "link_colors": bgr(get("link_colors")),
        "detail_ids": None if not detail else np.asarray(detail, np.int64).reshape(-1),
    }


#: Size-aware drawing: radius = instance size / this (pixels), capped by the image size.
RADIUS_PER_SIZE = 45.0
#: Keypoints of dense parts (face, hands) and the links between them are drawn at this fraction.
DETAIL_FRACTION = 0.4


def instance_sizes(keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """``sqrt(w · h)`` of each instance's drawn keypoints' extent ``(N,)`` (0 with fewer than
    two), the scale that size-aware radii and line widths follow."""
    n = len(keypoints)
    out = np.zeros(n)
    for i in range(n):
        pts = keypoints[i][visible[i]]
        if len(pts) >= 2:
            w, h = pts.max(0) - pts.min(0)
            out[i] = float(np.sqrt(max(w, 1.0) * max(h, 1.0)))
    return out


def size_aware_style(size: float, image_size: tuple[int, int]) -> tuple[float, int]:
    """``(radius, thickness)`` for an instance of ``size`` pixels: ``size / 45``, at least 1.5
    px and at most ``max(W, H) / 160`` (the whole-image default); thickness half the radius."""
    cap = max(2.0, max(image_size) / 160)
    radius = float(np.clip(size / RADIUS_PER_SIZE, 1.5, cap)) if size > 0 else cap
    return radius, max(1, round(radius / 2))


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(np.asarray(points, np.float64) * _SCALE).astype(np.int64)


def _bgr(color: Any) -> tuple[int, int, int]:
    c = np.asarray(color).reshape(3)
    return int(c[0]), int(c[1]), int(c[2])


def draw_pose(
    image: np.ndarray,
    keypoints: np.ndarray,
    scores: np.ndarray | None = None,
    *,
    links: np.ndarray | None = None,
    keypoint_colors: np.ndarray | None = None,
    link_colors: np.ndarray | None = None,
    kpt_thr: float = 0.3,
    radius: float | None = 3,
    thickness: int | None = 1,
    detail_ids: np.ndarray | None = None,
    track_ids: np.ndarray | None = None,
    color_by: Literal["skeleton", "track"] = "skeleton",
    bboxes: np.ndarray | None = None,
    bbox_scores: np.ndarray | None = None,
    show_bbox: bool = False,
    copy: bool = True,
) -> np.ndarray:
    """Draw instances on a BGR image.

    Args:
        image: BGR uint8 ``(H, W, 3)``.
        keypoints: ``(N, K, 2)`` image pixels (NaN: not drawn).
        scores: ``(N, K)``; keypoints scoring below ``kpt_thr`` and links touching them are
            skipped (``None``: all drawn).
        links: ``(L, 2)`` keypoint index pairs.
        keypoint_colors: ``(K, 3)`` BGR (default: :func:`palette`).
        link_colors: ``(L, 3)`` BGR (default: the colour of each link's first keypoint).
        kpt_thr: score threshold for drawing.
        radius, thickness: keypoint radius and line thickness in pixels; ``None``: size-aware,
            from each instance's extent (:func:`size_aware_style`).
        detail_ids: keypoints of dense parts (face, hands: a skeleton's ``detail_ids``), drawn
            at :data:`DETAIL_FRACTION` of the radius, with 1-pixel links among them.
        track_ids: ``(N,)``: colours the box and id label of each instance, and, with
            ``color_by="track"``, its keypoints and links too.
        color_by: ``"skeleton"`` (skeleton colours) or ``"track"`` (one colour per track).
        bboxes: ``(N, 4)`` xyxy, drawn when ``show_bbox``.
        bbox_scores: ``(N,)`` written next to the box when given.
        show_bbox: draw the boxes.
        copy: draw on a copy (``False``: in place).

    Returns:
        The drawn image, same shape and dtype as ``image``.
    """
    canvas = image.copy() if copy else image
    kpts = np.asarray(keypoints, np.float64)
    kpts = kpts[None] if kpts.ndim == 2 else kpts
    n, k = kpts.shape[:2]
    sc = np.ones((n, k)) if scores is None else np.asarray(scores, np.float64).reshape(n, k)
    ok = (sc >= kpt_thr) & np.isfinite(kpts).all(-1)
    kc = (
        palette(k)
        if keypoint_colors is None
        else np.asarray(keypoint_colors, np.uint8).reshape(k, 3)
    )
    lk = np.zeros((0, 2), np.int64) if links is None else np.asarray(links, np.int64).reshape(-1, 2)
    lc = kc[lk[:, 0]] if link_colors is None else np.asarray(link_colors, np.uint8).reshape(-1, 3)
    fixed = _fixed(np.nan_to_num(kpts))
    fine = np.zeros(k, bool)
    if detail_ids is not None and len(detail_ids):
        fine[np.asarray(detail_ids, np.int64)] = True
    fine_link = fine[lk[:, 0]] & fine[lk[:, 1]]
    sizes = instance_sizes(kpts, ok) if radius is None or thickness is None else None
    image_size = (canvas.shape[1], canvas.shape[0])
    for i in range(n):
        r_i, t_i = size_aware_style(sizes[i], image_size) if sizes is not None else (0.0, 1)
        rad = float(radius) if radius is not None else r_i
        thick = int(thickness) if thickness is not None else t_i
        tcol = track_color(int(track_ids[i])) if track_ids is not None else None
        use_track = color_by == "track" and tcol is not None
        for j, (a, b) in enumerate(lk):
            if ok[i, a] and ok[i, b]:
                col = tcol if use_track and tcol is not None else _bgr(lc[j])
                cv2.line(
                    canvas,
                    tuple(fixed[i, a]),
                    tuple(fixed[i, b]),
                    col,
                    1 if fine_link[j] else thick,
                    cv2.LINE_AA,
                    _SHIFT,
                )
        for kp in np.flatnonzero(ok[i]):
            col = tcol if use_track and tcol is not None else _bgr(kc[kp])
            r = max(1.0, rad * DETAIL_FRACTION) if fine[kp] else rad
            centre = tuple(fixed[i, kp])
            cv2.circle(canvas, centre, round(r * _SCALE), col, -1, cv2.LINE_AA, _SHIFT)
        if show_bbox and bboxes is not None:
            _draw_box(
                canvas,
                np.asarray(bboxes, np.float64).reshape(-1, 4)[i],
                tcol or (0, 255, 0),
                thick,
                None if bbox_scores is None else float(np.asarray(bbox_scores).reshape(-1)[i]),
                None if track_ids is None else int(track_ids[i]),
            )
        elif track_ids is not None and ok[i].any():
            top = kpts[i][ok[i]]
            anchor = (int(top[:, 0].min()), int(top[:, 1].min()) - 4)
            _label(canvas, f"id {int(track_ids[i])}", anchor, tcol or (255, 255, 255))
    return canvas


def _draw_box(
    canvas: np.ndarray,
    box: np.ndarray,
    color: tuple[int, int, int],
    thickness: int,
    score: float | None,
    track_id: int | None,
) -> None:
    if not np.isfinite(box).all():
        return
    p1, p2 = _fixed(box[:2]), _fixed(box[2:])
    cv2.rectangle(canvas, tuple(p1), tuple(p2), color, thickness, cv2.LINE_AA, _SHIFT)
    parts = ([] if track_id is None else [f"id {track_id}"]) + (
        [] if score is None else [f"{score:.2f}"]
    )
    if parts:
        _label(canvas, " ".join(parts), (int(box[0]), int(box[1]) - 4), color)


def _label(
    canvas: np.ndarray, text: str, origin: tuple[int, int], color: tuple[int, int, int]
) -> None:
    x, y = origin[0], max(origin[1], 10)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(canvas, text, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 0.4, color, 1, cv2.LINE_AA)
