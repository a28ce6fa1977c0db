"""Shared output helpers for commands: rich consoles, JSON printing."""

from __future__ import annotations

import json
import sys
from typing import Any

from rich.console import Console


def stdout_console() -> Console:
    """A console on stdout that never wraps machine-readable text."""
    return Console(file=sys.stdout, soft_wrap=True, highlight=False)


def stderr_console() -> Console:
    return Console(file=sys.stderr, soft_wrap=True, highlight=False)


def print_json(data: Any) -> None:
    """Print ``data`` as one JSON document on stdout."""
    sys.stdout.write(json.dumps(data, indent=None, sort_keys=False, default=str) + "\n")
