"""Built-in callbacks that change what is trained or kept: EMA, the pipeline switch,
checkpoints and early stopping (registered in ``posecli.builtins.callbacks``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from posecli.engine.callbacks import Callback, StepInfo, Validation
from posecli.errors import PoseCliError

if TYPE_CHECKING:
    from posecli.engine.trainer import Trainer

__all__ = [
    "AttributeSwitchCallback",
    "CheckpointCallback",
    "EMACallback",
    "EarlyStoppingCallback",
    "PipelineSwitchCallback",
]

log = logging.getLogger("posecli.train")


class EMACallback(Callback):
    """Exponential moving average of the weights (MMPose's EMAHook): validated and in best.pt.

    Args mirror ``[train.ema]``: ``momentum`` (weight of the new value per update),
    ``warmup`` (MMPose's exponential momentum warm-up over ``warmup_iters`` steps) and
    ``update_buffers`` (average BN statistics too, else copy them).
    """

    def __init__(
        self,
        momentum: float = 0.0002,
        warmup: bool = True,
        warmup_iters: int = 2000,
        update_buffers: bool = True,
    ) -> None:
        self.momentum = momentum
        self.warmup = warmup
        self.warmup_iters = warmup_iters
        self.update_buffers = update_buffers

    def setup(self, trainer: Trainer) -> None:
        from posecli.engine.ema import ModelEMA

        trainer.ema = ModelEMA(
            trainer.model,
            momentum=self.momentum,
            warmup=self.warmup,
            warmup_iters=self.warmup_iters,
            update_buffers=self.update_buffers,
        )

    def on_step_end(self, trainer: Trainer, step: StepInfo) -> None:
        if step.stepped and trainer.ema is not None:
            trainer.ema.update(trainer.model, trainer.step)


class PipelineSwitchCallback(Callback):
    """RTMPose's stage 2: from epoch ``epoch`` (0-based) on, train with ``pipeline``.

    Rebuilds the training loader once, at the start of the first epoch at or after ``epoch``
    (also when a resumed run starts past it).
    """

    def __init__(self, epoch: int, pipeline: Sequence[Mapping[str, Any]]) -> None:
        self.epoch = int(epoch)
        self.pipeline = [dict(t) for t in pipeline]
        self.switched = False

    def on_epoch_start(self, trainer: Trainer) -> None:
        from posecli.engine.loaders import build_loader

        if self.switched or trainer.epoch < self.epoch:
            return
        self.switched = True
        data = trainer.recipe.data.model_copy(deep=True)
        assert data.train is not None
        data.train.pipeline = self.pipeline  # type: ignore[assignment]  # validated on assignment
        recipe = trainer.recipe.model_copy(update={"data": data})
        trainer.train_loader = build_loader(recipe, "train", trainer.skeleton, training=True)
        log.info("epoch %d: switched to the stage-2 training pipeline", trainer.epoch + 1)


class CheckpointCallback(Callback):
    """``last.pt`` after every epoch; ``best.pt`` when ``train.save_best`` improves.

    The metric and its rule are the trainer's (``trainer.best``: ``train.save_best``, else
    the recipe's first metric); a value must beat the best by more than ``min_delta``
    (``train.early_stopping.min_delta``) to count as an improvement.
    """

    def __init__(self, min_delta: float = 0.0) -> None:
        self.min_delta = float(min_delta)
        self.improved = False

    def on_validation_end(self, trainer: Trainer, validation: Validation) -> None:
        from posecli.engine.trainer import is_better

        best, values = trainer.best, validation.values
        if not best.metric:
            return
        if best.metric not in values:
            raise PoseCliError(
                f"train.save_best = {best.metric!r} is not a computed metric "
                f"(have: {', '.join(values)})"
            )
        if is_better(values[best.metric], best.value, best.rule, self.min_delta):
            best.value, best.epoch, best.bad_validations = values[best.metric], trainer.epoch, 0
            self.improved = True
        else:
            best.bad_validations += 1

    def on_epoch_end(self, trainer: Trainer) -> None:
        trainer.save_last()
        if self.improved:
            self.improved = False
            trainer.save_best()


class EarlyStoppingCallback(Callback):
    """Stop when ``train.save_best``'s metric has not improved for ``patience`` validations.

    What counts as an improvement (``min_delta``) is decided by the ``checkpoint`` callback.
    """

    def __init__(self, patience: int = 10) -> None:
        self.patience = int(patience)

    def on_epoch_end(self, trainer: Trainer) -> None:
        best = trainer.best
        if best.bad_validations < self.patience:
            return
        log.info(
            "early stopping: %s did not improve for %d validations (best %.4f at epoch %s)",
            best.metric,
            best.bad_validations,
            best.value,
            best.epoch,
        )
        trainer.stop_reason = "early stopping"


class AttributeSwitchCallback(Callback):
    """Set model attributes from given epochs on (MMPose's ``RTMOModeSwitchHook``).

    Args:
        epoch_attributes: ``{"<0-based epoch>": {"head.proxy_target_cc": true,
            "head.loss_oks.loss_weight": 10.0}}``: dotted paths from the model. Every path is
            checked when training starts (a typo is an error then, not hours later); each
            epoch's values are applied once, at the start of the first epoch at or after it
            (also when a resumed run starts past it).
    """

    def __init__(self, epoch_attributes: Mapping[str, Mapping[str, Any]]) -> None:
        try:
            self.schedule = sorted(
                (int(e), dict(attrs)) for e, attrs in dict(epoch_attributes).items()
            )
        except (TypeError, ValueError):
            raise PoseCliError(
                "attribute_switch.epoch_attributes: keys must be epoch numbers and values "
                "tables of attribute = value"
            ) from None
        self.applied: set[int] = set()

    @staticmethod
    def _owner(root: Any, path: str) -> tuple[Any, str]:
        *parents, leaf = path.split(".")
        obj = root
        for part in parents:
            obj = getattr(obj, part)
        if not hasattr(obj, leaf):
            raise AttributeError(leaf)
        return obj, leaf

    def on_train_start(self, trainer: Trainer) -> None:
        for epoch, attrs in self.schedule:
            for path in attrs:
                try:
                    self._owner(trainer.model, path)
                except AttributeError:
                    raise PoseCliError(
                        f"attribute_switch: epoch {epoch}: the model has no attribute {path!r}"
                    ) from None

    def on_epoch_start(self, trainer: Trainer) -> None:
        for epoch, attrs in self.schedule:
            if epoch in self.applied or trainer.epoch < epoch:
                continue
            self.applied.add(epoch)
            for path, value in attrs.items():
                obj, leaf = self._owner(trainer.model, path)
                setattr(obj, leaf, type(getattr(obj, leaf))(value))
            log.info(
                "epoch %d: set %s",
                trainer.epoch + 1,
                ", ".join(f"{k} = {v}" for k, v in attrs.items()),
            )
