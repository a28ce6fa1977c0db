"""Built-in callbacks that report: the progress bar, the metrics log (``metrics.jsonl`` and
``train.log`` lines) and ``curves.png`` (with the per-keypoint errors)."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import numpy as np

from posecli.engine.callbacks import Callback, StepInfo, Validation

if TYPE_CHECKING:
    from posecli.engine.metrics_log import MetricsLog
    from posecli.engine.progress import TrainProgress
    from posecli.engine.trainer import Trainer

__all__ = [
    "CurvesCallback",
    "MetricsLogCallback",
    "ProgressCallback",
    "keypoint_names",
    "validation_pictures",
]

log = logging.getLogger("posecli.train")


class ProgressCallback(Callback):
    """A rich progress bar on a terminal (loss, lr, images/s, ETA); plain lines elsewhere,
    every ``plain_every`` iterations. ``posecli -q`` leaves it out."""

    def __init__(self, plain_every: int = 50) -> None:
        self.plain_every = int(plain_every)
        self.bar: TrainProgress | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        from posecli.engine.progress import TrainProgress

        self.bar = TrainProgress(
            trainer.cfg.epochs, trainer.micro_batches, plain_every=self.plain_every
        ).__enter__()

    def on_epoch_start(self, trainer: Trainer) -> None:
        if self.bar is not None:
            self.bar.start_epoch(trainer.epoch + 1)

    def on_step_end(self, trainer: Trainer, step: StepInfo) -> None:
        if self.bar is not None:
            self.bar.advance(loss=step.loss, lr=step.lr, speed=step.images_per_s)

    def on_validation_end(self, trainer: Trainer, validation: Validation) -> None:
        if self.bar is not None:
            self.bar.note(validation.values)

    def _close(self, exc: BaseException | None) -> None:
        if self.bar is not None:
            self.bar.__exit__(type(exc) if exc else None, exc, None)
            self.bar = None

    def on_train_end(self, trainer: Trainer, result: Any) -> None:
        self._close(None)

    def on_exception(self, trainer: Trainer, exc: BaseException) -> None:
        self._close(exc)


class MetricsLogCallback(Callback):
    """``metrics.jsonl``: a ``train`` line every ``log_interval`` iterations, an ``epoch``
    summary and a ``val`` line per validation (with ``keypoint_errors``: mean pixel error by
    keypoint name, ``null`` where none is labelled); the same summaries in ``train.log``.

    A resumed run first drops the records after the checkpoint's step, so none is repeated.
    """

    def __init__(self, log_interval: int = 10) -> None:
        self.log_interval = int(log_interval)
        self.file: MetricsLog | None = None

    def on_train_start(self, trainer: Trainer) -> None:
        from posecli.engine.metrics_log import MetricsLog, rewind_metrics

        path = trainer.work_dir / "metrics.jsonl"
        if trainer.is_main:
            if trainer.resume_from is not None:
                rewind_metrics(path, trainer.step)
            self.file = MetricsLog(path)
        log.info(
            "training %s for %d epochs on %s (%d iterations per epoch, world size %d) in %s",
            trainer.recipe.name,
            trainer.cfg.epochs,
            trainer.device,
            trainer.iters_per_epoch,
            trainer.dist.world_size,
            trainer.work_dir,
        )
        if trainer.malloc_tuned:
            log.info(
                "malloc: freed memory stays in the process (POSECLI_MALLOC_TUNING=0 turns off)"
            )

    def on_step_end(self, trainer: Trainer, step: StepInfo) -> None:
        if self.file is not None and step.iter % self.log_interval == 0:
            self.file.write(
                {
                    "type": "train",
                    "epoch": step.epoch,
                    "iter": step.iter,
                    "step": step.step,
                    "loss": step.loss,
                    "lr": step.lr,
                    "images_per_s": step.images_per_s,
                }
            )

    def on_train_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None:
        skipped = record.get("skipped_samples", 0)
        log.info(
            "epoch %d/%d  loss %.5f  %.1f img/s%s",
            record["epoch"],
            trainer.cfg.epochs,
            record["loss"],
            record["images_per_s"],
            f"  ({skipped} bad samples skipped so far)" if skipped else "",
        )
        if self.file is not None:
            self.file.write(record)

    def on_validation_end(self, trainer: Trainer, validation: Validation) -> None:
        values = validation.values
        if self.file is not None:
            record: dict[str, Any] = {"type": "val", "epoch": trainer.epoch, "step": trainer.step}
            record.update(values)
            if validation.gt_keypoints.shape == validation.keypoints.shape:
                errors = validation.keypoint_errors()
                names = keypoint_names(trainer.skeleton, len(errors))
                record["keypoint_errors"] = dict(zip(names, errors.tolist(), strict=True))
            self.file.write(record)
        log.info(
            "epoch %d validation: %s",
            trainer.epoch,
            "  ".join(f"{k} {v:.4f}" for k, v in values.items()),
        )

    def _close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None

    def on_train_end(self, trainer: Trainer, result: Any) -> None:
        self._close()

    def on_exception(self, trainer: Trainer, exc: BaseException) -> None:
        self._close()


class CurvesCallback(Callback):
    """``curves.png`` redrawn after every epoch: loss, learning rate, each validation metric and
    the per-keypoint errors of the latest validation."""

    def on_epoch_end(self, trainer: Trainer) -> None:
        from posecli.engine.curves import draw_curves

        if trainer.is_main:
            draw_curves(trainer.work_dir / "metrics.jsonl", trainer.work_dir / "curves.png")


def keypoint_names(skeleton: Any, k: int) -> list[str]:
    """The skeleton's ``K`` keypoint names, or ``kpt0``... when there is none (or K differs)."""
    names = list(getattr(skeleton, "keypoint_names", ()) or ())
    return names if len(names) == k else [f"kpt{i}" for i in range(k)]


def validation_pictures(validation: Validation, skeleton: Any = None) -> np.ndarray:
    """The kept validation crops with their predicted poses, BGR uint8 ``(n, H, W, 3)``."""
    from posecli.visualization.draw import draw_pose, skeleton_style

    style = skeleton_style(skeleton) if skeleton is not None else {}
    crops = validation.crops
    if crops.ndim == 4 and crops.shape[-1] == 1:  # grey inputs
        crops = np.repeat(crops, 3, axis=-1)
    pictures = [
        draw_pose(
            np.ascontiguousarray(crop),
            kps[None],
            scores[None],
            kpt_thr=0.0,
            **style,  # type: ignore[arg-type]
        )
        for crop, kps, scores in zip(
            crops, validation.crop_keypoints, validation.crop_scores, strict=False
        )
    ]
    if not pictures:
        return np.zeros((0, 1, 1, 3), np.uint8)
    return np.stack(pictures)
