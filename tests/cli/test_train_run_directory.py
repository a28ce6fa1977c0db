"""End to end: ``train --force`` replaces a run directory whole, Ctrl-C keeps a resumable
``last.pt`` and says so, and the resumed run cleans what the stop left and logs each epoch once."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import REPO, cli
from .test_bad_inputs_train import tiny_recipe

pytestmark = pytest.mark.slow

EPOCHS = 5


def test_force_interrupt_and_resume(tmp_path: Path) -> None:
    # Five short epochs: Ctrl-C lands as soon as epoch 1's checkpoints exist, with four epochs
    # still to run (three epochs and a fixed wait let a fast run finish first: a flaky test).
    recipe = tiny_recipe(tmp_path, rows=15, epochs=EPOCHS)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "best.pt").write_bytes(b"somebody's 60-epoch model")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "posecli", "-q", "train", str(recipe), "-w", str(run_dir)]
    proc = subprocess.Popen([*cmd, "--force"], cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    staged = None
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        staged = next(tmp_path.glob(".run.posecli-new-*"), None)
        if staged is not None and all((staged / f).is_file() for f in ("last.pt", "best.pt")):
            break
        time.sleep(0.05)
    assert proc.poll() is None, proc.communicate()[1]
    assert (run_dir / "best.pt").read_bytes() == b"somebody's 60-epoch model"  # not yet replaced
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and "kept" in lines[0] and str(run_dir / "last.pt") in lines[0], err
    assert "--resume" in lines[0]
    # the interrupted forced run was swapped in whole: no old best.pt, no temporary sibling
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".run")) == []
    assert (run_dir / "last.pt").is_file() and (run_dir / "best.pt").read_bytes()[:2] == b"PK"
    (run_dir / ".last.pt.a1b2c3d4.tmp").write_bytes(b"left by kill -9")
    run = cli("-q", "train", recipe, "-w", run_dir, "--resume")
    assert run.code == 0, run.stderr
    assert not (run_dir / ".last.pt.a1b2c3d4.tmp").exists()
    left = re.search(r"time: \d+ s for (\d+) epochs?\b", run.stdout)
    assert left and 1 <= int(left.group(1)) < EPOCHS, run.stdout
    log = (run_dir / "train.log").read_text()
    done = [int(m) for m in re.findall(rf"epoch (\d+)/{EPOCHS} ", log)]
    assert sorted(done) == sorted(set(done)) == list(range(1, EPOCHS + 1)), log
