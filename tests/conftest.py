"""Shared fixtures: a fresh plugin manager per test that needs one, the CLI runner, paths;
a private posecli cache per session; CPU threads shared fairly between pytest-xdist workers."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posecli import plugins

REPO_ROOT = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``-n N``), each worker gets ``cores // N`` threads (torch in the
    worker, ``OMP_NUM_THREADS`` for the processes its tests start): N workers each spinning
    on every core would slow the whole run down."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if not os.environ.get("PYTEST_XDIST_WORKER") or workers < 2:
        return
    import torch

    from posecli.runtime.threads import available_cores

    threads = max(1, available_cores() // workers)
    os.environ["OMP_NUM_THREADS"] = str(threads)
    torch.set_num_threads(threads)


@pytest.fixture(scope="session", autouse=True)
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """posecli's cache (exports, measured thread counts) in a temporary folder: the tests
    never touch the user's, and parallel workers never share one."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("POSECLI_CACHE_DIR", str(tmp_path_factory.mktemp("posecli-cache")))
        yield


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
