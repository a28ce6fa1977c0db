"""posecli checkpoints: one file holding the model, its resolved recipe and training state.

Layout (a plain dict; loaded with ``torch.load(weights_only=True)``, so it is data, never code)::

    {"posecli": version, "recipe": resolved TOML text, "metainfo": skeleton dict,
     "state_dict": {...}, "ema_state_dict"?: {...}, "optimizer"?: {...}, "scheduler"?: {...},
     "epoch": int, "step": int, "rng"?: {...}, "metrics": {name: float}}

Saved atomically: written to a temporary file in the same directory, flushed, fsync-ed, then
renamed over the destination, so a crash never leaves a truncated checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posecli.errors import CheckpointError

REQUIRED_KEYS = ("posecli", "recipe", "state_dict")


def _state(obj: nn.Module | Mapping[str, Any] | None) -> dict[str, Any] | None:
    if obj is None:
        return None
    if isinstance(obj, nn.Module):
        obj = obj.state_dict()
    return {k: (v.detach().cpu() if isinstance(v, torch.Tensor) else v) for k, v in obj.items()}


def save_checkpoint(
    path: str | Path,
    model: nn.Module | Mapping[str, torch.Tensor],
    recipe: Any,
    *,
    metainfo: Mapping[str, Any] | None = None,
    ema: nn.Module | Mapping[str, torch.Tensor] | None = None,
    optimizer: Any = None,
    scheduler: Any = None,
    epoch: int = 0,
    step: int = 0,
    rng: Mapping[str, Any] | None = None,
    metrics: Mapping[str, float] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write a checkpoint atomically and return its path.

    Args:
        path: destination file.
        model: the model or its state dict.
        recipe: a :class:`~posecli.recipe.Recipe` or its resolved TOML text.
        metainfo: skeleton metainfo (plain data).
        ema: EMA model (or state dict), stored as ``ema_state_dict``.
        optimizer, scheduler: objects with ``state_dict()`` (or their state dicts).
        epoch, step: training progress.
        rng: random states (plain data and tensors only).
        metrics: latest validation metrics.
        extra: further plain-data entries (the trainer's scaler state, best-metric record...).
    """
    from posecli import __version__
    from posecli.recipe import recipe_to_toml

    text = recipe if isinstance(recipe, str) else recipe_to_toml(recipe)
    data: dict[str, Any] = {
        "posecli": __version__,
        "recipe": text,
        "metainfo": dict(metainfo or {}),
        "state_dict": _state(model),
        "epoch": int(epoch),
        "step": int(step),
        "metrics": {k: float(v) for k, v in (metrics or {}).items()},
    }
    if ema is not None:
        data["ema_state_dict"] = _state(ema)
    for key, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is not None:
            data[key] = obj.state_dict() if hasattr(obj, "state_dict") else obj
    if rng is not None:
        data["rng"] = dict(rng)
    for key, value in (extra or {}).items():
        if key in data:
            raise ValueError(f"checkpoint extra key {key!r} would overwrite a standard entry")
        data[key] = value
    return atomic_torch_save(data, path)


def atomic_torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save`` to a temporary sibling, fsync, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    try:  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return path
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return path


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a posecli checkpoint (``weights_only=True``)."""
    from posecli.models.weights import torch_load

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    data = torch_load(path)
    if not isinstance(data, dict):
        raise CheckpointError(f"{path}: not a posecli checkpoint")
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        hint = (
            " (looks like an MMPose checkpoint: build the model from a recipe and use "
            "pretrained = [{source = ...}])"
            if "state_dict" in data
            else ""
        )
        raise CheckpointError(f"{path}: not a posecli checkpoint, missing {missing}{hint}")
    return data
