"""Errors raised while exporting a model (one-line CLI messages)."""

from __future__ import annotations

from posecli.errors import PoseCliError


class ExportError(PoseCliError):
    """A model that cannot be exported, or an exported file that fails its parity check."""


__all__ = ["ExportError"]
