"""Photometric augmentation on the crop (OpenCV/numpy): YOLOX HSV, blur, median blur, coarse
dropout, and ``Albumentation`` building them from MMPose's albumentations tables."""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np

from posecli.data.transforms.loading import ensure_image


class YOLOXHSVRandomAug:
    """Random hue/saturation/value shifts (MMDet ``YOLOXHSVRandomAug``): gains
    ``uniform(-1, 1) · (hue, sat, val)_delta``, each axis on or off at random, truncated to
    integers; hue wraps modulo 180, saturation and value clip to [0, 255]. One ``cv2.LUT``."""

    def __init__(
        self, hue_delta: int = 5, saturation_delta: int = 30, value_delta: int = 30
    ) -> None:
        self.deltas = np.array([hue_delta, saturation_delta, value_delta], np.float64)
        # every per-channel table a gain can select: row g + reach is the table of gain g
        # (hue: (v + g) mod 180; saturation, value: clip(v + g, 0, 255)); gains are truncated
        # towards zero, so |g| <= |delta| < reach
        self._reach = int(np.abs(self.deltas).max()) + 1
        gain = np.arange(-self._reach, self._reach + 1, dtype=np.int16)[:, None]
        ramp = np.arange(256, dtype=np.int16)[None, :]
        self._hue = ((ramp + gain) % 180).astype(np.uint8)
        self._clip = np.clip(ramp + gain, 0, 255).astype(np.uint8)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        img = ensure_image(sample)
        gains = rng.uniform(-1, 1, 3) * self.deltas * rng.integers(0, 2, 3)
        gains = gains.astype(np.int16)
        if not gains.any():
            return sample
        g = gains.tolist()
        r = self._reach
        lut = np.empty((256, 1, 3), np.uint8)
        lut[:, 0, 0] = self._hue[g[0] + r]
        lut[:, 0, 1] = self._clip[g[1] + r]
        lut[:, 0, 2] = self._clip[g[2] + r]
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        sample["img"] = cv2.cvtColor(cv2.LUT(hsv, lut, dst=hsv), cv2.COLOR_HSV2BGR, dst=hsv)
        return sample


def _odd_kernel(rng: np.random.Generator, limit: int | tuple[int, int]) -> int:
    lo, hi = (3, int(limit)) if isinstance(limit, int) else (int(limit[0]), int(limit[1]))
    choices = [k for k in range(max(3, lo), hi + 1) if k % 2 == 1] or [3]
    return int(choices[rng.integers(len(choices))])


class Blur:
    """Box blur with an odd kernel in ``[3, blur_limit]``, with probability ``p``."""

    def __init__(self, blur_limit: int | tuple[int, int] = 7, p: float = 0.5) -> None:
        self.blur_limit = blur_limit
        self.p = float(p)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() < self.p:
            k = _odd_kernel(rng, self.blur_limit)
            sample["img"] = cv2.blur(ensure_image(sample), (k, k))
        return sample


class MedianBlur:
    """Median blur with an odd kernel in ``[3, blur_limit]``, with probability ``p``."""

    def __init__(self, blur_limit: int | tuple[int, int] = 7, p: float = 0.5) -> None:
        self.blur_limit = blur_limit
        self.p = float(p)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() < self.p:
            k = _odd_kernel(rng, self.blur_limit)
            sample["img"] = cv2.medianBlur(ensure_image(sample), k)
        return sample


class CoarseDropout:
    """Zero ``min_holes..max_holes`` rectangles; sizes are fractions of the image side (floats)
    or pixels (ints), drawn uniformly between min and max; with probability ``p``."""

    def __init__(
        self,
        max_holes: int = 1,
        max_height: float = 0.4,
        max_width: float = 0.4,
        min_holes: int | None = None,
        min_height: float | None = None,
        min_width: float | None = None,
        fill_value: int = 0,
        p: float = 0.5,
    ) -> None:
        self.max_holes = int(max_holes)
        self.min_holes = int(min_holes if min_holes is not None else max_holes)
        self.height = (min_height if min_height is not None else max_height, max_height)
        self.width = (min_width if min_width is not None else max_width, max_width)
        self.fill_value = fill_value
        self.p = float(p)

    @staticmethod
    def _size(rng: np.random.Generator, bounds: tuple[float, float], side: int) -> int:
        lo, hi = bounds
        if isinstance(lo, float) or isinstance(hi, float):
            return int(side * rng.uniform(float(lo), float(hi)))
        return int(rng.integers(int(lo), int(hi) + 1))

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() >= self.p:
            return sample
        img = ensure_image(sample).copy()
        h, w = img.shape[:2]
        for _ in range(int(rng.integers(self.min_holes, self.max_holes + 1))):
            hh = min(self._size(rng, self.height, h), h)
            ww = min(self._size(rng, self.width, w), w)
            y = int(rng.integers(0, h - hh + 1))
            x = int(rng.integers(0, w - ww + 1))
            img[y : y + hh, x : x + ww] = self.fill_value
        sample["img"] = img
        return sample


_ALBU = {"Blur": Blur, "MedianBlur": MedianBlur, "CoarseDropout": CoarseDropout}


class Albumentation:
    """MMPose's ``Albumentation(transforms=[{type = "Blur", p = 0.1}, ...])`` with our OpenCV
    versions of ``Blur``, ``MedianBlur`` and ``CoarseDropout``, applied in order."""

    def __init__(
        self, transforms: list[dict[str, Any]], keymap: dict[str, str] | None = None
    ) -> None:
        self.steps = []
        for i, t in enumerate(transforms):
            cfg = dict(t)
            kind = cfg.pop("type", None)
            if kind not in _ALBU:
                raise ValueError(
                    f"transforms[{i}]: type {kind!r} unsupported (supported: {', '.join(_ALBU)})"
                )
            self.steps.append(_ALBU[kind](**cfg))

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        for step in self.steps:
            sample = step(sample, rng)
        return sample


__all__ = ["Albumentation", "Blur", "CoarseDropout", "MedianBlur", "YOLOXHSVRandomAug"]
