"""Errors raised while exporting or deploying a model (one-line CLI messages)."""

from __future__ import annotations

from posecli.errors import PoseCliError


class ExportError(PoseCliError):
    """A model that cannot be exported, or an exported file that fails its parity check."""


class DeployError(PoseCliError):
    """An exported model file that cannot be loaded or run."""


__all__ = ["DeployError", "ExportError"]
