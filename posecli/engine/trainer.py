"""The trainer behind ``posecli train``: one recipe in, a trustworthy run directory out.

A run directory holds ``recipe.toml`` (resolved), ``train.log`` (human log), ``metrics.jsonl``
(one JSON line per log step and per validation, per-keypoint errors included), ``curves.png``
(with the per-keypoint errors of the latest validation), ``last.pt`` (every epoch) and
``best.pt`` (by ``train.save_best``); each is written by a built-in callback
(:mod:`posecli.engine.callbacks`). Checkpoints follow ``posecli.engine.checkpoint`` and hold
everything needed to resume exactly: model, EMA, optimiser, scheduler, scaler, epoch/step and
RNG states. Data order and augmentation are functions of ``(seed, epoch, index)``, so a resumed
run continues as if it had never stopped.

Distributed runs (``torchrun``) use DistributedDataParallel; only rank 0 writes files.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterator, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from posecli.engine import distributed as dist
from posecli.engine.allocator import tune_malloc_for_training
from posecli.engine.callbacks import StepInfo, Validation
from posecli.engine.evaluate import to_device
from posecli.engine.interrupts import InterruptLatch
from posecli.errors import PoseCliError
from posecli.recipe import Recipe, recipe_to_toml

if TYPE_CHECKING:
    from posecli.engine.ema import ModelEMA

log = logging.getLogger("posecli.train")

LOWER_IS_BETTER = ("EPE", "NME", "loss")


class TrainingDiverged(PoseCliError):
    """The loss became NaN or infinite."""


@dataclasses.dataclass
class TrainResult:
    """Where a finished run left its files and what it reached."""

    work_dir: Path
    last_checkpoint: Path
    best_checkpoint: Path | None
    best_metric: str | None
    best_value: float | None
    epochs_run: int
    metrics: dict[str, float]
    seconds: float
    stopped_early: bool = False


def resolve_device(device: str = "auto") -> torch.device:
    """``auto`` → ``cuda`` if available else ``cpu``; ``cuda:N`` and ``cpu`` as given."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise PoseCliError(f"--device {device}: CUDA is not available on this machine")
    return dev


def best_rule(metric: str, rule: str | None) -> str:
    """``greater`` or ``less``: explicit, else ``less`` for errors and losses."""
    if rule:
        return rule
    return "less" if any(metric.startswith(n) for n in LOWER_IS_BETTER) else "greater"


def is_better(value: float, best: float | None, rule: str, min_delta: float = 0.0) -> bool:
    if best is None:
        return True
    return value > best + min_delta if rule == "greater" else value < best - min_delta


