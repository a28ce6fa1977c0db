"""Top-down geometry, the one copy (MMPose 1.3.2 numerics, reference §2).

Used by the training transforms (:mod:`posecli.data.transforms`), :class:`PoseModel.predict`,
the runtime :class:`~posecli.runtime.predictor.Predictor` and every exported model. Sizes are
``(w, h)``; points are image or crop pixels in the pixel-centre convention (pixel ``i`` covers
``[i-0.5, i+0.5]``). Numpy and OpenCV only.

A box ``(x1, y1, x2, y2)`` becomes ``centre = midpoint`` and ``scale = size · padding``
(:func:`bbox_center_scale`), grown to the input aspect ratio (:func:`fix_aspect_ratio`), and is
warped into the ``(w, h)`` crop with :func:`get_warp_matrix` (or :func:`get_udp_warp_matrix`).
Crop keypoints go back with :func:`crop_to_image`:
``kp_img = kp_crop / input_size · scale + centre - scale / 2``.
"""

from __future__ import annotations

from typing import Any

import cv2
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


def bbox_center_scale(
    bboxes: Any, padding: float = 1.25, fixed_size: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """``bboxes (N, 4)`` xyxy → ``centre (N, 2)`` (midpoint) and ``scale (N, 2)``
    (``(x2-x1, y2-y1) · padding``), float32 (MMPose ``GetBBoxCenterScale``).

    ``fixed_size = (w, h)``: every scale is that many image pixels whatever the box's extent
    (SLEAP's centred-instance crops: animals of one size, seen at their native scale).
    """
    b = np.asarray(bboxes, np.float32).reshape(-1, 4)
    centers = (b[:, :2] + b[:, 2:]) * np.float32(0.5)
    if fixed_size is not None:
        fixed = np.asarray(fixed_size, np.float32).reshape(1, 2)
        return centers, np.repeat(fixed, len(b), axis=0)
    return centers, (b[:, 2:] - b[:, :2]) * np.float32(padding)


def box_crops(
    image: np.ndarray,
    bboxes: Any,
    input_size: tuple[int, int],
    *,
    padding: float = 1.25,
    use_udp: bool = False,
    fixed_size: Any = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Warp each box of ``image`` (``(H, W, 3)`` uint8) into a ``(w, h)`` crop, as the test
    pipeline (``GetBBoxCenterScale`` → ``TopdownAffine``, no rotation) does (``fixed_size``:
    see :func:`bbox_center_scale`).

    Returns:
        ``crops (N, h, w, 3)`` (bilinear, black border), ``centers (N, 2)`` and aspect-fixed
        ``scales (N, 2)`` in image pixels (float32).
    """
    w, h = int(input_size[0]), int(input_size[1])
    centers, scales = bbox_center_scale(bboxes, padding, fixed_size)
    scales = fix_aspect_ratio(scales, w / h)
    out = np.empty((len(centers), h, w, 3), np.uint8)
    make = get_udp_warp_matrix if use_udp else get_warp_matrix
    for i in range(len(centers)):  # one cv2 call per crop (OpenCV has no batched warp)
        out[i] = cv2.warpAffine(
            image, make(centers[i], scales[i], 0.0, (w, h)), (w, h), flags=cv2.INTER_LINEAR
        )
    return out, centers, scales


def crop_to_image(keypoints: Any, input_size: tuple[int, int], center: Any, scale: Any) -> Any:
    """Crop keypoints ``(N, K, 2)`` → image pixels given ``center``/``scale`` ``(N, 2)``:
    ``kp / input_size · scale + center - scale / 2``.

    Works on numpy arrays (float32 out) and on torch tensors (``center``/``scale`` are moved
    to the keypoints' device and dtype), so the training-time ``PoseModel.predict`` and the
    runtime share it.
    """
    if hasattr(keypoints, "new_tensor"):  # a torch tensor: stay in torch
        import torch

        ct = torch.as_tensor(center).to(keypoints).reshape(-1, 1, 2)
        st = torch.as_tensor(scale).to(keypoints).reshape(-1, 1, 2)
        wh = keypoints.new_tensor([float(input_size[0]), float(input_size[1])])
        return keypoints / wh * st + ct - 0.5 * st
    kp = np.asarray(keypoints, np.float32)
    c = np.asarray(center, np.float32).reshape(-1, 1, 2)
    s = np.asarray(scale, np.float32).reshape(-1, 1, 2)
    size = np.array([input_size[0], input_size[1]], np.float32)
    return (kp / size * s + c - np.float32(0.5) * s).astype(np.float32)


__all__ = [
    "bbox_center_scale",
    "box_crops",
    "compose_affine",
    "crop_to_image",
    "fix_aspect_ratio",
    "flip_matrix",
    "get_udp_warp_matrix",
    "get_warp_matrix",
    "invert_affine",
    "warp_points",
]
