"""Box transforms: box → centre/scale, random half-body, random shift/scale/rotation."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.errors import DataError
from posecli.runtime.geometry import bbox_center_scale


class GetBBoxCenterScale:
    """``bbox (N, 4) xyxy`` → ``bbox_center (N, 2)`` (midpoint) and ``bbox_scale (N, 2)``
    (``(x2-x1, y2-y1) · padding``).

    Args:
        padding: box scale factor.
        fixed_size: ``[w, h]``: that many image pixels for every box (SLEAP's centred-instance
            crops; the runtime cuts the same).
        anchor: index of a keypoint: the crop is centred on it where it is labelled (SLEAP's
            anchor part, e.g. a fly's thorax), else on the box midpoint. At predict time the
            boxes of an anchor detector are centred on the anchor it finds.
    """

    def __init__(
        self,
        padding: float = 1.25,
        fixed_size: tuple[float, float] | None = None,
        anchor: int | None = None,
    ) -> None:
        self.padding = float(padding)
        self.fixed_size = None
        if fixed_size is not None:
            size = tuple(float(v) for v in fixed_size)
            if len(size) != 2 or min(size) <= 0:
                raise ValueError(
                    f"fixed_size must be two positive numbers [w, h], not {fixed_size}"
                )
            self.fixed_size = size
        if anchor is not None and (isinstance(anchor, bool) or int(anchor) < 0):
            raise ValueError(f"anchor must be a keypoint index, not {anchor!r}")
        self.anchor = None if anchor is None else int(anchor)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        centers, scales = bbox_center_scale(sample["bbox"], self.padding, self.fixed_size)
        labelled = sample.get("keypoints") is not None and sample.get("num_keypoints", 1) != 0
        if self.anchor is not None and labelled:  # detected boxes (no labels): their midpoint
            kps = np.asarray(sample["keypoints"], np.float32)
            if self.anchor >= kps.shape[1]:
                raise DataError(
                    f"get_bbox_center_scale: anchor {self.anchor} ≥ {kps.shape[1]} keypoints"
                )
            seen = (
                np.asarray(sample["keypoints_visible"]).reshape(kps.shape[:2])[:, self.anchor] > 0
            )
            centers = np.where(seen[:, None], kps[:, self.anchor], centers).astype(np.float32)
        sample["bbox_center"], sample["bbox_scale"] = centers, scales
        return sample


def truncnorm(
    rng: np.random.Generator, size: tuple[int, ...], low: float = -1.0, high: float = 1.0
) -> np.ndarray:
    """Standard normal samples truncated to ``[low, high]`` (vectorised rejection), float32."""
    out = rng.standard_normal(size)
    bad = (out < low) | (out > high)
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = (out < low) | (out > high)
    return out.astype(np.float32)


class RandomBBoxTransform:
    """Randomly shift, scale and rotate the box (MMPose ``RandomBBoxTransform``).

    Draws ``v ~ truncnorm(-1, 1)``: centre ``+= v·shift_factor·scale``; scale
    ``*= v·(max-min)/2 + (max+min)/2``; rotation ``= v·rotate_factor`` degrees; each applied with
    its probability. Writes ``bbox_center``, ``bbox_scale``, ``bbox_rotation (N,)``.
    """

    def __init__(
        self,
        shift_factor: float = 0.16,
        shift_prob: float = 0.3,
        scale_factor: tuple[float, float] = (0.5, 1.5),
        scale_prob: float = 1.0,
        rotate_factor: float = 80.0,
        rotate_prob: float = 0.6,
    ) -> None:
        self.shift_factor = float(shift_factor)
        self.shift_prob = float(shift_prob)
        self.scale_factor = (float(scale_factor[0]), float(scale_factor[1]))
        self.scale_prob = float(scale_prob)
        self.rotate_factor = float(rotate_factor)
        self.rotate_prob = float(rotate_prob)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        center = np.asarray(sample["bbox_center"], np.float32)
        scale = np.asarray(sample["bbox_scale"], np.float32)
        n = center.shape[0]
        v = truncnorm(rng, (n, 4))
        lo, hi = self.scale_factor
        offset = v[:, :2] * self.shift_factor * scale
        factor = v[:, 2:3] * (hi - lo) / 2 + (hi + lo) / 2
        rotate = v[:, 3] * self.rotate_factor
        masks = rng.random((3, n))
        offset = np.where(masks[0][:, None] < self.shift_prob, offset, 0.0)
        factor = np.where(masks[1][:, None] < self.scale_prob, factor, 1.0)
        rotate = np.where(masks[2] < self.rotate_prob, rotate, 0.0)
        sample["bbox_center"] = (center + offset).astype(np.float32)
        sample["bbox_scale"] = (scale * factor).astype(np.float32)
        sample["bbox_rotation"] = rotate.astype(np.float32)
        return sample


class RandomHalfBody:
    """With probability ``prob``, shrink the box to the visible upper or lower body keypoints:
    centre = their mean, scale = their extent × ``padding`` (MMPose ``RandomHalfBody``).

    Needs ``upper_body_ids``/``lower_body_ids`` in the sample (from the skeleton); a skeleton
    without body halves leaves the box unchanged.
    """

    def __init__(
        self,
        min_total_keypoints: int = 9,
        min_upper_keypoints: int = 2,
        min_lower_keypoints: int = 3,
        padding: float = 1.5,
        prob: float = 0.3,
        upper_prioritized_prob: float = 0.7,
    ) -> None:
        self.min_total_keypoints = int(min_total_keypoints)
        self.min_upper_keypoints = int(min_upper_keypoints)
        self.min_lower_keypoints = int(min_lower_keypoints)
        self.padding = float(padding)
        self.prob = float(prob)
        self.upper_prioritized_prob = float(upper_prioritized_prob)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        upper = np.asarray(sample.get("upper_body_ids", ()), np.int64)
        lower = np.asarray(sample.get("lower_body_ids", ()), np.int64)
        if upper.size == 0 and lower.size == 0:
            return sample
        kps = np.asarray(sample["keypoints"], np.float32)
        vis = np.asarray(sample["keypoints_visible"], np.float32) > 0
        center = np.array(sample["bbox_center"], np.float32)
        scale = np.array(sample["bbox_scale"], np.float32)
        draws = rng.random((kps.shape[0], 2))
        for i in range(kps.shape[0]):
            if vis[i].sum() < self.min_total_keypoints or draws[i, 0] > self.prob:
                continue
            up = upper[vis[i, upper]] if upper.size else upper
            lo = lower[vis[i, lower]] if lower.size else lower
            if len(up) < self.min_upper_keypoints and len(lo) < self.min_lower_keypoints:
                continue
            if len(lo) < self.min_lower_keypoints:
                ids = up
            elif len(up) < self.min_upper_keypoints:
                ids = lo
            else:
                ids = up if draws[i, 1] < self.upper_prioritized_prob else lo
            pts = kps[i, ids]
            center[i] = pts.mean(axis=0)
            scale[i] = (pts.max(axis=0) - pts.min(axis=0)) * self.padding
        sample["bbox_center"] = center
        sample["bbox_scale"] = scale
        return sample


__all__ = ["GetBBoxCenterScale", "RandomBBoxTransform", "RandomHalfBody", "truncnorm"]
