"""Bottom-up transforms: whole-image warps, the heatmap mask, annotation filtering.

MMPose 1.3.2 semantics (``BottomupRandomAffine``, ``BottomupResize``,
``BottomupGetHeatmapMask``, ``FilterAnnotations``). After :class:`BottomupRandomAffine` the
image *and* ``keypoints`` / ``bbox`` are in input space (as MMPose), so a later
``random_flip`` and ``generate_target`` (which encodes ``keypoints`` when there are no
``transformed_keypoints``) see input-space instances. :class:`BottomupResize` (validation) leaves
the keypoints in image pixels and records ``input_center`` / ``input_scale`` for the way
back (``kp / input_size · input_scale + input_center − input_scale / 2``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import cv2
import numpy as np

from posecli.data.io import gray_plane
from posecli.runtime.geometry import get_udp_warp_matrix, get_warp_matrix, warp_points


def _truncnorm(rng: np.random.Generator, size: int) -> np.ndarray:
    """Standard normal truncated to [-1, 1] (rejection sampling from ``rng``)."""
    out = rng.standard_normal(size)
    bad = np.abs(out) > 1
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 1
    return out.astype(np.float32)


def _warp_image(
    img: np.ndarray, m: np.ndarray, size: tuple[int, int], pad_val: Any = 0
) -> np.ndarray:
    """``cv2.warpAffine`` (``m`` 2×3) or ``cv2.warpPerspective`` (3×3), border ``pad_val``."""
    plane = gray_plane(img)
    src = img if plane is None else plane
    border = (
        tuple(float(v) for v in np.ravel(pad_val)) if np.ndim(pad_val) else (float(pad_val),) * 3
    )
    if plane is not None:
        border = float(np.ravel(border)[0])
    if np.shape(m)[0] == 3:
        out = cv2.warpPerspective(src, m, size, flags=cv2.INTER_LINEAR, borderValue=border)
    else:
        out = cv2.warpAffine(src, m, size, flags=cv2.INTER_LINEAR, borderValue=border)
    return out if plane is None else cv2.cvtColor(out, cv2.COLOR_GRAY2BGR)


def apply_pending(sample: dict[str, Any]) -> dict[str, Any]:
    """Apply a pending lazy affine (``img_pending``, e.g. a ``random_flip`` after a bottom-up
    warp) to ``img`` in place of ``TopdownAffine`` folding it."""
    m = sample.pop("img_pending", None)
    if m is not None and "img" in sample:
        h, w = sample["img"].shape[:2]
        sample["img"] = _warp_image(sample["img"], np.asarray(m, np.float64), (w, h))
    return sample


def _warp_boxes(bbox: np.ndarray, m: np.ndarray) -> np.ndarray:
    """xyxy boxes ``(N, 4)`` → the xyxy hull of their four warped corners."""
    b = np.asarray(bbox, np.float32).reshape(-1, 4)
    corners = np.stack(
        [b[:, [0, 1]], b[:, [0, 3]], b[:, [2, 1]], b[:, [2, 3]]], axis=1
    )  # (N, 4, 2)
    w = warp_points(corners, m)
    return np.concatenate([w.min(1), w.max(1)], axis=1).astype(np.float32)


def clip_instances(sample: dict[str, Any], w: int, h: int) -> None:
    """In place: ``bbox`` clipped to the ``w × h`` image; ``keypoints`` outside it become
    invisible in ``keypoints_visible`` (MMPose's ``bbox_clip_border`` /
    ``keypoint_clip_border``)."""
    if "bbox" in sample:
        sample["bbox"][:, 0::2] = sample["bbox"][:, 0::2].clip(0, w)
        sample["bbox"][:, 1::2] = sample["bbox"][:, 1::2].clip(0, h)
    if "keypoints" in sample and "keypoints_visible" in sample:
        kp = sample["keypoints"]
        out = (kp[..., 0] < 0) | (kp[..., 0] > w) | (kp[..., 1] < 0) | (kp[..., 1] > h)
        vis = np.asarray(sample["keypoints_visible"], np.float32)
        sample["keypoints_visible"] = np.where(out, 0, vis).astype(np.float32)


def fix_aspect_ratio_bottomup(
    scale: np.ndarray, aspect_ratio: float, scale_type: str
) -> np.ndarray:
    """Grow (``short``) or shrink (``long``) the ``(w, h)`` scale to ``aspect_ratio = w / h``
    (MMPose ``BottomupRandomAffine._fix_aspect_ratio``)."""
    w, h = float(scale[0]), float(scale[1])
    if scale_type not in ("short", "long"):
        raise ValueError(f"scale_type must be 'short' or 'long', got {scale_type!r}")
    if w > h * aspect_ratio:
        out = (w, w / aspect_ratio) if scale_type == "long" else (h * aspect_ratio, h)
    else:
        out = (w, w / aspect_ratio) if scale_type == "short" else (h * aspect_ratio, h)
    return np.array(out, np.float32)


class BottomupRandomAffine:
    """Random shift, scale and rotation of the whole image into ``input_size`` (training).

    Offset ``u(2) · shift_factor · (img_w, img_h)``, scale ``s_min + (s_max - s_min)(u + 1)/2``
    of the image size (then fitted to the input aspect by ``scale_type``), rotation
    ``u · rotate_factor`` degrees, each applied with its probability; ``u`` is a normal
    truncated to [-1, 1] (``distribution = "trunc_norm"``) or uniform on [-1, 1]
    (``"uniform"``). Centre ``(img_w/2, img_h/2)`` (UDP: ``((img_w-1)/2, (img_h-1)/2)``).
    Instance ``area`` scales with the warp's determinant.

    Args:
        input_size: model input ``(w, h)``.
        shift_factor, shift_prob, scale_factor, scale_prob, scale_type, rotate_factor,
        rotate_prob, use_udp: as MMPose.
        distribution: ``trunc_norm`` or ``uniform`` (RTMO).
        transform_mode: ``affine``, ``affine_udp`` (= ``use_udp``) or ``perspective`` (the same
            geometry as ``affine`` as a 3×3 matrix warped with ``cv2.warpPerspective``, as
            MMPose's RTMO pipeline builds it).
        pad_val: border value (a number or a BGR triple).
        bbox_keep_corner: must be false: boxes become the xyxy hull of their warped corners.
        clip_border: clip boxes to the input; keypoints outside it become invisible.
    """

    def __init__(
        self,
        input_size: Sequence[int],
        shift_factor: float = 0.2,
        shift_prob: float = 1.0,
        scale_factor: Sequence[float] = (0.75, 1.5),
        scale_prob: float = 1.0,
        scale_type: str = "short",
        rotate_factor: float = 30.0,
        rotate_prob: float = 1.0,
        use_udp: bool = False,
        distribution: str = "trunc_norm",
        transform_mode: str = "affine",
        pad_val: float | Sequence[float] = 0,
        bbox_keep_corner: bool = False,
        clip_border: bool = False,
    ) -> None:
        if distribution not in ("trunc_norm", "uniform"):
            raise ValueError(
                f"distribution must be 'trunc_norm' or 'uniform', got {distribution!r}"
            )
        if transform_mode not in ("affine", "affine_udp", "perspective"):
            raise ValueError(
                "transform_mode must be 'affine', 'affine_udp' or 'perspective', "
                f"got {transform_mode!r}"
            )
        if bbox_keep_corner:
            raise ValueError(
                "bbox_keep_corner = true is not supported: posecli boxes are xyxy (the hull of "
                "the warped corners); set it to false"
            )
        self.distribution = distribution
        self.transform_mode = transform_mode
        self.pad_val = pad_val
        self.clip_border = bool(clip_border)
        use_udp = bool(use_udp) or transform_mode == "affine_udp"
        if len(input_size) != 2:
            raise ValueError(f"input_size must be [width, height], got {input_size}")
        if scale_type not in ("short", "long"):
            raise ValueError(f"scale_type must be 'short' or 'long', got {scale_type!r}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.shift_factor = float(shift_factor)
        self.shift_prob = float(shift_prob)
        self.scale_factor = (float(scale_factor[0]), float(scale_factor[1]))
        self.scale_prob = float(scale_prob)
        self.scale_type = scale_type
        self.rotate_factor = float(rotate_factor)
        self.rotate_prob = float(rotate_prob)
        self.use_udp = bool(use_udp)

    def _unit(self, rng: np.random.Generator, size: int) -> np.ndarray:
        if self.distribution == "uniform":
            return rng.uniform(-1.0, 1.0, size).astype(np.float32)
        return _truncnorm(rng, size)

    def params(self, rng: np.random.Generator) -> tuple[np.ndarray, float, float]:
        """``(offset rate (2,), scale rate, rotation degrees)`` drawn from ``rng``."""
        offset = (
            self._unit(rng, 2) * self.shift_factor
            if rng.random() < self.shift_prob
            else np.zeros(2, np.float32)
        )
        lo, hi = self.scale_factor
        scale = (
            float(lo + (hi - lo) * (self._unit(rng, 1)[0] + 1) / 2)
            if rng.random() < self.scale_prob
            else 1.0
        )
        rot = (
            float(self._unit(rng, 1)[0] * self.rotate_factor)
            if rng.random() < self.rotate_prob
            else 0.0
        )
        return offset, scale, rot

    def matrix(
        self, img_wh: tuple[int, int], offset: np.ndarray, scale: float, rot: float
    ) -> np.ndarray:
        """The image → input affine ``(2, 3)`` for given parameters."""
        img_w, img_h = img_wh
        w, h = self.input_size
        off = np.asarray(offset, np.float32) * np.array([img_w, img_h], np.float32)
        sc = fix_aspect_ratio_bottomup(
            np.array([img_w, img_h], np.float32) * scale, w / h, self.scale_type
        )
        if self.use_udp:
            c = np.array([(img_w - 1.0) / 2, (img_h - 1.0) / 2], np.float32)
            return get_udp_warp_matrix(c + off, sc, rot, (w, h))
        c = np.array([img_w / 2, img_h / 2], np.float32)
        return get_warp_matrix(c + off, sc, rot, (w, h))

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        apply_pending(sample)
        img_h, img_w = sample.get("img_shape") or sample["img"].shape[:2]
        m = self.matrix((int(img_w), int(img_h)), *self.params(rng))
        w, h = self.input_size
        warp = np.vstack([m, [0.0, 0.0, 1.0]]) if self.transform_mode == "perspective" else m
        sample["img"] = _warp_image(sample["img"], warp, (w, h), self.pad_val)
        sample["img_shape"] = (h, w)
        if "keypoints" in sample:
            kp = warp_points(np.asarray(sample["keypoints"], np.float32), m).astype(np.float32)
            sample["keypoints"] = kp  # input space from here on (MMPose)
        if "bbox" in sample:
            sample["bbox"] = _warp_boxes(sample["bbox"], m)
        if "area" in sample:
            det = abs(float(np.linalg.det(np.asarray(m, np.float64)[:, :2])))
            sample["area"] = (np.asarray(sample["area"], np.float32) * det).astype(np.float32)
        if self.clip_border:
            clip_instances(sample, w, h)
        sample["input_size"] = (w, h)
        sample["warp_mat"] = m.astype(np.float32)
        return sample


class BottomupResize:
    """Resize the whole image for inference (MMPose ``BottomupResize``).

    ``fit``: the image fits inside ``input_size`` (a multiple of ``size_factor``);
    ``expand``: the shorter side matches and the input grows to a multiple of ``size_factor``;
    the padding is ``pad_val`` (a number or a BGR triple; RTMO: 114).
    Records ``input_size`` (the padded size), ``input_center`` (image centre, not rounded) and
    ``input_scale`` (image size × padded / resized); keypoints stay in image pixels.

    Multi-scale test (``aug_scales``, e.g. ``[0.5, 1.5]``, with ``model.test.multiscale_test``):
    ``img`` and the geometry stay those of ``input_size``; ``aug_imgs`` holds the image resized
    the same way for each ``input_size × s`` (int-truncated, as MMPose), and ``aug_scales`` the
    factors.
    """

    def __init__(
        self,
        input_size: Sequence[int],
        size_factor: int = 32,
        resize_mode: str = "fit",
        use_udp: bool = False,
        aug_scales: Sequence[float] | None = None,
        pad_val: float | Sequence[float] = 0,
    ) -> None:
        self.pad_val = pad_val
        if resize_mode not in ("fit", "expand"):
            raise ValueError(f"resize_mode must be 'fit' or 'expand', got {resize_mode!r}")
        self.aug_scales = [float(s) for s in aug_scales or ()]
        if any(not s > 0 for s in self.aug_scales):
            raise ValueError(f"bottomup_resize: aug_scales must be positive, got {aug_scales}")
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.size_factor = int(size_factor)
        self.resize_mode = resize_mode
        self.use_udp = bool(use_udp)

    def _ceil(self, size: Sequence[float]) -> tuple[int, int]:
        f = self.size_factor
        return int(np.ceil(size[0] / f) * f), int(np.ceil(size[1] / f) * f)

    def sizes(
        self, img_wh: tuple[int, int], input_size: tuple[int, int] | None = None
    ) -> tuple[tuple[float, float], tuple[int, int]]:
        """``(resized (w, h), padded input (w, h))`` for an image of size ``img_wh`` (at
        ``input_size``, default the transform's)."""
        img_w, img_h = img_wh
        size = input_size or self.input_size
        ratio = img_w / img_h
        if self.resize_mode == "fit":
            padded = self._ceil(size)
            if padded != size:
                raise ValueError(
                    f"bottomup_resize: input_size {list(size)} must be a multiple "
                    f"of size_factor {self.size_factor} in 'fit' mode"
                )
            pw, ph = padded
            return (min(pw, ph * ratio), min(ph, pw / ratio)), padded
        pw, ph = self._ceil(size)
        actual = (max(pw, ph * ratio), max(ph, pw / ratio))
        return actual, self._ceil(actual)

    def _resize(
        self, img: np.ndarray, img_wh: tuple[int, int], input_size: tuple[int, int]
    ) -> tuple[np.ndarray, tuple[int, int], np.ndarray, np.ndarray, np.ndarray]:
        """``(image, padded (w, h), centre, scale, warp (2, 3))`` at one input size."""
        img_w, img_h = img_wh
        actual, padded = self.sizes(img_wh, input_size)
        if self.use_udp:
            center = np.array([(img_w - 1.0) / 2, (img_h - 1.0) / 2], np.float32)
            scale = np.array([img_w, img_h], np.float32)
            m = get_udp_warp_matrix(center, scale, 0.0, actual)
        else:
            center = np.array([img_w / 2, img_h / 2], np.float32)
            scale = np.array(
                [img_w * padded[0] / actual[0], img_h * padded[1] / actual[1]], np.float32
            )
            m = get_warp_matrix(center, scale, 0.0, padded)
        return _warp_image(img, m, padded, self.pad_val), padded, center, scale, m

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        apply_pending(sample)
        img_h, img_w = sample["ori_shape"]
        img_wh = (int(img_w), int(img_h))
        source = sample["img"]
        img, padded, center, scale, m = self._resize(source, img_wh, self.input_size)
        if self.aug_scales:
            w, h = self.input_size
            sample["aug_imgs"] = [
                self._resize(source, img_wh, (int(w * s), int(h * s)))[0] for s in self.aug_scales
            ]
            sample["aug_scales"] = list(self.aug_scales)
        sample["img"] = img
        sample["img_shape"] = (padded[1], padded[0])
        sample["input_size"] = padded
        sample["input_center"] = center.astype(np.float32)
        sample["input_scale"] = scale.astype(np.float32)
        sample["warp_mat"] = m.astype(np.float32)
        return sample


class BottomupGetHeatmapMask:
    """``heatmap_mask (H, W)`` float32 (1 = supervised) at the heatmap size: the valid image
    region warped by ``warp_mat`` into the input, flipped with the sample, resized bilinearly
    and binarised at 0.5. (posecli datasets carry no crowd segmentations, so only the region
    outside the warped image is masked.) A pending lazy flip of ``img`` is applied here."""

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        apply_pending(sample)
        img_h, img_w = sample["ori_shape"]
        mask = np.ones((int(img_h), int(img_w)), np.float32)
        size = tuple(int(v) for v in sample.get("input_size") or (img_w, img_h))
        if "warp_mat" in sample:
            mask = cv2.warpAffine(
                mask, np.asarray(sample["warp_mat"], np.float64), size, flags=cv2.INTER_LINEAR
            )
        if sample.get("flip") and sample.get("flip_direction"):
            d = sample["flip_direction"]
            mask = (
                mask[:, ::-1]
                if d == "horizontal"
                else mask[::-1]
                if d == "vertical"
                else mask[::-1, ::-1]
            )
        hm = sample.get("heatmaps")
        if hm is not None:
            hm = hm[0] if isinstance(hm, list) else hm
            h, w = np.shape(hm)[1:3]
            mask = cv2.resize(np.ascontiguousarray(mask), (w, h), interpolation=cv2.INTER_LINEAR)
        sample["heatmap_mask"] = (mask > 0.5).astype(np.float32)
        return sample


#: Per-instance keys :class:`FilterAnnotations` subsets.
_INSTANCE_KEYS = (
    "bbox",
    "bbox_score",
    "keypoints",
    "keypoints_visible",
    "transformed_keypoints",
    "area",
    "iscrowd",
    "track_id",
)


class FilterAnnotations:
    """Drop instances by box size, area and visible keypoints (MMPose ``FilterAnnotations``).

    Args:
        min_gt_bbox_wh: minimum box ``(w, h)`` (``by_box``).
        min_gt_area: minimum ``area`` (``by_area``).
        min_kpt_vis: minimum visible keypoints (``by_kpt``).
        by_box, by_area, by_kpt: which tests apply (all must pass).
        keep_empty: keep a sample left with no instance (else it raises ``ValueError``:
            a sample that cannot be used).
    """

    def __init__(
        self,
        min_gt_bbox_wh: Sequence[int] = (1, 1),
        min_gt_area: int = 1,
        min_kpt_vis: int = 1,
        by_box: bool = False,
        by_area: bool = False,
        by_kpt: bool = True,
        keep_empty: bool = True,
    ) -> None:
        if not (by_box or by_area or by_kpt):
            raise ValueError("filter_annotations: at least one of by_box, by_area, by_kpt")
        self.min_gt_bbox_wh = (float(min_gt_bbox_wh[0]), float(min_gt_bbox_wh[1]))
        self.min_gt_area = float(min_gt_area)
        self.min_kpt_vis = int(min_kpt_vis)
        self.by_box, self.by_area, self.by_kpt = bool(by_box), bool(by_area), bool(by_kpt)
        self.keep_empty = bool(keep_empty)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        n = int(np.shape(sample["keypoints"])[0])
        keep = np.ones(n, bool)
        if self.by_box and "bbox" in sample:
            b = np.asarray(sample["bbox"], np.float32).reshape(-1, 4)
            keep &= (b[:, 2] - b[:, 0] > self.min_gt_bbox_wh[0]) & (
                b[:, 3] - b[:, 1] > self.min_gt_bbox_wh[1]
            )
        if self.by_area and "area" in sample:
            keep &= np.asarray(sample["area"], np.float32).reshape(-1) >= self.min_gt_area
        if self.by_kpt:
            keep &= (np.asarray(sample["keypoints_visible"]) > 0).sum(1) >= self.min_kpt_vis
        if not keep.any() and not self.keep_empty:
            raise ValueError("filter_annotations: no instance left (keep_empty = false)")
        for key in _INSTANCE_KEYS:
            if key in sample and np.ndim(sample[key]) >= 1 and np.shape(sample[key])[0] == n:
                sample[key] = np.asarray(sample[key])[keep]
        if isinstance(sample.get("id"), list) and len(sample["id"]) == n:
            sample["id"] = [i for i, k in zip(sample["id"], keep, strict=True) if k]
        return sample


__all__ = [
    "BottomupGetHeatmapMask",
    "BottomupRandomAffine",
    "BottomupResize",
    "FilterAnnotations",
    "apply_pending",
    "clip_instances",
    "fix_aspect_ratio_bottomup",
]
