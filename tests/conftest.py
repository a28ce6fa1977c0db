"""Shared fixtures: a fresh plugin manager per test that needs one, the CLI runner, paths."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posecli import plugins

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT


@pytest.fixture
def fresh_plugins(monkeypatch: pytest.MonkeyPatch) -> Iterator[plugins.PluginManager]:
    """A new process-wide plugin manager, restored afterwards (env switches read anew)."""
    previous = plugins._manager
    manager = plugins.PluginManager()
    plugins.reset_plugin_manager(manager)
    yield manager
    plugins.reset_plugin_manager(previous)


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()
