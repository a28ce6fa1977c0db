"""Kill a training run with SIGKILL mid-epoch, resume it, and get the uninterrupted result."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from posecli.engine.checkpoint import read_checkpoint

from .conftest import FAST, RECIPE, REPO, set_args

pytestmark = pytest.mark.slow

RUN = [o for o in FAST if not o.startswith("train.epochs")] + ["train.epochs=3"]


def _train(work: Path, *extra: str) -> subprocess.Popen[str]:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "posecli",
            "-q",
            "train",
            str(RECIPE),
            "--work-dir",
            str(work),
            *set_args(RUN),
            *extra,
        ],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _train_lines(work: Path) -> list[dict]:
    path = work / "metrics.jsonl"
    if not path.exists():
        return []
    lines = []
    for line in path.read_text().splitlines():
        with contextlib.suppress(json.JSONDecodeError):
            lines.append(json.loads(line))
    return lines


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    straight = _train(tmp_path / "straight")
    _out, err = straight.communicate(timeout=600)
    assert straight.returncode == 0, err

    killed_dir = tmp_path / "killed"
    proc = _train(killed_dir)
    deadline = time.monotonic() + 600
    # wait until epoch 2 has started (epoch 1 checkpointed) and kill in the middle of it
    while time.monotonic() < deadline:
        lines = _train_lines(killed_dir)
        if any(r["type"] == "train" and r["epoch"] == 2 and r["iter"] >= 3 for r in lines):
            break
        if proc.poll() is not None:
            pytest.fail(
                f"training ended before it could be killed: {proc.stderr.read() if proc.stderr else ''}"
            )
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert read_checkpoint(killed_dir / "last.pt")["epoch"] == 1

    resumed = _train(killed_dir, "--resume")
    _out, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err

    a = read_checkpoint(tmp_path / "straight" / "last.pt")
    b = read_checkpoint(killed_dir / "last.pt")
    assert a["epoch"] == b["epoch"] == 3 and a["step"] == b["step"]
    for key, value in a["state_dict"].items():
        assert torch.equal(value, b["state_dict"][key]), key
    for key, value in a["ema_state_dict"].items():
        assert torch.equal(value, b["ema_state_dict"][key]), key
    assert a["metrics"] == b["metrics"]
    # the metrics log was rewound to the checkpoint: no duplicated epoch records
    epochs = [r["epoch"] for r in _train_lines(killed_dir) if r["type"] == "epoch"]
    assert epochs == [1, 2, 3]