class LossForward(nn.Module):
    """``forward(batch) = model.loss(batch)``, so DDP's gradient hooks see the loss pass."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, batch: dict[str, Any]) -> dict[str, torch.Tensor]:
        return self.model.loss(batch)  # type: ignore[operator,no-any-return]


@dataclasses.dataclass
class BestState:
    """The ``save_best`` bookkeeping kept in ``last.pt`` (``best``) and shared by callbacks."""

    metric: str | None
    rule: str = "greater"
    value: float | None = None
    epoch: int | None = None
    bad_validations: int = 0


class Trainer:
    """Builds everything a recipe names and runs the epochs; callbacks do everything else.

    The loop (:meth:`run`) trains an epoch (:meth:`train_one_epoch`), validates when due
    (:meth:`validate`) and fires the events of :mod:`posecli.engine.callbacks`. EMA, the
    pipeline switch, checkpoints, early stopping, the metrics log, curves and the progress bar
    are built-in callbacks; ``[[train.callbacks]]`` adds more.

    Args:
        recipe: The validated recipe (with ``train`` section).
        work_dir: Run directory; default ``recipe.work_dir`` or ``work_dirs/<recipe name>``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (under torchrun: the local GPU).
        resume: Checkpoint to resume from, or ``True`` for ``<work_dir>/last.pt``.
        progress: Show a rich progress bar (else plain log lines).
        callbacks: Callback objects run after the recipe's (for library use and tests).
    """

    def __init__(
        self,
        recipe: Recipe,
        *,
        work_dir: str | Path | None = None,
        device: str = "auto",
        resume: str | Path | bool | None = None,
        progress: bool = True,
        callbacks: Sequence[Any] = (),
    ) -> None:
        if recipe.train is None:
            raise PoseCliError(f"recipe {recipe.name!r} has no [train] section")
        if recipe.data.train is None:
            raise PoseCliError(f"recipe {recipe.name!r} has no [data.train] split")
        self.recipe = recipe
        self.cfg = recipe.train
        self.dist = dist.init_distributed()
        self.is_main = dist.is_main_process()
        self.work_dir = Path(
            work_dir or recipe.work_dir or Path("work_dirs") / (recipe.name or "run")
        )
        self.progress = progress and self.is_main
        self._log_handler: logging.Handler | None = None
        self._interrupts = InterruptLatch()
        try:  # whatever fails here, the log handler and the process group are released
            self.device = self._pick_device(device)
            self.malloc_tuned = self.device.type == "cpu" and tune_malloc_for_training()
            self.resume_from = self._resume_path(resume)
            self._prepare_work_dir()
            self._setup_logging()
            self._build(list(callbacks))
        except BaseException:
            self.close()
            raise

    # -- set-up ---------------------------------------------------------------------------
    def _pick_device(self, device: str) -> torch.device:
        if self.dist.distributed and torch.cuda.is_available() and device in ("auto", "cuda"):
            torch.cuda.set_device(self.dist.local_rank)
            return torch.device("cuda", self.dist.local_rank)
        return resolve_device(device)

    def _resume_path(self, resume: str | Path | bool | None) -> Path | None:
        if resume is None or resume is False:
            return None
        path = self.work_dir / "last.pt" if resume is True else Path(resume)
        if not path.is_file():
            raise PoseCliError(f"--resume: checkpoint not found: {path}")
        return path

    def _prepare_work_dir(self) -> None:
        existing = self.work_dir / "last.pt"
        if self.resume_from is None and existing.exists():
            raise PoseCliError(
                f"{self.work_dir} already holds a run (last.pt); pass --resume to continue it "
                "or --work-dir for a new run"
            )
        if self.is_main:
            self.work_dir.mkdir(parents=True, exist_ok=True)
            (self.work_dir / "recipe.toml").write_text(recipe_to_toml(self.recipe))
        dist.barrier()

    def _setup_logging(self) -> None:
        if self.is_main:
            handler = logging.FileHandler(self.work_dir / "train.log")
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
            self._log_handler = handler
            root = logging.getLogger("posecli")  # data warnings (skipped samples) included
            root.addHandler(handler)
            root.setLevel(logging.INFO)

    def _build(self, extra_callbacks: list[Any]) -> None:
        from posecli.api import build_model
        from posecli.data.metainfo import load_skeleton
        from posecli.engine import seeding
        from posecli.engine.callbacks import CallbackList
        from posecli.engine.default_callbacks import recipe_callbacks
        from posecli.engine.loaders import build_loader
        from posecli.engine.optim import build_optimizer
        from posecli.engine.schedules import build_scheduler
        from posecli.evaluation import build_metrics

        recipe, cfg = self.recipe, self.cfg
        seeding.seed_everything(recipe.seed + self.dist.rank, deterministic=cfg.deterministic)
        self.skeleton = load_skeleton(recipe.data.skeleton) if recipe.data.skeleton else None
        model = build_model(recipe, skeleton=self.skeleton).to(self.device)
        if recipe.model.channels_last:
            model = model.to(memory_format=torch.channels_last)
        if self.dist.distributed and cfg.sync_bn:
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        self.model = model
        self.ddp_model: nn.Module = (
            nn.parallel.DistributedDataParallel(
                LossForward(model),
                device_ids=[self.device.index] if self.device.type == "cuda" else None,
            )
            if self.dist.distributed
            else LossForward(model)
        )
        self.train_loader = build_loader(recipe, "train", self.skeleton, training=True)
        self.val_loader = (
            build_loader(recipe, "val", self.skeleton, training=False)
            if recipe.data.val is not None
            else None
        )
        #: Micro-batches per epoch and optimiser steps per epoch (a short last window steps too).
        self.micro_batches = len(self.train_loader)
        self.iters_per_epoch = math.ceil(self.micro_batches / cfg.accumulate)
        self.optimizer = build_optimizer(
            self.model, cfg.optimizer, no_decay_norm_bias=cfg.no_decay_norm_bias
        )
        self.scheduler = build_scheduler(
            self.optimizer,
            [s.as_dict() for s in cfg.schedule],
            iters_per_epoch=self.iters_per_epoch,
            max_epochs=cfg.epochs,
        )
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.amp)
        use_scaler = cfg.amp == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.metrics = build_metrics([m.as_dict() for m in recipe.eval.metrics], self.skeleton)
        metric_name = cfg.save_best or _default_best(recipe)
        self.best = BestState(
            metric_name, best_rule(metric_name, cfg.save_best_rule) if metric_name else "greater"
        )
        self.epoch = 0
        self.step = 0
        self.last_metrics: dict[str, float] = {}
        self.last_validation: Validation | None = None
        self.ema: ModelEMA | None = None  # set by the ``ema`` callback
        self.stop_reason: str | None = None  # set by a callback to end the run after this epoch
        self.callbacks = CallbackList(
            recipe_callbacks(self, extra_callbacks), checkpoint_note=self._checkpoint_note
        )
        for callback in self.callbacks:
            if hasattr(callback, "setup"):
                callback.setup(self)
        if self.resume_from is not None:
            self._load_resume(self.resume_from)

    # -- checkpoints ----------------------------------------------------------------------
    def save_last(self) -> Path:
        """``last.pt``: everything needed to resume exactly; fires ``on_checkpoint``."""
        from posecli.api import skeleton_metainfo
        from posecli.engine import seeding
        from posecli.engine.checkpoint import save_checkpoint

        path = self.work_dir / "last.pt"
        if self.is_main:
            extra: dict[str, Any] = {
                "scaler": self.scaler.state_dict(),
                "ema_steps": self.ema.steps if self.ema is not None else 0,
                "best": {
                    "value": self.best.value,
                    "epoch": self.best.epoch,
                    "bad_validations": self.best.bad_validations,
                },
            }
            states = self.callbacks.state_dict()
            if states:
                extra["callbacks"] = states
            save_checkpoint(
                path,
                self.model,
                self.recipe,
                metainfo=skeleton_metainfo(self.skeleton),
                ema=self.ema.model_state_dict() if self.ema is not None else None,
                optimizer=self.optimizer,
                scheduler=self.scheduler,
                epoch=self.epoch,
                step=self.step,
                rng=seeding.get_rng_state(),
                metrics=self.last_metrics,
                extra=extra,
            )
        self.callbacks.fire("on_checkpoint", self, path, "last")
        return path

    def save_best(self) -> Path:
        """``best.pt``: the evaluated weights (EMA when enabled) with the recipe and metrics."""
        from posecli.api import skeleton_metainfo
        from posecli.engine.checkpoint import save_checkpoint

        path = self.work_dir / "best.pt"
        if self.is_main:
            weights = self.ema.model_state_dict() if self.ema is not None else self.model
            save_checkpoint(
                path,
                weights,
                self.recipe,
                metainfo=skeleton_metainfo(self.skeleton),
                epoch=self.epoch,
                step=self.step,
                metrics=self.last_metrics,
            )
        self.callbacks.fire("on_checkpoint", self, path, "best")
        return path

    def _checkpoint_note(self) -> str:
        last = self.work_dir / "last.pt"
        return f"Last good checkpoint: {last}" if last.exists() else "No checkpoint was written"

    def _load_resume(self, path: Path) -> None:
        from posecli.engine import seeding
        from posecli.engine.checkpoint import read_checkpoint

        ckpt = read_checkpoint(path)
        self.model.load_state_dict(ckpt["state_dict"])
        if self.ema is not None and ckpt.get("ema_state_dict") is not None:
            self.ema.module.load_state_dict(ckpt["ema_state_dict"])
            self.ema.steps = int(ckpt.get("ema_steps", 0))
        if ckpt.get("optimizer"):
            self.optimizer.load_state_dict(ckpt["optimizer"])
        if ckpt.get("scheduler"):
            self.scheduler.load_state_dict(ckpt["scheduler"])
        if ckpt.get("scaler"):
            self.scaler.load_state_dict(ckpt["scaler"])
        self.epoch = int(ckpt.get("epoch", 0))
        self.step = int(ckpt.get("step", 0))
        best = ckpt.get("best") or {}
        self.best.value = best.get("value")
        self.best.epoch = best.get("epoch")
        self.best.bad_validations = int(best.get("bad_validations") or 0)
        self.last_metrics = dict(ckpt.get("metrics") or {})
        self.callbacks.load_state_dict(ckpt.get("callbacks") or {})
        if ckpt.get("rng") is not None:
            seeding.set_rng_state(ckpt["rng"])
        log.info("resumed from %s at epoch %d (step %d)", path, self.epoch, self.step)

    # -- the loop -------------------------------------------------------------------------
    def run(self) -> TrainResult:
        """Train for the remaining epochs; returns where everything is."""
        start = time.perf_counter()
        fire = self.callbacks.fire
        self.optimizer.zero_grad(set_to_none=True)
        try:
            with self._interrupts:
                fire("on_train_start", self)
                while self.epoch < self.cfg.epochs and self.stop_reason is None:
                    fire("on_epoch_start", self)
                    fire("on_train_epoch_end", self, self.train_one_epoch())
                    if self.epoch % self.cfg.val_interval == 0 or self.epoch == self.cfg.epochs:
                        self.validate()
                        self._interrupts.check()
                    fire("on_epoch_end", self)
                result = self._result(time.perf_counter() - start)
                fire("on_train_end", self, result)
        except BaseException as exc:
            self.callbacks.fire_exception(self, exc)
            raise
        return result

    def train_one_epoch(self) -> dict[str, Any]:
        """One pass over the training split; returns the epoch record (``type = "epoch"``)."""
        epoch = self.epoch
        self.model.train()
        tick, images, loss_sum, loss_n = time.perf_counter(), 0, 0.0, 0
        for micro, batch in enumerate(self._batches(epoch)):
            batch = to_device(batch, self.device)
            self.callbacks.fire("on_train_batch", self, batch)
            if self.recipe.model.channels_last:
                batch["inputs"] = batch["inputs"].contiguous(memory_format=torch.channels_last)
            value, stepped = self._train_step(batch, micro)
            if not math.isfinite(value):
                raise TrainingDiverged(
                    f"loss became {value} at epoch {epoch + 1}, iteration {micro + 1}; "
                    + (
                        f"stopped. Last good checkpoint: {self.work_dir / 'last.pt'}"
                        if (self.work_dir / "last.pt").exists()
                        else "stopped before any checkpoint was written"
                    )
                )
            images += int(batch["inputs"].shape[0]) * self.dist.world_size
            loss_sum, loss_n = loss_sum + value, loss_n + 1
            lr = float(self.optimizer.param_groups[0]["lr"])
            speed = images / max(time.perf_counter() - tick, 1e-9)
            info = StepInfo(epoch + 1, micro + 1, self.step, value, lr, speed, stepped)
            self.callbacks.fire("on_step_end", self, info)
            self._interrupts.check()  # a Ctrl-C dropped inside a finaliser stops here
        self.epoch = epoch + 1
        seconds = time.perf_counter() - tick
        record: dict[str, Any] = {
            "type": "epoch",
            "epoch": self.epoch,
            "step": self.step,
            "loss": loss_sum / max(loss_n, 1),
            "seconds": seconds,
            "images_per_s": images / max(seconds, 1e-9),
        }
        skipped = getattr(getattr(self.train_loader, "dataset", None), "skipped", 0)
        if skipped:
            record["skipped_samples"] = skipped
        return record

    def _batches(self, epoch: int) -> Iterator[dict[str, Any]]:
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        dataset = getattr(self.train_loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        yield from self.train_loader

    def _train_step(self, batch: dict[str, Any], micro: int) -> tuple[float, bool]:
        """Forward/backward one micro-batch; step the optimiser at the end of its window.

        Windows hold ``accumulate`` micro-batches; the last window of an epoch may be shorter
        and steps too, its loss averaged over its own size (no gradient outlives an epoch).
        """
        acc = self.cfg.accumulate
        first = micro - micro % acc
        window = min(acc, self.micro_batches - first)
        steps_now = micro + 1 >= first + window
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else nullcontext()
        )
        sync = (
            self.ddp_model.no_sync() if self.dist.distributed and not steps_now else nullcontext()
        )
        with sync:
            with autocast:
                losses = self.ddp_model(batch)
            loss = losses["loss"]
            value = float(loss.detach())
            if not math.isfinite(value):
                return value, False
            self.scaler.scale(loss / window).backward()
        if steps_now:
            if self.cfg.clip_grad is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), self.cfg.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.step += 1
        return value, steps_now

    def validate(self) -> Validation | None:
        """Evaluate the EMA weights (when enabled) on the validation split.

        Sets ``last_metrics`` and ``last_validation`` and fires ``on_validation_end``;
        ``None`` (and nothing fired) without a validation split or metrics.
        """
        from posecli.engine.validation import run_validation

        if self.val_loader is None or not self.metrics:
            return None
        model = self.ema.module if self.ema is not None else self.model
        if self.dist.distributed:
            # BN statistics are per rank; evaluate every shard with rank 0's (those saved)
            import torch.distributed as tdist

            for buffer in model.buffers():
                tdist.broadcast(buffer, src=0)
        validation = run_validation(
            model,
            self.val_loader,
            self.metrics,
            self.device,
            epoch=self.epoch,
            input_size=self.recipe.input_size if "input_size" in self.recipe.codec.kwargs else None,
            gather=dist.sync_metric,
        )
        if self.dist.distributed:  # every rank's instances, for per-keypoint errors
            for key in ("keypoints", "scores", "gt_keypoints", "visible"):
                setattr(validation, key, dist.gather_arrays(getattr(validation, key)))
        if not validation.values:
            return None
        self.last_metrics, self.last_validation = validation.values, validation
        self.callbacks.fire("on_validation_end", self, validation)
        return validation

    def _result(self, seconds: float) -> TrainResult:
        if self.dist.distributed:
            self._check_ranks_in_sync()
        dist.barrier()
        best = self.work_dir / "best.pt"
        return TrainResult(
            work_dir=self.work_dir,
            last_checkpoint=self.work_dir / "last.pt",
            best_checkpoint=best if best.exists() else None,
            best_metric=self.best.metric,
            best_value=self.best.value,
            epochs_run=self.epoch,
            metrics=self.last_metrics,
            seconds=seconds,
            stopped_early=self.stop_reason is not None,
        )

    def _check_ranks_in_sync(self) -> None:
        """Log whether every rank ends with the same parameters (DDP keeps them equal)."""
        digest = [float(p.detach().double().sum()) for p in self.model.parameters()]
        digests = dist.all_gather_object(digest)
        same = all(d == digests[0] for d in digests)
        if same:
            log.info("DDP check: parameters identical on all %d ranks", len(digests))
        else:
            log.warning("DDP check: parameters differ between ranks")

    def close(self) -> None:
        """Detach ``train.log`` from the ``posecli`` logger and leave the process group."""
        if self._log_handler is not None:
            logging.getLogger("posecli").removeHandler(self._log_handler)
            self._log_handler.close()
            self._log_handler = None
        dist.cleanup()


def _default_best(recipe: Recipe) -> str | None:
    """First metric the recipe computes, in MMPose's naming (``PCK``, ``coco/AP``...)."""
    names = {"pck": "PCK", "coco_ap": "coco/AP", "epe": "EPE", "auc": "AUC", "nme": "NME"}
    for table in recipe.eval.metrics:
        if table.name.lower() in names:
            return names[table.name.lower()]
    return None


def train(recipe: Recipe, **kwargs: Any) -> TrainResult:
    """Train ``recipe`` (see :class:`Trainer` for the options) and return the result."""
    trainer = Trainer(recipe, **kwargs)  # releases what it set up when building fails
    try:
        return trainer.run()
    finally:
        trainer.close()
