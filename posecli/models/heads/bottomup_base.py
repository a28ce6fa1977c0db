"""Shared pieces of the bottom-up heads: input selection and per-image batch targets.

Bottom-up batches (``posecli.data.collate``) hold image-level targets stacked ``(B, C, H, W)``
and per-instance targets either stacked ``(B, N, ...)`` (same N in every image), squeezed
``(B, ...)`` (N = 1 everywhere) or as a list of B tensors ``(N_i, ...)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

INPUT_TRANSFORMS = ("select", "resize_concat")


def check_input_transform(input_transform: str) -> str:
    if input_transform not in INPUT_TRANSFORMS:
        raise ValueError(
            f"input_transform must be one of {', '.join(INPUT_TRANSFORMS)}, got {input_transform!r}"
        )
    return input_transform


def in_channels_of(
    in_channels: int | Sequence[int], input_transform: str, input_index: int | Sequence[int]
) -> int:
    """Channels the head sees: the selected map's, or the sum for ``resize_concat``."""
    if isinstance(in_channels, int):
        return in_channels
    chans = [int(c) for c in in_channels]
    if input_transform == "resize_concat":
        idx = [input_index] if isinstance(input_index, int) else list(input_index)
        return sum(chans[i] for i in idx)
    if not isinstance(input_index, int):
        raise ValueError("input_transform 'select' takes one input_index")
    return chans[input_index]


def transform_inputs(
    feats: Sequence[torch.Tensor],
    input_transform: str,
    input_index: int | Sequence[int],
    align_corners: bool = False,
) -> torch.Tensor:
    """One map ``(B, C, H, W)``: ``feats[input_index]`` or the selected maps bilinearly
    resized to the first one's size and concatenated (MMPose ``resize_concat``)."""
    if isinstance(feats, torch.Tensor):
        feats = (feats,)
    if input_transform == "select":
        if not isinstance(input_index, int):
            raise ValueError("input_transform 'select' takes one input_index")
        return feats[input_index]
    idx = [input_index] if isinstance(input_index, int) else list(input_index)
    maps = [feats[i] for i in idx]
    size = maps[0].shape[-2:]
    resized = [maps[0]] + [
        F.interpolate(m, size=size, mode="bilinear", align_corners=align_corners) for m in maps[1:]
    ]
    return torch.cat(resized, dim=1)


def image_target(batch: Mapping[str, Any], key: str, ref: torch.Tensor) -> torch.Tensor:
    """An image-level target ``(B, C, H, W)`` on ``ref``'s device and dtype."""
    if key not in batch:
        raise KeyError(f"the batch has no {key!r} (is generate_target in the training pipeline?)")
    value = batch[key]
    if isinstance(value, (list, tuple)):
        value = torch.stack([torch.as_tensor(v) for v in value])
    return torch.as_tensor(value).to(device=ref.device, dtype=ref.dtype)


def instance_targets(
    batch: Mapping[str, Any], key: str, ndim: int, batch_size: int
) -> list[torch.Tensor]:
    """Per-image instance targets: B tensors of ``ndim`` dims (leading N)."""
    if key not in batch:
        raise KeyError(f"the batch has no {key!r} (is generate_target in the training pipeline?)")
    value = batch[key]
    if isinstance(value, (list, tuple)):
        out = [torch.as_tensor(v) for v in value]
    else:
        t = torch.as_tensor(value)
        out = list(t.unsqueeze(1) if t.ndim == ndim else t)
    return [v if v.ndim == ndim else v.reshape(-1, *v.shape[-(ndim - 1) :]) for v in out][
        :batch_size
    ]


def heatmap_mask(batch: Mapping[str, Any], ref: torch.Tensor) -> torch.Tensor | None:
    """``heatmap_mask (B, 1, H, W)`` (from ``bottomup_get_heatmap_mask``) or ``None``."""
    if "heatmap_mask" not in batch:
        return None
    m = image_target(batch, "heatmap_mask", ref)
    return m if m.ndim == 4 else m.unsqueeze(1)


__all__ = [
    "INPUT_TRANSFORMS",
    "check_input_transform",
    "heatmap_mask",
    "image_target",
    "in_channels_of",
    "instance_targets",
    "transform_inputs",
]
