"""CPU training time with and without posecli's glibc malloc tuning: prints ONE JSON line.

Runs ``posecli train recipes/rtmpose.toml`` for a few epochs in fresh processes, alternating
``POSECLI_MALLOC_TUNING=1`` and ``=0`` for ``--rounds`` rounds so that load from other
processes falls on both alike, and reads each epoch's seconds from the run's ``metrics.jsonl``
(the first epoch, with start-up effects, is left out; the one validation, after the last epoch,
is not part of any epoch's time). Reports the median
epoch time of each setting, their ratio, and the peak resident memory of each training process.

Usage: ``python benchmarks/malloc.py [--epochs 8] [--rounds 2]`` (the recipe warms up for 50
iterations: at least 6 epochs)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RECIPE = ROOT / "recipes" / "rtmpose.toml"


def train_once(tuning: bool, epochs: int, work: Path) -> tuple[list[float], float]:
    """Epoch seconds (after the first) and peak RSS in MiB of one short training run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MALLOC_")}
    env["POSECLI_MALLOC_TUNING"] = "1" if tuning else "0"
    command = [
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
        "--set",
        f"train.epochs={epochs}",
        "--set",
        f"train.val_interval={epochs}",
    ]
    errors = work.with_suffix(".stderr")
    with (
        errors.open("wb") as err,
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=err) as proc,
    ):
        _, status, usage = os.wait4(proc.pid, 0)  # this child's own peak RSS
        proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"training failed: {errors.read_text()[-2000:]}")
    records = [json.loads(line) for line in (work / "metrics.jsonl").read_text().splitlines()]
    seconds = [r["seconds"] for r in records if r["type"] == "epoch"][1:]
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=8, help="epochs per run (first not counted)")
    parser.add_argument("--rounds", type=int, default=2, help="runs of each setting, alternated")
    args = parser.parse_args()
    if args.epochs < 6 or args.rounds < 1:
        parser.error("--epochs must be >= 6 (the recipe's 50-iteration warm-up) and --rounds >= 1")
    epochs: dict[bool, list[float]] = {True: [], False: []}
    peak_mib: dict[bool, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            order = [False, True] if i % 2 == 0 else [True, False]
            for tuning in order:
                seconds, peak = train_once(tuning, args.epochs, Path(tmp) / f"{i}-{tuning}")
                epochs[tuning] += seconds
                peak_mib[tuning] = max(peak_mib.get(tuning, 0.0), peak)
    tuned = statistics.median(epochs[True])
    default = statistics.median(epochs[False])
    print(
        json.dumps(
            {
                "recipe": "recipes/rtmpose.toml",
                "epoch_s_median_tuned": round(tuned, 3),
                "epoch_s_median_default": round(default, 3),
                "speedup": round(default / tuned, 3),
                "peak_rss_mib_tuned": round(peak_mib[True]),
                "peak_rss_mib_default": round(peak_mib[False]),
                "epochs_counted": len(epochs[True]),
                "cpus": os.cpu_count(),
                "libc": "-".join(platform.libc_ver()),
            }
        )
    )


if __name__ == "__main__":
    main()
