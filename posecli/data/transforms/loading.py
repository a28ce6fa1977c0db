"""LoadImage: decode the sample's image (or take it from the image cache)."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.data.io import gray_plane, read_image


class LoadImage:
    """Decode ``img_path`` (or frame ``frame_idx`` of a video) into ``img`` (H, W, 3) BGR uint8.

    An ``img`` already in the sample (put there by the dataset's image cache) is kept, not
    decoded again. Sets ``img_shape`` and ``ori_shape`` ``(h, w)``. An 8-bit grayscale PNG
    comes as a read-only ``(H, W, 3)`` view of its single plane (same values as a BGR decode;
    :func:`posecli.data.io.read_image` ``gray_view``), which TopdownAffine warps once.

    Args:
        to_float32: convert the image to float32 (MMPose option; off for speed).
    """

    def __init__(self, to_float32: bool = False) -> None:
        self.to_float32 = to_float32

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        img = sample.get("img")
        if img is None:
            record = f"image id={sample.get('img_id')}" if "img_id" in sample else ""
            img = read_image(
                sample["img_path"], sample.get("frame_idx"), record=record, gray_view=True
            )
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
        plane = gray_plane(img)
        if plane is None:
            img = cv2.warpAffine(img, pending, (w, h), flags=cv2.INTER_NEAREST)
        else:  # warp the one plane; keep the (H, W, 3) gray view
            img = cv2.warpAffine(plane, pending, (w, h), flags=cv2.INTER_NEAREST)
            img = np.broadcast_to(img[:, :, None], (h, w, 3))
        sample["img"] = img
    return img


__all__ = ["LoadImage", "ensure_image"]
