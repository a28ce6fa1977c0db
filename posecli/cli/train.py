"""``posecli train``: train a recipe into a run directory (thin layer over the Trainer)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from posecli.cli.options import DeviceOption, SetOption, option


def train_command(
    recipe: Annotated[Path, typer.Argument(help="Recipe TOML file, e.g. recipes/rtmpose.toml.")],
    overrides: SetOption = None,
    work_dir: Annotated[
        Path | None, option("--work-dir", detail="Default: work_dirs/<recipe name>.")
    ] = None,
    resume: Annotated[
        bool, typer.Option("--resume", help="Continue the run in --work-dir from its last.pt.")
    ] = False,
    resume_from: Annotated[
        Path | None,
        typer.Option("--resume-from", help="Continue from this checkpoint (implies --resume)."),
    ] = None,
    force: Annotated[
        bool,
        option(
            "--force",
            detail="A --work-dir holding files is replaced by the new run when it ends.",
        ),
    ] = False,
    device: DeviceOption = "auto",
    seed: Annotated[int | None, option("--seed", detail="Overrides the recipe's seed.")] = None,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc", min=1, help="Processes on this machine (wraps torchrun; one per GPU)."
        ),
    ] = 1,
) -> None:
    """Train a pose model from a recipe; writes checkpoints, metrics.jsonl and curves.png."""
    from posecli.cli.app import quiet_enabled
    from posecli.engine.training_run import run_training
    from posecli.engine.two_stage import detector_recipe, train_detector
    from posecli.recipe import load_recipe
    from posecli.recipe.check import check_recipe

    sets = list(overrides or [])
    if seed is not None:
        sets.append(f"seed={seed}")
    resume_arg: Path | bool | None = (
        resume_from if resume_from is not None else (True if resume else None)
    )
    if force and resume_arg is not None:
        raise typer.BadParameter(
            "cannot be combined with --resume/--resume-from", param_hint="--force"
        )
    resolved = load_recipe(recipe, sets)
    check_recipe(resolved, str(recipe))  # every component built, geometry agreed: before any work
    detector_stage = detector_recipe(resolved, [f"seed={resolved.seed}"])  # checked now, too
    if nproc > 1 and "LOCAL_RANK" not in os.environ:
        _claim_for_launch(resolved, work_dir, force, resume_arg is not None)
        _relaunch_with_torchrun(nproc)
        return
    result = run_training(
        resolved,
        work_dir=work_dir,
        device=device,
        resume=resume_arg,
        force=force,
        progress=not quiet_enabled(),
        recipe_path=str(recipe),
    )
    stage_result = None
    if detector_stage is not None:
        stage_result = train_detector(
            detector_stage,
            Path(result.work_dir),
            device=device,
            force=force,
            progress=not quiet_enabled(),
        )
    if os.environ.get("RANK", "0") != "0":
        return
    _report(result)
    if stage_result is not None:
        typer.echo(f"detector ({detector_stage.name}):")
        _report(stage_result)


def _report(result: Any) -> None:
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
    epochs = "epoch" if result.epochs_run == 1 else "epochs"
    typer.echo(f"time: {result.seconds:.0f} s for {result.epochs_run} {epochs}")


def _claim_for_launch(recipe: Any, work_dir: Path | None, force: bool, resuming: bool) -> None:
    """Before torchrun starts the ranks: the run directory's ownership rule (with --force the
    old folder is removed first: a multi-process run is not swapped in atomically)."""
    from posecli.engine.training_run import default_work_dir
    from posecli.outputs import is_empty, refusal

    target = default_work_dir(recipe, work_dir)
    if resuming or not target.exists() or is_empty(target):
        return
    if not force:
        raise refusal(target, "run directory")
    shutil.rmtree(target)


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
