"""Exceptions the command line reports as one line on stderr, and the one place that turns any
exception into that line.

``PoseCliError`` and its subclasses carry a message that already names the culprit (recipe path,
file, record, component, plugin). :func:`blame` wraps a block so that any *other* exception
raised inside becomes a :class:`PoseCliError` prefixed with what was being done ("model.backbone
(backbone 'cspnext' from plugin posecli)"), and :func:`one_line` is the single formatter the CLI
uses for every exception.
"""

from __future__ import annotations

import errno
from collections.abc import Iterator
from contextlib import contextmanager


class PoseCliError(Exception):
    """Base class of every error posecli reports to users without a traceback (exit 1)."""

    exit_code = 1


class UsageError(PoseCliError):
    """Options that cannot be used together, or an option value out of range (exit 2)."""

    exit_code = 2


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
    """A checkpoint or weights file that cannot be loaded or written."""


class OutputExistsError(PoseCliError):
    """An output file or folder that holds something posecli did not just create."""


class PoseCliWarning(UserWarning):
    """A warning the CLI prints as one ``Warning: ...`` line."""


class DeprecatedNameWarning(PoseCliWarning):
    """An old option or recipe key that still works under its new name."""


_OS_REASONS = {
    errno.ENOSPC: "no space left on device",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or directory",
    errno.EISDIR: "is a directory",
    errno.ENOTDIR: "not a directory",
    errno.EEXIST: "already exists (as a file or folder)",
}


def describe(exc: BaseException) -> str:
    """What went wrong in ``exc``, without the culprit (one line, no traceback)."""
    if isinstance(exc, PoseCliError):
        text = str(exc)
    elif isinstance(exc, OSError) and exc.errno in _OS_REASONS:
        text = _OS_REASONS[exc.errno]
        if exc.filename:
            text = f"{exc.filename}: {text}"
    elif isinstance(exc, UnicodeDecodeError):
        text = "not a text file (cannot be decoded as UTF-8)"
    elif isinstance(exc, KeyError):
        text = f"{type(exc).__name__}: missing key {exc.args[0]!r}" if exc.args else "KeyError"
    else:
        message = str(exc).strip().splitlines()
        text = f"{type(exc).__name__}: {message[0]}" if message else type(exc).__name__
    return " ".join(text.split())


def one_line(exc: BaseException) -> str:
    """The single line shown for ``exc`` (PoseCliErrors as they are, others described)."""
    if isinstance(exc, PoseCliError):
        return " ".join(str(exc).split())
    if isinstance(exc, OSError) and exc.errno in _OS_REASONS:
        return describe(exc)
    return f"unexpected {describe(exc)} (run with --debug for the traceback)"


@contextmanager
def blame(culprit: str, error: type[PoseCliError] = PoseCliError) -> Iterator[None]:
    """Turn any non-posecli exception raised in the block into ``error("culprit: what")``.

    PoseCliErrors pass through untouched (they already name their culprit), as do
    KeyboardInterrupt and SystemExit.
    """
    try:
        yield
    except PoseCliError:
        raise
    except Exception as exc:
        raise error(f"{culprit}: {describe(exc)}") from exc


__all__ = [
    "BuildError",
    "CheckpointError",
    "DataError",
    "DeprecatedNameWarning",
    "DuplicateNameError",
    "OutputExistsError",
    "PluginError",
    "PoseCliError",
    "PoseCliWarning",
    "RecipeError",
    "RegistryError",
    "UnknownNameError",
    "UsageError",
    "blame",
    "describe",
    "one_line",
]
