"""Pictures of a model's raw outputs on one crop (``posecli visualize-heatmap``).

Pure numpy/OpenCV; every function takes the crop (BGR uint8 ``(H, W, 3)``, the model's input
space) and arrays, and returns a new BGR uint8 image:

- :func:`heatmap_grid`: heatmaps ``(K, h, w)`` overlaid on the crop, one cell per keypoint with
  its name, plus a last cell with the maximum over keypoints;
- :func:`simcc_profiles`: SimCC ``x`` ``(K, Wx)`` and ``y`` ``(K, Hy)`` distributions drawn as
  curves along the crop's bottom and right edges, with their arg-max points on the crop;
- :func:`regression_points`: regressed points (RLE/regression heads) with their sigma as
  1σ and 2σ ellipses.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Literal

import cv2
import numpy as np

from posecli.visualization.draw import palette

__all__ = ["colorize", "heatmap_grid", "regression_points", "simcc_profiles"]

_FONT = cv2.FONT_HERSHEY_SIMPLEX


def _normalize(maps: np.ndarray, mode: Literal["each", "global", "none"]) -> np.ndarray:
    """Scale ``(K, ...)`` maps to [0, 1]: per map, over all maps, or just clipped."""
    m = np.nan_to_num(np.asarray(maps, np.float32))
    if mode == "none":
        return np.clip(m, 0.0, 1.0)
    axes = tuple(range(1, m.ndim)) if mode == "each" else None
    lo = m.min(axis=axes, keepdims=True)
    hi = m.max(axis=axes, keepdims=True)
    return (m - lo) / np.maximum(hi - lo, 1e-12)


def _bgr(color: np.ndarray) -> tuple[int, int, int]:
    return int(color[0]), int(color[1]), int(color[2])


def colorize(
    heatmap: np.ndarray, size: tuple[int, int], colormap: int = cv2.COLORMAP_JET
) -> np.ndarray:
    """A ``[0, 1]`` map ``(h, w)`` resized to ``size`` ``(w, h)`` and colour-mapped → BGR uint8."""
    resized = cv2.resize(np.asarray(heatmap, np.float32), size, interpolation=cv2.INTER_LINEAR)
    return cv2.applyColorMap((np.clip(resized, 0, 1) * 255 + 0.5).astype(np.uint8), colormap)


def _text(
    img: np.ndarray,
    text: str,
    org: tuple[int, int],
    scale: float = 0.4,
    color: tuple[int, int, int] = (255, 255, 255),
) -> None:
    cv2.putText(img, text, org, _FONT, scale, (0, 0, 0), 3, cv2.LINE_AA)
    cv2.putText(img, text, org, _FONT, scale, color, 1, cv2.LINE_AA)


def heatmap_grid(
    crop: np.ndarray,
    heatmaps: np.ndarray,
    keypoint_names: Sequence[str] | None = None,
    *,
    alpha: float = 0.5,
    cols: int | None = None,
    normalize: Literal["each", "global", "none"] = "each",
    colormap: int = cv2.COLORMAP_JET,
) -> np.ndarray:
    """Per-keypoint heatmaps over the crop in a grid, plus the max over keypoints.

    Args:
        crop: BGR uint8 ``(H, W, 3)``.
        heatmaps: ``(K, h, w)`` (output space; resized to the crop).
        keypoint_names: K labels (default ``"0"``, ``"1"``...).
        alpha: heatmap opacity.
        cols: grid columns (default ``ceil(sqrt(K + 1))``).
        normalize: ``"each"`` map to [0, 1], ``"global"`` over all maps, ``"none"`` (clip).
        colormap: OpenCV colour map.

    Returns:
        BGR uint8 ``(rows * H, cols * W, 3)`` with ``rows = ceil((K + 1) / cols)``; unused cells
        are black.
    """
    hm = np.asarray(heatmaps, np.float32)
    if hm.ndim != 3:
        raise ValueError(f"heatmaps must be (K, h, w), got {hm.shape}")
    k = hm.shape[0]
    names = list(keypoint_names) if keypoint_names is not None else [str(i) for i in range(k)]
    if len(names) != k:
        raise ValueError(f"{len(names)} keypoint names for {k} heatmaps")
    h, w = crop.shape[:2]
    norm = _normalize(hm, normalize)
    maps = [*norm, norm.max(axis=0)]
    labels = [*names, "max"]
    cols = cols or math.ceil(math.sqrt(k + 1))
    rows = math.ceil((k + 1) / cols)
    grid = np.zeros((rows * h, cols * w, 3), np.uint8)
    for idx, (m, label) in enumerate(zip(maps, labels, strict=True)):
        cell = cv2.addWeighted(crop, 1.0 - alpha, colorize(m, (w, h), colormap), alpha, 0.0)
        _text(cell, label, (3, 13))
        r, c = divmod(idx, cols)
        grid[r * h : (r + 1) * h, c * w : (c + 1) * w] = cell
    return grid


def _polyline(values: np.ndarray, length: int, depth: int, *, along_x: bool) -> np.ndarray:
    """Curve points ``(n, 2)`` int32 of a [0, 1] profile resampled to ``length`` pixels."""
    pos = (np.arange(length) + 0.5) * (len(values) / length) - 0.5
    prof = np.interp(pos, np.arange(len(values)), values)
    amp = (1.0 - prof) * (depth - 1)
    t = np.arange(length, dtype=np.float64)
    pts = np.stack([t, amp], 1) if along_x else np.stack([depth - 1 - amp, t], 1)
    return np.round(pts).astype(np.int32)


def simcc_profiles(
    crop: np.ndarray,
    simcc_x: np.ndarray,
    simcc_y: np.ndarray,
    keypoint_names: Sequence[str] | None = None,
    *,
    colors: np.ndarray | None = None,
    panel: int = 80,
    radius: int = 3,
) -> np.ndarray:
    """SimCC x/y distributions as profiles along the crop's axes.

    Bin ``i`` of ``simcc_x`` (``Wx = W · split_ratio`` bins) lies at crop x ``i / split_ratio``;
    the curves are resampled to the crop's width (bottom panel, peaks pointing up) and height
    (right panel, peaks pointing right). Each keypoint's arg-max ``(x, y)`` is marked on the crop
    in the colour of its curves, with its name.

    Args:
        crop: BGR uint8 ``(H, W, 3)``.
        simcc_x: ``(K, Wx)`` scores or probabilities (normalised to [0, 1] per keypoint).
        simcc_y: ``(K, Hy)``.
        keypoint_names: K labels.
        colors: ``(K, 3)`` BGR (default :func:`~posecli.visualization.draw.palette`).
        panel: height of the x panel and width of the y panel, pixels.
        radius: marker radius.

    Returns:
        BGR uint8 ``(H + panel, W + panel, 3)``.
    """
    sx, sy = np.asarray(simcc_x, np.float32), np.asarray(simcc_y, np.float32)
    if sx.ndim != 2 or sy.ndim != 2 or sx.shape[0] != sy.shape[0]:
        raise ValueError(
            f"simcc_x (K, Wx) and simcc_y (K, Hy) expected, got {sx.shape}, {sy.shape}"
        )
    k = sx.shape[0]
    h, w = crop.shape[:2]
    cols = palette(k) if colors is None else np.asarray(colors, np.uint8).reshape(k, 3)
    names = list(keypoint_names) if keypoint_names is not None else [str(i) for i in range(k)]
    out = np.full((h + panel, w + panel, 3), 32, np.uint8)
    out[:h, :w] = crop
    nx, ny = _normalize(sx, "each"), _normalize(sy, "each")
    bottom, right = out[h:, :w], out[:h, w:]
    for j in range(k):
        col = _bgr(cols[j])
        cv2.polylines(
            bottom, [_polyline(nx[j], w, panel, along_x=True)], False, col, 1, cv2.LINE_AA
        )
        cv2.polylines(
            right, [_polyline(ny[j], h, panel, along_x=False)], False, col, 1, cv2.LINE_AA
        )
        px = (float(np.argmax(sx[j])) + 0.5) * w / sx.shape[1] - 0.5
        py = (float(np.argmax(sy[j])) + 0.5) * h / sy.shape[1] - 0.5
        centre = (round(px * 16), round(py * 16))
        cv2.circle(out, centre, radius * 16, col, -1, cv2.LINE_AA, 4)
        _text(out, names[j], (int(px) + radius + 1, int(py) + 4), 0.3, col)
    cv2.line(out, (0, h), (w + panel, h), (128, 128, 128), 1)
    cv2.line(out, (w, 0), (w, h + panel), (128, 128, 128), 1)
    _text(out, "x", (w // 2, h + panel - 5), 0.4)
    _text(out, "y", (w + panel - 12, h // 2), 0.4)
    return out


def regression_points(
    crop: np.ndarray,
    keypoints: np.ndarray,
    sigmas: np.ndarray | None = None,
    keypoint_names: Sequence[str] | None = None,
    *,
    scores: np.ndarray | None = None,
    colors: np.ndarray | None = None,
    n_sigmas: Sequence[float] = (1.0, 2.0),
    radius: int = 2,
) -> np.ndarray:
    """Regressed points with their uncertainty ellipses.

    Args:
        crop: BGR uint8 ``(H, W, 3)``.
        keypoints: ``(K, 2)`` crop (input-space) pixels.
        sigmas: ``(K, 2)`` per-axis sigma in crop pixels, or ``(K,)`` isotropic; ``None``:
            points only.
        keypoint_names: K labels.
        scores: ``(K,)`` shown next to the names.
        colors: ``(K, 3)`` BGR.
        n_sigmas: ellipses drawn at these multiples of sigma.
        radius: point radius.

    Returns:
        BGR uint8, same size as ``crop``.
    """
    out = crop.copy()
    kpts = np.asarray(keypoints, np.float64).reshape(-1, 2)
    k = kpts.shape[0]
    cols = palette(k) if colors is None else np.asarray(colors, np.uint8).reshape(k, 3)
    names = list(keypoint_names) if keypoint_names is not None else [str(i) for i in range(k)]
    sig = None
    if sigmas is not None:
        sig = np.asarray(sigmas, np.float64)
        sig = np.repeat(sig.reshape(k, 1), 2, 1) if sig.ndim == 1 else sig.reshape(k, 2)
    for j in range(k):
        if not np.isfinite(kpts[j]).all():
            continue
        col = _bgr(cols[j])
        centre = tuple(int(v) for v in np.round(kpts[j] * 16))
        if sig is not None and np.isfinite(sig[j]).all():
            for ns in n_sigmas:
                axes = tuple(int(v) for v in np.round(np.maximum(sig[j] * ns, 0.5) * 16))
                cv2.ellipse(out, centre, axes, 0.0, 0.0, 360.0, col, 1, cv2.LINE_AA, 4)  # type: ignore[call-overload]
        cv2.circle(out, centre, radius * 16, col, -1, cv2.LINE_AA, 4)
        label = (
            names[j]
            if scores is None
            else f"{names[j]} {float(np.asarray(scores).reshape(-1)[j]):.2f}"
        )
        _text(out, label, (int(kpts[j, 0]) + radius + 2, int(kpts[j, 1]) + 4), 0.3, col)
    return out
