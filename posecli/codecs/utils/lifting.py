"""Helpers shared by the 2D→3D lifting codecs (pose lifting, MotionBERT)."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.utils.backend import to_numpy


def check_root_index(root_index: int, num_keypoints: int) -> None:
    """Raise ``ValueError`` unless ``0 <= root_index < num_keypoints``."""
    if not 0 <= root_index < num_keypoints:
        raise ValueError(f"root_index {root_index} out of range for {num_keypoints} keypoints")


def target_weights(shape: tuple[int, ...], visible: Any) -> np.ndarray:
    """Weights of shape ``shape`` (..., K): ones, or ``visible > 0.5`` as float32."""
    if visible is None:
        return np.ones(shape, np.float32)
    return (to_numpy(visible) > 0.5).astype(np.float32)


def camera_size(
    camera_param: dict[str, Any] | None, who: str
) -> tuple[dict[str, Any], float, float]:
    """Copy ``camera_param`` and return it with its image width and height; ``who`` names the caller."""
    cam = dict(camera_param or {})
    if "w" not in cam or "h" not in cam:
        raise ValueError(f"{who}.encode needs camera_param with 'w' and 'h'")
    return cam, float(cam["w"]), float(cam["h"])


def concat_visibility(labels: np.ndarray, vis: np.ndarray, concat_vis: bool) -> np.ndarray:
    """Append visibility ``(N, K)`` as a last channel of ``labels`` (N, K, C) when asked."""
    if concat_vis:
        return np.concatenate((labels, vis[..., None]), axis=-1)
    return labels
