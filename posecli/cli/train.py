"""``posecli train``: train a recipe into a run directory (thin layer over the Trainer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.recipe import SetOption


def train_command(
    recipe: Annotated[Path, typer.Argument(help="Recipe TOML file, e.g. recipes/rtmpose.toml.")],
    overrides: SetOption = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", "-w", help="Run directory (default: work_dirs/<recipe name>)."),
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --work-dir from its last.pt.")
    ] = False,
    resume_from: Annotated[
        Path | None,
        typer.Option("--resume-from", help="Continue from this checkpoint (implies --resume)."),
    ] = None,
    device: Annotated[str, typer.Option("--device", help="auto, cpu, cuda or cuda:N.")] = "auto",
    seed: Annotated[int | None, typer.Option("--seed", help="Override the recipe's seed.")] = None,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc", min=1, help="Processes on this machine (wraps torchrun; one per GPU)."
        ),
    ] = 1,
) -> None:
    """Train a pose model from a recipe; writes checkpoints, metrics.jsonl and curves.png."""
    from posecli.cli.app import quiet_enabled
    from posecli.engine.trainer import train
    from posecli.recipe import load_recipe

    sets = list(overrides or [])
    if seed is not None:
        sets.append(f"seed={seed}")
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        _relaunch_with_torchrun(nproc)
        return
    resolved = load_recipe(recipe, sets)
    result = train(
        resolved,
        work_dir=work_dir,
        device=device,
        resume=resume_from if resume_from is not None else (True if resume else None),
        progress=not quiet_enabled(),
    )
    if os.environ.get("RANK", "0") != "0":
        return
    typer.echo(f"run directory: {result.work_dir}")
    typer.echo(f"last checkpoint: {result.last_checkpoint}")
    if result.best_checkpoint is not None:
        typer.echo(
            f"best checkpoint: {result.best_checkpoint} ({result.best_metric} = "
            f"{result.best_value:.4f})"
        )
    typer.echo(f"curves: {result.work_dir / 'curves.png'}")
    if result.metrics:
        typer.echo("final metrics: " + "  ".join(f"{k} {v:.4f}" for k, v in result.metrics.items()))
    typer.echo(f"time: {result.seconds:.0f} s for {result.epochs_run} epochs")


def _relaunch_with_torchrun(nproc: int) -> None:
    """Run this same command under ``torchrun --nproc-per-node N`` and exit with its code."""
    args = sys.argv[1:]
    cleaned: list[str] = []
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg == "--nproc":
            skip = True
            continue
        if arg.startswith("--nproc="):
            continue
        cleaned.append(arg)
    torchrun = shutil.which("torchrun")
    launcher = [torchrun] if torchrun else [sys.executable, "-m", "torch.distributed.run"]
    cmd = [*launcher, "--standalone", f"--nproc-per-node={nproc}", "-m", "posecli", *cleaned]
    code = subprocess.call(cmd)
    raise typer.Exit(code)
