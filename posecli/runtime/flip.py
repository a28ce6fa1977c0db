"""The flip test outside the network: flipped crops in, raw outputs flipped back and merged.

The same numpy code runs after every backend (PyTorch, ONNX Runtime, TorchScript), so an
exported file and its checkpoint give the same keypoints. Semantics: :mod:`posecli.codecs.flip`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posecli.codecs.flip import flip_coordinates, flip_heatmaps, flip_simcc
from posecli.runtime.spec import FlipSpec


def flip_crops(crops: np.ndarray) -> np.ndarray:
    """``(B, h, w, 3)`` crops mirrored left–right (what ``images.flip(-1)`` is on NCHW)."""
    return np.ascontiguousarray(crops[:, :, ::-1])


def flip_back(
    outputs: Sequence[np.ndarray], kind: str, flip: FlipSpec, input_size: tuple[int, int]
) -> list[np.ndarray]:
    """Raw outputs of flipped crops → the plain frame (``kind``: ``simcc``, ``heatmap``,
    ``coords``; ``input_size (w, h)`` for the exact coordinate shift)."""
    idx = list(flip.flip_indices)
    if kind == "simcc":
        x, y = flip_simcc(outputs[0], outputs[1], idx, shift_bins=flip.simcc_shift_bins)
        return [x, y]
    if kind == "heatmap":
        return [flip_heatmaps(outputs[0], idx, flip.flip_mode, flip.shift_heatmap)]
    return [flip_coordinates(outputs[0], idx, input_size, flip.shift_coords)]


def merge(plain: Sequence[np.ndarray], flipped: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Average plain and flipped-back outputs, item by item (float32)."""
    return [
        ((a + b) * np.float32(0.5)).astype(np.float32) for a, b in zip(plain, flipped, strict=True)
    ]


__all__ = ["flip_back", "flip_crops", "merge"]
