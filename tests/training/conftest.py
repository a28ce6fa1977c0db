"""Fixtures for training tests: a small, fast variant of the bundled mouse recipe."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
RECIPE = REPO / "recipes" / "rtmpose.toml"
#: Where ``posecli.engine.allocator`` can tune malloc (Linux with glibc).
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

#: Overrides turning recipes/rtmpose.toml into a seconds-long run: 112×112 input, few epochs.
FAST = [
    "codec.input_size=[112, 112]",
    "model.head.input_size=[112, 112]",
    "model.head.in_featuremap_size=[14, 14]",
    "data.train.batch_size=12",
    "train.epochs=2",
    "train.val_interval=1",
    "train.log_interval=1",
    "train.schedule.0.iters=3",
    "train.deterministic=true",
]


def set_args(overrides: list[str]) -> list[str]:
    """``--set`` arguments for the CLI."""
    out: list[str] = []
    for item in overrides:
        out += ["--set", item]
    return out


@pytest.fixture(autouse=True)
def _run_in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dataset paths in the recipe are relative to the repository root."""
    monkeypatch.chdir(REPO)
    monkeypatch.setenv("OMP_NUM_THREADS", os.environ.get("OMP_NUM_THREADS", "2"))
