"""``posecli predict`` on bad inputs, ``--force`` replacing the whole output folder, and Ctrl-C
ending with exit 130 and one line on what was kept."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import IMAGE, REPO, VIDEO, assert_one_line, cli

CASES = {
    # case: (arguments, exit code, culprits)
    "missing source": (["{t}/none.png", "-c", "{c}"], 1, ["none.png"]),
    "missing checkpoint": ([str(IMAGE), "-c", "{t}/none.pt"], 1, ["none.pt", "no such"]),
    "two box sources": (
        [str(IMAGE), "-c", "{c}", "--bbox", "whole", "--bbox-file", "{t}/d.json"],
        2,
        ["--bbox", "--bbox-file", "only one"],
    ),
    "unknown --bbox": ([str(IMAGE), "-c", "{c}", "--bbox", "half"], 1, ["--bbox", "'half'"]),
    "--out names a file": ([str(IMAGE), "-c", "{c}", "-o", "{t}/y.mp4"], 2, ["y.mp4", "folder"]),
    "unknown --to": ([str(IMAGE), "-c", "{c}", "--to", "xml"], 2, ["--to", "'xml'"]),
    "missing --bbox-file": (
        [str(IMAGE), "-c", "{c}", "--bbox-file", "{t}/none.json"],
        1,
        ["none.json"],
    ),
    "folder holding files": (
        [str(IMAGE), "-c", "{c}", "-o", "{t}/mine"],
        1,
        ["mine", "notes.txt", "--force"],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_arguments(case: str, tmp_path: Path, tiny_ckpt: Path) -> None:
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("the user's")
    args, code, culprits = CASES[case]
    run = cli("predict", *[a.format(t=tmp_path, c=tiny_ckpt) for a in args], "--backend", "torch")
    assert_one_line(run, code, *culprits)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "the user's"


def test_force_replaces_the_whole_output_set(tmp_path: Path, tiny_ckpt: Path) -> None:
    """Issue 14.2: ``--force`` with fewer formats leaves no stale file from the last run."""
    out = tmp_path / "out"
    base = ["-q", "predict", IMAGE, "-c", tiny_ckpt, "--backend", "torch", "-o", out]
    assert cli(*base, "--to", "json", "--to", "csv").code == 0
    assert sorted(p.name for p in out.iterdir()) == ["predictions.csv", "predictions.json"]
    run = cli(*base, "--to", "json", "--force")
    assert run.code == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["predictions.json"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temporary sibling


@pytest.mark.slow
def test_ctrl_c_exits_130_saying_what_was_kept(tmp_path: Path, tiny_ckpt: Path) -> None:
    """Issue 14.9: SIGINT → exit 130, one line naming the kept frames; the file is valid."""
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "posecli", "-q", "predict", str(VIDEO), "-c", str(tiny_ckpt)]
    cmd += ["--backend", "torch", "--bbox", "whole", "-o", str(out)]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stderr=subprocess.PIPE, text=True)
    partial = out / "predictions.json.partial.jsonl"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if partial.is_file() and partial.read_text().count("\n") >= 3:
            break
        time.sleep(0.2)
    assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert proc.returncode == 130, err
    assert len(lines) == 1 and lines[0].startswith("Interrupted: kept"), err
    assert str(out) in lines[0]
    doc = json.loads((out / "predictions.json").read_text())
    assert doc["complete"] is False and len(doc["frames"]) >= 2
    assert not partial.exists()
