"""``posecli train`` as a library call: the run directory's ownership, resume checks, data
validation before the first step, and an honest summary.

Rules (the same as every output folder, see :mod:`posecli.outputs`):

- a new run needs a run directory that does not exist or is empty; one holding anything is
  refused unless ``force`` (then the new run is written into a temporary sibling and swapped in
  when it ends — finished, or interrupted with a ``last.pt`` to resume from);
- ``resume`` continues the run in the directory (it must hold a ``last.pt`` with optimiser
  state and epochs left to run); temporary files a killed run left are removed first;
- every image of the train and val splits is checked (file complete, header readable) and the
  annotations validated before the first step;
- a run that fails before its first checkpoint removes the directory it created.
"""

from __future__ import annotations

import dataclasses
import os
import re
from pathlib import Path
from typing import Any

from posecli.errors import CheckpointError, PoseCliError, UsageError
from posecli.outputs import on_interrupt, output_folder, remove_temporaries
from posecli.recipe import Recipe


@dataclasses.dataclass
class ResumePoint:
    """Where a resumed run starts: the checkpoint and the epochs it already trained."""

    path: Path
    epoch: int


def default_work_dir(recipe: Recipe, work_dir: str | Path | None) -> Path:
    """``work_dir``, else the recipe's, else ``work_dirs/<recipe name>`` (as the Trainer)."""
    return Path(work_dir or recipe.work_dir or Path("work_dirs") / (recipe.name or "run"))


def check_resume(path: Path, recipe: Recipe) -> ResumePoint:
    """Refuse checkpoints that cannot continue ``recipe``: weights-only files (``best.pt``) and
    runs that already trained every epoch the recipe asks for."""
    from posecli.engine.checkpoint import read_checkpoint

    if not path.is_file():
        raise PoseCliError(f"--resume: checkpoint not found: {path}")
    ckpt = read_checkpoint(path)
    epoch = int(ckpt.get("epoch") or 0)
    if not ckpt.get("optimizer"):
        raise CheckpointError(
            f"{path}: holds weights only (no optimiser state, like best.pt), so it cannot resume "
            f"a run; to start a new run from its weights use --set "
            f"'model.pretrained=[{{source=\"{path}\"}}]'"
        )
    total = recipe.train.epochs if recipe.train is not None else 0
    if epoch >= total:
        raise PoseCliError(
            f"{path}: already trained {epoch} epochs and the recipe trains {total}: nothing left "
            f"to run (raise it, e.g. --set train.epochs={epoch + max(total, 1)})"
        )
    return ResumePoint(path, epoch)


def rewind_train_log(log: Path, epoch: int) -> None:
    """Drop ``train.log`` lines about epochs after ``epoch`` (an interrupted epoch that the
    resumed run trains again), so each epoch is logged once."""
    if not log.is_file():
        return
    pattern = re.compile(r"\bepoch (\d+)(?:/\d+)?\b")
    kept = []
    for line in log.read_text(encoding="utf-8", errors="replace").splitlines(keepends=True):
        m = pattern.search(line)
        if m and int(m.group(1)) > epoch and "resumed from" not in line:
            continue
        kept.append(line)
    log.write_text("".join(kept), encoding="utf-8")


def run_training(
    recipe: Recipe,
    *,
    work_dir: str | Path | None = None,
    device: str = "auto",
    resume: str | Path | bool | None = None,
    force: bool = False,
    progress: bool = True,
    recipe_path: str | None = None,
) -> Any:
    """Train ``recipe`` under the rules above; returns the Trainer's ``TrainResult`` with
    ``epochs_run`` counting the epochs this call trained. See the module doc."""
    from posecli.engine.trainer import Trainer

    target = default_work_dir(recipe, work_dir)
    if force and resume not in (None, False):
        raise UsageError("--force starts a new run and --resume continues one: pass only one")
    start = None
    if resume not in (None, False):
        ckpt = target / "last.pt" if resume is True else Path(resume)  # type: ignore[arg-type]
        start = check_resume(ckpt, recipe)
        if resume is True or target.resolve() == ckpt.parent.resolve():
            remove_temporaries(target)
            rewind_train_log(target / "train.log", start.epoch)
            return _train(
                Trainer, recipe, target, target, device, start, progress, recipe_path, None
            )
    hint = "pass --resume to continue its run" if (target / "last.pt").is_file() else ""
    if os.environ.get("LOCAL_RANK") is not None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        # under torchrun the launcher checked the folder; every rank writes the same one
        return _train(Trainer, recipe, target, target, device, start, progress, recipe_path, None)
    state = {"kept": False}

    def keep(folder: Path) -> bool:
        state["kept"] = (folder / "last.pt").is_file()
        return state["kept"]

    with output_folder(target, force=force, what="run directory", hint=hint, keep=keep) as folder:
        return _train(Trainer, recipe, folder, target, device, start, progress, recipe_path, state)


def _train(
    trainer_cls: Any,
    recipe: Recipe,
    folder: Path,
    target: Path,
    device: str,
    start: ResumePoint | None,
    progress: bool,
    recipe_path: str | None,
    state: dict[str, bool] | None,
) -> Any:
    from posecli.data.validate import require_valid_splits

    trainer = trainer_cls(
        recipe,
        work_dir=folder,
        device=device,
        resume=start.path if start is not None else None,
        progress=progress,
    )
    first_epoch = trainer.epoch

    def kept() -> str:
        last = target / "last.pt"
        wrote = state["kept"] if state is not None else last.is_file()
        if not wrote:
            return (
                f"no checkpoint was written; {target} was left as it was before"
                if folder != target
                else f"no checkpoint was written; nothing kept in {target}"
            )
        again = f"posecli train {recipe_path or '<recipe>'} --work-dir {target} --resume"
        return (
            f"kept {last} (epoch {trainer.epoch} of {trainer.cfg.epochs}); continue with: {again}"
        )

    on_interrupt(kept)
    try:
        require_valid_splits(
            {"train": trainer.train_loader, "val": trainer.val_loader},
            skip_bad_images=recipe.data.skip_bad_samples,
        )
        result = trainer.run()
    finally:
        trainer.close()
    result = dataclasses.replace(result, epochs_run=result.epochs_run - first_epoch)
    if folder != target:  # paths as they will be after the swap
        result = dataclasses.replace(
            result,
            work_dir=target,
            last_checkpoint=target / result.last_checkpoint.name,
            best_checkpoint=(
                target / result.best_checkpoint.name if result.best_checkpoint else None
            ),
        )
    return result


__all__ = ["ResumePoint", "check_resume", "default_work_dir", "rewind_train_log", "run_training"]
