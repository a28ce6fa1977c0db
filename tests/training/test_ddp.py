"""Two-process DistributedDataParallel training on CPU (Gloo) through `posecli train --nproc 2`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from .conftest import FAST, RECIPE, REPO, set_args

pytestmark = pytest.mark.slow

DDP = [o for o in FAST if not o.startswith(("train.epochs", "data.train.batch_size"))] + [
    "train.epochs=1",
    "data.train.batch_size=6",  # per rank: 2 × 6 = the single-process batch of 12
    "data.val.batch_size=9",
]


def test_two_process_ddp_on_cpu(tmp_path: Path) -> None:
    work = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "posecli",
            "-q",
            "train",
            str(RECIPE),
            "--work-dir",
            str(work),
            "--device",
            "cpu",
            "--nproc",
            "2",
            *set_args(DDP),
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    # only rank 0 wrote: one set of files, one summary on stdout
    assert sorted(p.name for p in work.iterdir()) == [
        "best.pt",
        "curves.png",
        "last.pt",
        "metrics.jsonl",
        "recipe.toml",
        "train.log",
    ]
    assert done.stdout.count("run directory:") == 1
    log = (work / "train.log").read_text()
    assert "world size 2" in log
    assert "DDP check: parameters identical on all 2 ranks" in log
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    epoch = next(r for r in records if r["type"] == "epoch")
    assert epoch["step"] == 72 // 12  # each step consumed 2 × 6 images
    val = next(r for r in records if r["type"] == "val")
    # metrics gathered across the two ranks equal a single-process evaluation of the same weights
    single = subprocess.run(
        [
            sys.executable,
            "-m",
            "posecli",
            "eval",
            str(work / "last.pt"),
            "--json",
            "--device",
            "cpu",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert single.returncode == 0, single.stderr
    values = json.loads(single.stdout)
    assert values["EPE"] == pytest.approx(val["EPE"], abs=1e-4)
    assert values["PCK_img"] == pytest.approx(val["PCK_img"], abs=1e-6)
