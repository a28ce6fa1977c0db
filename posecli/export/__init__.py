"""Export to ONNX and TorchScript, with parity checks.

Public API (imported lazily, so that :mod:`posecli.deploy` can use this package's light modules
without importing torch): :func:`export_checkpoint`, :func:`export_model`, :class:`ExportResult`,
:func:`check_exported`, :class:`CheckReport`, :class:`ExportError`, :class:`DeployError`.
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
    "DeployError": "posecli.export.errors",
}

__all__ = sorted(_LAZY)


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'posecli.export' has no attribute {name!r}")
