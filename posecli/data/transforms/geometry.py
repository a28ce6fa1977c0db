"""Warp matrices (MMPose 1.3.2 numerics, reference §2), their inverses and point warping."""

from __future__ import annotations

import numpy as np


def get_warp_matrix(
    center: np.ndarray | tuple[float, float],
    scale: np.ndarray | tuple[float, float],
    rot: float,
    output_size: tuple[int, int],
    *,
    inv: bool = False,
) -> np.ndarray:
    """(2, 3) affine mapping the box (``center``, ``scale = (sw, sh)``, ``rot`` degrees) to the
    ``output_size = (w, h)`` crop: the centre goes to ``(w/2, h/2)`` and ``sw`` spans ``w``.

    At ``rot = 0``: ``x' = (w/sw)(x - cx) + w/2``, ``y' = (w/sw)(y - cy) + h/2``. Rotation is
    counter-clockwise in the image for positive ``rot`` (MMPose's three-point construction in
    closed form). ``inv=True`` returns the crop → image matrix.
    """
    cx, cy = float(center[0]), float(center[1])
    w, h = float(output_size[0]), float(output_size[1])
    s = w / float(scale[0])
    t = np.deg2rad(float(rot))
    c, n = np.cos(t), np.sin(t)
    a = s * np.array([[c, n], [-n, c]])
    m = np.empty((2, 3))
    m[:, :2] = a
    m[:, 2] = np.array([w / 2, h / 2]) - a @ np.array([cx, cy])
    return invert_affine(m) if inv else m


def get_udp_warp_matrix(
    center: np.ndarray | tuple[float, float],
    scale: np.ndarray | tuple[float, float],
    rot: float,
    output_size: tuple[int, int],
) -> np.ndarray:
    """(2, 3) UDP affine: ``sx = (w-1)/sw``, ``sy = (h-1)/sh``; the centre maps to
    ``((w-1)/2, (h-1)/2)``. **Quirk** (kept for checkpoint parity): for the same ``rot`` it
    rotates the other way round than :func:`get_warp_matrix`.
    """
    cx, cy = float(center[0]), float(center[1])
    sx = (float(output_size[0]) - 1.0) / float(scale[0])
    sy = (float(output_size[1]) - 1.0) / float(scale[1])
    t = np.deg2rad(float(rot))
    c, n = np.cos(t), np.sin(t)
    return np.array(
        [
            [c * sx, -n * sx, sx * (-cx * c + cy * n + 0.5 * float(scale[0]))],
            [n * sy, c * sy, sy * (-cx * n - cy * c + 0.5 * float(scale[1]))],
        ]
    )


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine."""
    full = np.vstack([np.asarray(m, np.float64), [0.0, 0.0, 1.0]])
    return np.linalg.inv(full)[:2]


def compose_affine(outer: np.ndarray, inner: np.ndarray) -> np.ndarray:
    """``outer ∘ inner`` for (2, 3) affines (apply ``inner`` first)."""
    a = np.vstack([outer, [0.0, 0.0, 1.0]])
    b = np.vstack([inner, [0.0, 0.0, 1.0]])
    return (a @ b)[:2]


def warp_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply a (2, 3) affine to points ``(..., 2)``; returns float32."""
    pts = np.asarray(points, np.float64)
    return (pts @ m[:, :2].T + m[:, 2]).astype(np.float32)


def fix_aspect_ratio(scale: np.ndarray, aspect_ratio: float) -> np.ndarray:
    """Grow ``(sw, sh)`` (shape ``(..., 2)``) to ``aspect_ratio = w/h``: ``(sw, sw/ar)`` if
    ``sw > sh·ar`` else ``(sh·ar, sh)``."""
    scale = np.asarray(scale, np.float32)
    w, h = scale[..., 0], scale[..., 1]
    wide = w > h * aspect_ratio
    return np.stack(
        [np.where(wide, w, h * aspect_ratio), np.where(wide, w / aspect_ratio, h)], axis=-1
    ).astype(np.float32)


def flip_matrix(width: int, height: int, direction: str) -> np.ndarray:
    """(2, 3) affine of an image flip: ``x → w-1-x`` (horizontal), ``y → h-1-y`` (vertical)."""
    m = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    if direction in ("horizontal", "diagonal"):
        m[0] = [-1.0, 0.0, width - 1.0]
    if direction in ("vertical", "diagonal"):
        m[1] = [0.0, -1.0, height - 1.0]
    return m


__all__ = [
    "compose_affine",
    "fix_aspect_ratio",
    "flip_matrix",
    "get_udp_warp_matrix",
    "get_warp_matrix",
    "invert_affine",
    "warp_points",
]
