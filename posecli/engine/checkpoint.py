"""posecli checkpoints: one file holding the model, its resolved recipe and training state.

Layout (a plain dict; loaded with ``torch.load(weights_only=True)``, so it is data, never code)::

    {"posecli": version, "recipe": resolved TOML text, "metainfo": skeleton dict,
     "state_dict": {...}, "ema_state_dict"?: {...}, "optimizer"?: {...}, "scheduler"?: {...},
     "epoch": int, "step": int, "rng"?: {...}, "metrics": {name: float}}

Saved atomically: written to a temporary file in the same directory, flushed, fsync-ed, then
renamed over the destination, so a crash never leaves a truncated checkpoint.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posecli.errors import CheckpointError, describe

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
    """``torch.save`` to a temporary sibling, fsync, then rename over ``path``.

    Raises:
        CheckpointError: the file cannot be written (full disk, permissions), naming it; the
            previous file at ``path`` is left as it was.
    """
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as exc:
        raise CheckpointError(f"cannot write checkpoint {path}: {describe(exc)}") from exc
    try:
        with os.fdopen(fd, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as exc:
        raise CheckpointError(
            f"cannot write checkpoint {path}: {_write_failure(exc, path)}"
        ) from exc
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


def _write_failure(exc: BaseException, path: Path) -> str:
    """Why writing failed, in words (torch reports a full disk as an 'enforce fail')."""
    if isinstance(exc, OSError):
        return describe(exc)
    text = str(exc)
    if "file write failed" in text or "enforce fail" in text or "unexpected pos" in text:
        free = ""
        with contextlib.suppress(OSError):
            free = f"; {shutil.disk_usage(path.parent).free // 2**20} MiB free there"
        return f"the write failed (is the disk full?{free})"
    return describe(exc)


def load_failure(path: str | Path, exc: BaseException) -> CheckpointError:
    """One line on why ``torch.load(path, weights_only=True)`` failed: empty, truncated, not a
    PyTorch file, or holding objects other than tensors and plain data (refused: unpickling
    them could run code). Never advises ``weights_only=False``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError as err:
        return CheckpointError(f"cannot read {path}: {describe(err)}")
    if size == 0:
        return CheckpointError(f"{path}: empty file, not a checkpoint")
    text = str(exc)
    if head == b"PK\x03\x04" and not zipfile.is_zipfile(path):
        return CheckpointError(
            f"{path}: truncated or corrupt checkpoint ({size} bytes; the archive's end is "
            "missing, e.g. an interrupted copy or download)"
        )
    if head[:1] != b"\x80" and head != b"PK\x03\x04":
        return CheckpointError(f"{path}: not a PyTorch checkpoint (unknown file type)")
    if "Weights only load failed" in text or "Unsupported global" in text:
        return CheckpointError(
            f"{path}: holds Python objects besides tensors and plain data; posecli refuses to "
            "unpickle them (that could run code): re-save the weights as a plain state dict"
        )
    first = " ".join(text.split())[:160]
    return CheckpointError(f"{path}: corrupt checkpoint ({type(exc).__name__}: {first})")


def read_checkpoint(path: str | Path) -> dict[str, Any]:
    """Load and validate a posecli checkpoint (``weights_only=True``).

    Raises:
        CheckpointError: one line naming the file and what is wrong (missing, truncated, not a
            checkpoint, holding code, wrong layout, written by a newer posecli).
    """
    from posecli.models.weights import torch_load

    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    data = torch_load(path)
    if not isinstance(data, dict):
        raise CheckpointError(
            f"{path}: not a posecli checkpoint (holds a {type(data).__name__}, not a dict)"
        )
    missing = [k for k in REQUIRED_KEYS if k not in data]
    if missing:
        hint = (
            " (looks like an MMPose checkpoint: build the model from a recipe and use "
            "pretrained = [{source = ...}])"
            if "state_dict" in data
            else ""
        )
        raise CheckpointError(f"{path}: not a posecli checkpoint, missing {missing}{hint}")
    if not isinstance(data["recipe"], str) or not isinstance(data["state_dict"], dict):
        raise CheckpointError(
            f"{path}: wrong checkpoint layout ('recipe' must be TOML text and 'state_dict' a "
            "dict of tensors)"
        )
    _check_version(path, str(data["posecli"]))
    return data


def _check_version(path: Path, version: str) -> None:
    """A checkpoint of a newer major (or 0.x minor) posecli may use a layout this one lacks."""
    from posecli import __version__

    def parts(v: str) -> tuple[int, int]:
        nums = [int(x) for x in re.findall(r"\d+", v)[:2]] + [0, 0]
        return nums[0], nums[1]

    mine, theirs = parts(__version__), parts(version)
    newer = theirs[0] > mine[0] or (mine[0] == theirs[0] == 0 and theirs[1] > mine[1])
    if newer:
        raise CheckpointError(
            f"{path}: written by posecli {version}, newer than this posecli {__version__}: "
            "upgrade posecli to load it"
        )
