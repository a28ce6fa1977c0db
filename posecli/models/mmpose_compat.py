"""MMPose checkpoint compatibility: the container format and legacy key names.

posecli models built from the ``recipes/coco`` recipes have MMPose 1.x's exact state-dict names,
so a published checkpoint's ``state_dict`` loads with ``strict=True``. This module reads and
writes MMPose's container (``{"meta": ..., "state_dict": ...}``) and renames MMPose 0.x keys.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posecli.models.weights import extract_state_dict, torch_load

#: MMPose 0.x → 1.x prefixes.
_LEGACY_PREFIXES = (("keypoint_head.", "head."),)
#: Loss state MMPose saves but posecli derives from the recipe (non-persistent there): RTMO's
#: ``OKSLoss`` registers its per-keypoint sigmas as a persistent buffer (``head.loss_oks.sigmas``).
_LOSS_BUFFERS = ("loss_oks.sigmas",)


def convert_mmpose_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Rename MMPose 0.x keys (``keypoint_head.*`` → ``head.*``; 1.x keys pass unchanged) and
    drop the loss buffers of :data:`_LOSS_BUFFERS`, which hold no learned state."""
    out = {}
    for key, value in state.items():
        if any(key == b or key.endswith("." + b) for b in _LOSS_BUFFERS):
            continue
        for old, new in _LEGACY_PREFIXES:
            if key.startswith(old):
                key = new + key[len(old) :]
        out[key] = value
    return out


def to_mmpose_container(
    model_or_state: nn.Module | Mapping[str, torch.Tensor], meta: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """``{"meta": meta, "state_dict": state}`` as MMPose publishes its checkpoints."""
    state = (
        model_or_state.state_dict()
        if isinstance(model_or_state, nn.Module)
        else dict(model_or_state)
    )
    return {"meta": dict(meta or {}), "state_dict": {k: v.detach().cpu() for k, v in state.items()}}


def save_mmpose_checkpoint(
    path: str | Path, model: nn.Module, meta: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model`` in MMPose's container (atomically)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(to_mmpose_container(model, meta), fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def load_mmpose_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The (converted) model state dict of an MMPose checkpoint file."""
    return convert_mmpose_keys(extract_state_dict(torch_load(path)))


def load_mmpose_checkpoint(model: nn.Module, path: str | Path, strict: bool = True) -> nn.Module:
    """Load an MMPose checkpoint into a posecli model (``strict`` by default)."""
    from posecli.models.weights import load_weights_into

    load_weights_into(model, load_mmpose_state_dict(path), strict, f"MMPose checkpoint {path}")
    return model
