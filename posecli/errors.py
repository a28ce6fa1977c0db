"""Exceptions that the command line reports as one line on stderr (exit code 1)."""

from __future__ import annotations


class PoseCliError(Exception):
    """Base class of every error posecli reports to users without a traceback."""


class RegistryError(PoseCliError, KeyError):
    """Unknown component name, or a name registered twice."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class DuplicateNameError(RegistryError):
    """A component name (or alias) that is already taken by another plugin."""


class UnknownNameError(RegistryError):
    """A component name that no plugin registered."""


class BuildError(PoseCliError):
    """A component could not be built from its arguments (bad or missing keyword)."""


class RecipeError(PoseCliError):
    """A recipe file that cannot be read, parsed or validated."""


class PluginError(PoseCliError):
    """A plugin that failed to load or register."""


class DataError(PoseCliError):
    """A data file, record or image that cannot be used."""


class CheckpointError(PoseCliError):
    """A checkpoint or weights file that cannot be loaded."""
