"""Collation: a list of top-down samples → a batch of tensors (the contract models train on).

``batch["inputs"]``: uint8 (or float32) tensor (B, 3, H, W), BGR 0–255, stored channels-last
(the stacked HWC images, permuted without a copy). Codec targets are stacked with the
single-instance dimension squeezed (``heatmaps (B,K,H,W)``, ``keypoint_weights (B,K)``,
``keypoint_x_labels (B,K,Wx)``, ``keypoint_y_labels (B,K,Wy)``, ``keypoint_labels (B,K,2)``;
a key several codecs produced is a list of such tensors). Meta tensors in image space:
``input_center (B,2)``, ``input_scale (B,2)``, ``bbox (B,4)``, ``bbox_score (B,)``,
``keypoints (B,K,2)``, ``keypoints_visible (B,K)``, plus ``transformed_keypoints (B,K,2)``,
``bbox_rotation (B,)``, ``flip (B,)``, for the bottom-up multi-scale test ``aug_inputs`` (one
``(B, 3, H_s, W_s)`` tensor per extra scale) and ``aug_scales``, and ``meta``: one dict per
sample (``img_path``, ``id``, ``img_id``, ``category_id``, ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from posecli.data.sample import IMAGE_TARGET_KEYS, INSTANCE_KEYS, META_KEYS
from posecli.data.transforms.lifting import LIFTING_BATCH_KEYS

_TENSOR_KEYS = (
    "input_center",
    "input_scale",
    "bbox",
    "bbox_score",
    "keypoints",
    "keypoints_visible",
    "transformed_keypoints",
    "bbox_rotation",
    "area",
)
_SKIP = {
    "img",
    "img_pending",
    "bbox_center",
    "bbox_scale",
    "warp_mat",
    "dataset_keypoint_weights",
    "upper_body_ids",
    "lower_body_ids",
    "extra_meta_keys",
    "mix_source",
    "aug_imgs",
    "aug_scales",
    *META_KEYS,
    *_TENSOR_KEYS,
}


def _squeeze(key: str, value: np.ndarray) -> np.ndarray:
    value = np.asarray(value)
    if key in INSTANCE_KEYS and value.ndim >= 1 and value.shape[0] == 1:
        return value[0]
    return value


def _stack(key: str, values: Sequence[Any]) -> torch.Tensor | list[Any]:
    arrays = [_squeeze(key, v) for v in values]
    if any(a.shape != arrays[0].shape for a in arrays):
        return [torch.from_numpy(np.ascontiguousarray(a)) for a in arrays]
    out = np.stack(arrays)
    if out.dtype == np.float64:
        out = out.astype(np.float32)
    return torch.from_numpy(out)


def collate(samples: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Pack top-down samples into a batch dict (see the module docstring)."""
    if not samples:
        raise ValueError("collate: empty batch")
    batch: dict[str, Any] = {}
    first = samples[0]
    if "img" in first:
        imgs = np.stack([s["img"] for s in samples])
        if imgs.ndim == 3:
            imgs = imgs[..., None]
        batch["inputs"] = torch.from_numpy(imgs).permute(0, 3, 1, 2)
        if "aug_imgs" in first:  # multi-scale test: one (B, 3, H_s, W_s) tensor per extra scale
            batch["aug_inputs"] = [
                torch.from_numpy(np.stack([s["aug_imgs"][i] for s in samples])).permute(0, 3, 1, 2)
                for i in range(len(first["aug_imgs"]))
            ]
            batch["aug_scales"] = list(first["aug_scales"])
    elif "inputs" in first:  # 2D→3D lifting: codec-normalised keypoint sequences
        batch["inputs"] = torch.from_numpy(np.stack([s["inputs"] for s in samples]))
    for key in _TENSOR_KEYS:
        if all(key in s for s in samples):
            batch[key] = _stack(key, [s[key] for s in samples])
    if "flip" in first:
        batch["flip"] = torch.tensor([bool(s.get("flip", False)) for s in samples])
    for key in first:
        if key in _SKIP or key in batch or key == "flip":
            continue
        values = [s.get(key) for s in samples]
        if isinstance(values[0], list) and values[0] and isinstance(values[0][0], np.ndarray):
            batch[key] = [_stack(key, [v[i] for v in values]) for i in range(len(values[0]))]
        elif isinstance(values[0], np.ndarray) and (
            key in IMAGE_TARGET_KEYS
            or key in INSTANCE_KEYS
            or key.startswith(("keypoint", "heatmap"))
            or key in LIFTING_BATCH_KEYS
        ):
            batch[key] = _stack(key, values)
    meta = []
    for s in samples:
        keys = META_KEYS + tuple(s.get("extra_meta_keys", ()))
        meta.append({k: _plain(s[k]) for k in keys if k in s})
    batch["meta"] = meta
    return batch


def _plain(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    return v


__all__ = ["collate"]
