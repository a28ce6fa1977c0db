"""Frames and images as the runtime takes them: BGR uint8 ``(H, W, 3)``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from posecli.errors import DataError


@dataclass(frozen=True)
class Frame:
    """One frame of a source.

    Attributes:
        index: position in the source (video frame number, or rank in the sorted image list).
        time_s: presentation time in seconds (``index / fps``) for video; ``None`` for images.
        image: BGR uint8 array of shape ``(H, W, 3)``.
        name: file name for images, ``"<video name>#<index>"`` for video frames.
        path: the image or video file, ``None`` for cameras and streams.
    """

    index: int
    time_s: float | None
    image: np.ndarray
    name: str
    path: Path | None = None

    @property
    def size(self) -> tuple[int, int]:
        """``(w, h)`` of the image."""
        return int(self.image.shape[1]), int(self.image.shape[0])


def to_bgr_uint8(image: np.ndarray) -> np.ndarray:
    """Convert a decoded image to BGR uint8 ``(H, W, 3)``.

    Accepts ``(H, W)`` or ``(H, W, 1)`` greyscale, ``(H, W, 3)`` BGR and ``(H, W, 4)`` BGRA (the
    alpha channel is dropped, colours are kept); uint16 is scaled by 1/257, floats in [0, 1] by
    255.
    """
    if image.dtype == np.uint16:
        image = (image.astype(np.float32) / 257.0 + 0.5).astype(np.uint8)
    elif image.dtype.kind == "f":
        image = np.clip(image * 255.0 + 0.5, 0, 255).astype(np.uint8)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, 255).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.ndim == 3 and image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    if image.ndim == 3 and image.shape[2] == 3:
        return np.ascontiguousarray(image)
    raise ValueError(f"unsupported image shape {image.shape}")


def read_image(path: str | Path) -> np.ndarray:
    """Read an image file as BGR uint8 ``(H, W, 3)``; unreadable files raise :class:`DataError`."""
    path = Path(path)
    data = np.fromfile(str(path), dtype=np.uint8) if path.is_file() else None
    image = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if data is not None and data.size else None
    if image is None:
        raise DataError(f"{path}: cannot read image (missing, empty or not an image file)")
    try:
        return to_bgr_uint8(image)
    except ValueError as exc:
        raise DataError(f"{path}: {exc}") from exc


__all__ = ["Frame", "read_image", "to_bgr_uint8"]
