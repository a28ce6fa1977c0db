"""RandomFlip: mirror keypoints (reordered by ``flip_indices``), boxes and centres; the image
flip is recorded lazily in ``img_pending`` and folded into TopdownAffine's single warp."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from posecli.data.transforms.geometry import compose_affine, flip_matrix

_DIRECTIONS = ("horizontal", "vertical", "diagonal")


def flip_keypoints(
    keypoints: np.ndarray,
    visible: np.ndarray,
    size: tuple[int, int],
    flip_indices: Sequence[int],
    direction: str = "horizontal",
) -> tuple[np.ndarray, np.ndarray]:
    """Mirror ``keypoints (N, K, 2)`` in an image of ``size = (w, h)``: reorder by
    ``flip_indices``, then ``x' = w-1-x`` (and/or ``y' = h-1-y``)."""
    idx = np.asarray(flip_indices, np.int64)
    kp = np.array(keypoints, np.float32)[:, idx]
    vis = np.array(visible, np.float32)[:, idx]
    w, h = size
    if direction in ("horizontal", "diagonal"):
        kp[..., 0] = w - 1 - kp[..., 0]
    if direction in ("vertical", "diagonal"):
        kp[..., 1] = h - 1 - kp[..., 1]
    return kp, vis


def flip_bbox(bbox: np.ndarray, size: tuple[int, int], direction: str = "horizontal") -> np.ndarray:
    """Mirror ``xyxy`` boxes ``(N, 4)``: ``[x1, x2]' = w-1-[x2, x1]``."""
    b = np.array(bbox, np.float32).reshape(-1, 4)
    w, h = size
    if direction in ("horizontal", "diagonal"):
        b[:, [0, 2]] = w - 1 - b[:, [2, 0]]
    if direction in ("vertical", "diagonal"):
        b[:, [1, 3]] = h - 1 - b[:, [3, 1]]
    return b


class RandomFlip:
    """Flip with probability ``prob`` (MMPose ``RandomFlip``).

    Args:
        prob: flip probability (a list gives one per direction, as in MMPose).
        direction: ``"horizontal"``, ``"vertical"``, ``"diagonal"`` or a list of them.
    """

    def __init__(
        self, prob: float | list[float] = 0.5, direction: str | list[str] = "horizontal"
    ) -> None:
        dirs = [direction] if isinstance(direction, str) else list(direction)
        probs = (
            list(prob) if isinstance(prob, (list, tuple)) else [float(prob) / len(dirs)] * len(dirs)
        )
        if (
            any(d not in _DIRECTIONS for d in dirs)
            or len(probs) != len(dirs)
            or sum(probs) > 1 + 1e-6
        ):
            raise ValueError(f"RandomFlip: directions {dirs} / probabilities {probs} are not valid")
        self.directions = dirs
        self.probs = np.cumsum(probs)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        u = rng.random()
        k = int(np.searchsorted(self.probs, u, side="right"))
        if k >= len(self.directions):
            sample["flip"] = False
            sample["flip_direction"] = None
            return sample
        return apply_flip(sample, self.directions[k])


def apply_flip(sample: dict[str, Any], direction: str = "horizontal") -> dict[str, Any]:
    """Flip ``sample`` deterministically (keypoints, boxes, centres; the image lazily)."""
    h, w = sample.get("img_shape") or sample["ori_shape"]
    size = (int(w), int(h))
    if "keypoints" in sample:
        flip_idx = sample.get("flip_indices") or list(range(np.shape(sample["keypoints"])[1]))
        sample["keypoints"], sample["keypoints_visible"] = flip_keypoints(
            sample["keypoints"], sample["keypoints_visible"], size, flip_idx, direction
        )
    if "bbox" in sample:
        sample["bbox"] = flip_bbox(sample["bbox"], size, direction)
    if "bbox_center" in sample:
        c = np.array(sample["bbox_center"], np.float32)
        if direction in ("horizontal", "diagonal"):
            c[:, 0] = w - 1 - c[:, 0]
        if direction in ("vertical", "diagonal"):
            c[:, 1] = h - 1 - c[:, 1]
        sample["bbox_center"] = c
    m = flip_matrix(w, h, direction)
    pending = sample.get("img_pending")
    sample["img_pending"] = m if pending is None else compose_affine(m, pending)
    sample["flip"] = not sample.get("flip", False)
    sample["flip_direction"] = direction if sample["flip"] else None
    return sample


__all__ = ["RandomFlip", "apply_flip", "flip_bbox", "flip_keypoints"]
