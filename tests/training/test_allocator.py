"""glibc malloc tuning for CPU training: applied, opted out, and yielding to the user's own."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from .conftest import GLIBC

PROBE = "from posecli.engine.allocator import tune_malloc_for_training as t; print(t())"


def _probe(**env: str) -> str:
    """``tune_malloc_for_training()`` in a fresh interpreter (mallopt is process-wide)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    clean.pop("POSECLI_MALLOC_TUNING", None)
    done = subprocess.run(
        [sys.executable, "-c", PROBE],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout.strip()


@pytest.mark.skipif(not GLIBC, reason="mallopt tuning exists on Linux with glibc only")
def test_applied_on_glibc() -> None:
    assert _probe() == "True"


def test_opt_out() -> None:
    assert _probe(POSECLI_MALLOC_TUNING="0") == "False"


def test_users_malloc_settings_win() -> None:
    assert _probe(MALLOC_ARENA_MAX="2") == "False"
