"""LoadImage: decode the sample's image (or take it from the image cache)."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.data.io import read_image


class LoadImage:
    """Decode ``img_path`` (or frame ``frame_idx`` of a video) into ``img`` (H, W, 3) BGR uint8.

    An ``img`` already in the sample (put there by the dataset's image cache) is kept, not
    decoded again. Sets ``img_shape`` and ``ori_shape`` ``(h, w)``.

    Args:
        to_float32: convert the image to float32 (MMPose option; off for speed).
    """

    def __init__(self, to_float32: bool = False) -> None:
        self.to_float32 = to_float32

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        img = sample.get("img")
        if img is None:
            record = f"image id={sample.get('img_id')}" if "img_id" in sample else ""
            img = read_image(sample["img_path"], sample.get("frame_idx"), record=record)
        if self.to_float32:
            img = img.astype(np.float32)
        sample["img"] = img
        sample["img_shape"] = img.shape[:2]
        sample.setdefault("ori_shape", img.shape[:2])
        return sample


def ensure_image(sample: dict[str, Any]) -> np.ndarray:
    """The sample's image with any pending (lazy) flip applied; updates the sample."""
    import cv2

    pending = sample.pop("img_pending", None)
    img = sample["img"]
    if pending is not None:
        h, w = img.shape[:2]
        img = cv2.warpAffine(img, pending, (w, h), flags=cv2.INTER_NEAREST)
        sample["img"] = img
    return img


__all__ = ["LoadImage", "ensure_image"]
