"""TorchScript export (``torch.jit.trace`` + ``freeze``) with metadata as an extra file."""

from __future__ import annotations

import json
import os
import warnings
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

from posecli.export.metadata import TORCHSCRIPT_FILE


def trace(wrapper: torch.nn.Module, dummy: torch.Tensor) -> torch.jit.ScriptModule:
    """Trace and freeze ``wrapper`` on ``dummy`` images ``(B,3,h,w)``."""
    with warnings.catch_warnings(), torch.no_grad():
        warnings.simplefilter("ignore")
        traced = torch.jit.trace(wrapper, (dummy,), check_trace=False, strict=False)
        return torch.jit.freeze(traced.eval())


def export_torchscript(
    wrapper: torch.nn.Module,
    path: str | Path,
    *,
    input_size: tuple[int, int],
    batch: int | None,
    metadata: Mapping[str, Any],
) -> Path:
    """Trace ``wrapper`` (images ``(B,3,h,w)`` float32) and save it to ``path`` atomically with
    the metadata as the extra file ``posecli_metadata.json``."""
    path = Path(path)
    w, h = input_size
    module = trace(wrapper, torch.rand(batch or 2, 3, h, w) * 255)
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    try:
        save_with_metadata(module, tmp, metadata)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_with_metadata(
    module: torch.jit.ScriptModule, path: str | Path, metadata: Mapping[str, Any]
) -> None:
    """Save a traced module with ``metadata`` as the extra file :data:`TORCHSCRIPT_FILE`
    (what :func:`read_torchscript_metadata` and the runtime read)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(
            module, str(path), _extra_files={TORCHSCRIPT_FILE: json.dumps(dict(metadata))}
        )


def read_torchscript_metadata(path: str | Path) -> dict[str, Any]:
    """The posecli metadata stored in a TorchScript file."""
    extra = {TORCHSCRIPT_FILE: ""}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.load(str(path), map_location="cpu", _extra_files=extra)
    text = extra[TORCHSCRIPT_FILE]
    return json.loads(text) if text else {}


__all__ = ["export_torchscript", "read_torchscript_metadata", "trace"]
