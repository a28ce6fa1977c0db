"""The ``tensorboard`` training callback (``torch.utils.tensorboard``, offline event files).

What it writes, all against the global optimiser step:

- ``train/loss``, ``train/lr``, ``train/images_per_s`` every ``train.log_interval`` iterations;
- ``epoch/loss``, ``epoch/images_per_s``, ``epoch/seconds`` per epoch;
- ``val/<metric>`` (``val/PCK``, ``val/EPE``...) and ``val_keypoint_error/<keypoint>`` (mean
  pixel error) at each validation, plus ``val/predictions``: the first validation crops with
  the predicted poses drawn (RGB images);
- ``recipe``: the resolved recipe TOML as text (once per run).

A resumed run opens the same directory with ``purge_step`` at the checkpoint's step, so
TensorBoard drops the events an interrupted run wrote after its last checkpoint.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecli.engine.callbacks import Callback, StepInfo, Validation

__all__ = ["TensorBoardCallback"]


class TensorBoardCallback(Callback):
    """Write the run to TensorBoard event files.

    Args:
        log_dir: Event directory; default ``<run directory>/tensorboard``.
        images: How many validation crops with predicted poses to log (0: none).
        flush_secs: How often the writer flushes to disk.
    """

    def __init__(self, log_dir: str | None = None, images: int = 8, flush_secs: int = 30) -> None:
        if images < 0:
            raise ValueError("images must be >= 0")
        self.log_dir = log_dir
        self.images = int(images)
        self.flush_secs = int(flush_secs)
        self.writer: Any = None
        self.path: Path | None = None

    def on_train_start(self, trainer: Any) -> None:
        from torch.utils.tensorboard import SummaryWriter

        from posecli.recipe import recipe_to_toml

        if not trainer.is_main:
            return
        self.path = Path(self.log_dir) if self.log_dir else trainer.work_dir / "tensorboard"
        resumed = trainer.resume_from is not None
        self.writer = SummaryWriter(
            str(self.path),
            purge_step=trainer.step if resumed else None,
            flush_secs=self.flush_secs,
        )
        if not resumed:
            text = recipe_to_toml(trainer.recipe)
            # markdown: an indented block keeps the TOML as written
            self.writer.add_text("recipe", "\n".join("    " + s for s in text.splitlines()), 0)

    def on_step_end(self, trainer: Any, step: StepInfo) -> None:
        if self.writer is None or step.iter % trainer.cfg.log_interval != 0:
            return
        self.writer.add_scalar("train/loss", step.loss, step.step)
        self.writer.add_scalar("train/lr", step.lr, step.step)
        self.writer.add_scalar("train/images_per_s", step.images_per_s, step.step)

    def on_train_epoch_end(self, trainer: Any, record: dict[str, Any]) -> None:
        if self.writer is None:
            return
        for key in ("loss", "images_per_s", "seconds"):
            if key in record:
                self.writer.add_scalar(f"epoch/{key}", float(record[key]), trainer.step)

    def on_validation_end(self, trainer: Any, validation: Validation) -> None:
        from posecli.engine.log_callbacks import keypoint_names, validation_pictures

        if self.writer is None:
            return
        for key, value in validation.values.items():
            self.writer.add_scalar(f"val/{key}", float(value), trainer.step)
        if validation.gt_keypoints.shape == validation.keypoints.shape:
            errors = validation.keypoint_errors()
            for name, error in zip(
                keypoint_names(trainer.skeleton, len(errors)), errors, strict=True
            ):
                if np.isfinite(error):
                    self.writer.add_scalar(f"val_keypoint_error/{name}", float(error), trainer.step)
        if self.images and len(validation.crops):
            pictures = validation_pictures(validation, trainer.skeleton)[: self.images]
            rgb = np.ascontiguousarray(pictures[..., ::-1])
            self.writer.add_images("val/predictions", rgb, trainer.step, dataformats="NHWC")
        self.writer.flush()

    def _close(self) -> None:
        if self.writer is not None:
            self.writer.flush()
            self.writer.close()
            self.writer = None

    def on_train_end(self, trainer: Any, result: Any) -> None:
        self._close()

    def on_exception(self, trainer: Any, exc: BaseException) -> None:
        self._close()
