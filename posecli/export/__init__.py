"""Export to ONNX and TorchScript, with parity checks against the checkpoint's predict path.

Exported files run in :mod:`posecli.runtime` (this package depends on it, never the reverse).
Public API (imported lazily, so ``import posecli.export`` stays light): :func:`export_checkpoint`,
:func:`export_model`, :class:`ExportResult`, :func:`check_exported`, :class:`CheckReport`,
:class:`ExportError`.
"""

from __future__ import annotations

from typing import Any

_LAZY = {
    "export_checkpoint": "posecli.export.exporter",
    "export_model": "posecli.export.exporter",
    "ExportResult": "posecli.export.exporter",
    "check_exported": "posecli.export.check",
    "CheckReport": "posecli.export.check",
    "ExportError": "posecli.export.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'posecli.export' has no attribute {name!r}")
