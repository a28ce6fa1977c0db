"""MMPose checkpoint compatibility: the container format and legacy key names.

posecli models built from the ``recipes/coco`` recipes have MMPose 1.x's exact state-dict names,
so a published checkpoint's ``state_dict`` loads with ``strict=True``. This module reads and
writes MMPose's container (``{"meta": ..., "state_dict": ...}``) and converts state dicts saved
by MMPose 0.x (older AE, CID and DEKR files among them) to 1.x names and values, as MMPose 1.x's
load hooks do.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posecli.models.weights import extract_state_dict, torch_load

#: MMPose 0.x → 1.x prefixes: the head (``keypoint_head``) and DEKR's rescoring net, which sat
#: beside the head in 0.x and is part of it in 1.x.
_LEGACY_PREFIXES = (("keypoint_head.", "head."), ("rescore_net.", "head.rescore_net."))
#: MMPose 0.x → 1.x head submodules (under ``head.``): CID's instance-information and
#: feature-decoupling parts moved into ``iia_module``/``gfd_module``; DEKR's offset branch
#: became the displacement branch. None of the old names is a 1.x name at that place.
_LEGACY_HEAD_MODULES = {
    "keypoint_center_conv": "iia_module.keypoint_root_conv",
    "conv_down": "gfd_module.conv_down",
    "c_attn": "gfd_module.channel_attention",
    "s_attn": "gfd_module.spatial_attention",
    "fuse_attn": "gfd_module.fuse_attention",
    "heatmap_conv": "gfd_module.heatmap_conv",
    "offset_conv_layers": "displacement_conv_layers",
}
#: keys that mark a state dict as MMPose 0.x: its head prefix or a 0.x-only head submodule
_LEGACY_MARKS = ("keypoint_head.", *(f"head.{m}." for m in _LEGACY_HEAD_MODULES))
#: DEKR's last displacement conv, renamed from 0.x's offsets: the two versions swap the vector's
#: start and end, so its weight and bias change sign.
_NEGATED = "head.displacement_conv_layers.3."
#: DEKR's heatmap conv: 0.x's root (centre) map is its first output channel, 1.x's its last.
_ROOT_FIRST = "head.heatmap_conv_layers.2."
#: 0.x heatmap heads kept their intermediate convs in ``final_layer`` (a Sequential whose last
#: entry is the output conv): ``final_layer.N.P`` → 1.x ``conv_layers.N.P`` / ``final_layer.P``.
_FINAL_LAYER_ENTRY = re.compile(r"head\.final_layer\.(\d+)\.[^.]+")
#: Loss state MMPose saves but posecli derives from the recipe (non-persistent there): RTMO's
#: ``OKSLoss`` registers its per-keypoint sigmas as a persistent buffer (``head.loss_oks.sigmas``).
_LOSS_BUFFERS = ("loss_oks.sigmas",)


def is_legacy_mmpose(state: Mapping[str, Any]) -> bool:
    """Whether ``state`` has MMPose 0.x names: a ``keypoint_head.*`` key (1.x calls the head
    ``head``) or a 0.x-only head submodule (CID's ``head.conv_down.*``, DEKR's
    ``head.offset_conv_layers.*``...). MMPose 1.x decides by the per-module ``version`` in the
    saved ``_metadata`` instead, which posecli's loading does not keep; a 1.x state dict never
    has these names, so it is never converted."""
    return any(key.startswith(_LEGACY_MARKS) for key in state)


def convert_legacy_mmpose(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An MMPose 0.x state dict with MMPose 1.x's names and values: the renames of
    :data:`_LEGACY_PREFIXES`, :data:`_LEGACY_HEAD_MODULES` and :data:`_FINAL_LAYER_ENTRY`;
    DEKR's last displacement conv negated and its root heatmap channel moved from first to last.
    Apply only where :func:`is_legacy_mmpose` holds."""
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        for old, new in _LEGACY_PREFIXES:
            if key.startswith(old):
                key = new + key[len(old) :]
                break
        module, _, rest = key.removeprefix("head.").partition(".")
        if key.startswith("head.") and module in _LEGACY_HEAD_MODULES:
            key = f"head.{_LEGACY_HEAD_MODULES[module]}.{rest}"
            if key.startswith(_NEGATED):
                value = -value
        elif key.startswith(_ROOT_FIRST):
            value = value.roll(-1, 0)
        out[key] = value
    entries = {k: int(m[1]) for k in out if (m := _FINAL_LAYER_ENTRY.fullmatch(k))}
    if entries:
        last = max(entries.values())
        out = {_split_final_layer(k, entries.get(k), last): v for k, v in out.items()}
    return out


def _split_final_layer(key: str, index: int | None, last: int) -> str:
    """``head.final_layer.N.P`` → ``head.final_layer.P`` (the output conv, ``N == last``) or
    ``head.conv_layers.N.P``; other keys unchanged."""
    if index is None:
        return key
    if index == last:
        return "head.final_layer." + key.rsplit(".", 1)[1]
    return "head.conv_layers." + key.removeprefix("head.final_layer.")


def convert_mmpose_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """An MMPose state dict as posecli loads it: MMPose 0.x files converted to 1.x names and
    values (:func:`convert_legacy_mmpose`; 1.x keys pass unchanged) and the loss buffers of
    :data:`_LOSS_BUFFERS`, which hold no learned state, dropped."""
    if is_legacy_mmpose(state):
        state = convert_legacy_mmpose(state)
    return {
        k: v
        for k, v in state.items()
        if not any(k == b or k.endswith("." + b) for b in _LOSS_BUFFERS)
    }


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
