"""The trainer behind ``posecli train``: one recipe in, a trustworthy run directory out.

A run directory holds ``recipe.toml`` (resolved), ``train.log`` (human log), ``metrics.jsonl``
(one JSON line per log step and per validation), ``curves.png``, ``last.pt`` (every epoch) and
``best.pt`` (by ``train.save_best``). Checkpoints follow ``posecli.engine.checkpoint`` and hold
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
from collections.abc import Iterator
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import torch
from torch import nn

from posecli.engine import distributed as dist
from posecli.engine.allocator import tune_malloc_for_training
from posecli.engine.evaluate import evaluate, to_device
from posecli.errors import PoseCliError
from posecli.recipe import Recipe, recipe_to_toml

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


def _is_better(value: float, best: float | None, rule: str, min_delta: float = 0.0) -> bool:
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


class Trainer:
    """Builds everything a recipe names and runs the epochs.

    Args:
        recipe: The validated recipe (with ``train`` section).
        work_dir: Run directory; default ``recipe.work_dir`` or ``work_dirs/<recipe name>``.
        device: ``auto``, ``cpu``, ``cuda`` or ``cuda:N`` (under torchrun: the local GPU).
        resume: Checkpoint to resume from, or ``True`` for ``<work_dir>/last.pt``.
        progress: Show a rich progress bar (else plain log lines).
    """

    def __init__(
        self,
        recipe: Recipe,
        *,
        work_dir: str | Path | None = None,
        device: str = "auto",
        resume: str | Path | bool | None = None,
        progress: bool = True,
    ) -> None:
        if recipe.train is None:
            raise PoseCliError(f"recipe {recipe.name!r} has no [train] section")
        if recipe.data.train is None:
            raise PoseCliError(f"recipe {recipe.name!r} has no [data.train] split")
        self.recipe = recipe
        self.cfg = recipe.train
        self.dist = dist.init_distributed()
        self.device = self._pick_device(device)
        self.malloc_tuned = self.device.type == "cpu" and tune_malloc_for_training()
        self.is_main = dist.is_main_process()
        self.work_dir = Path(
            work_dir or recipe.work_dir or Path("work_dirs") / (recipe.name or "run")
        )
        self.progress = progress and self.is_main
        self.resume_from = self._resume_path(resume)
        self._prepare_work_dir()
        self._setup_logging()
        self._build()

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
        from posecli.engine.metrics_log import MetricsLog

        self.metrics_log = MetricsLog(self.work_dir / "metrics.jsonl") if self.is_main else None
        if self.is_main:
            handler = logging.FileHandler(self.work_dir / "train.log")
            handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%d %H:%M:%S"))
            self._log_handler = handler
            root = logging.getLogger("posecli")  # data warnings (skipped samples) included
            root.addHandler(handler)
            root.setLevel(logging.INFO)

    def _build(self) -> None:
        from posecli.api import build_model
        from posecli.data.metainfo import load_skeleton
        from posecli.engine import seeding
        from posecli.engine.ema import ModelEMA
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
        self.iters_per_epoch = max(1, len(self.train_loader) // cfg.accumulate)
        self.optimizer = build_optimizer(
            self.model, cfg.optimizer, no_decay_norm_bias=cfg.no_decay_norm_bias
        )
        self.scheduler = build_scheduler(
            self.optimizer,
            [s.as_dict() for s in cfg.schedule],
            iters_per_epoch=self.iters_per_epoch,
            max_epochs=cfg.epochs,
        )
        ema_cfg = cfg.ema
        self.ema = (
            ModelEMA(
                model,
                momentum=ema_cfg.momentum,
                warmup=ema_cfg.warmup,
                warmup_iters=ema_cfg.warmup_iters,
                update_buffers=ema_cfg.update_buffers,
            )
            if ema_cfg is not None and ema_cfg.enabled
            else None
        )
        self.amp_dtype = {"fp16": torch.float16, "bf16": torch.bfloat16}.get(cfg.amp)
        use_scaler = cfg.amp == "fp16" and self.device.type == "cuda"
        self.scaler = torch.amp.GradScaler(self.device.type, enabled=use_scaler)
        self.metrics = build_metrics([m.as_dict() for m in recipe.eval.metrics], self.skeleton)
        self.epoch = 0
        self.step = 0
        self.best_value: float | None = None
        self.best_epoch: int | None = None
        self.bad_validations = 0
        self.last_metrics: dict[str, float] = {}
        self.skipped_samples = 0
        if self.resume_from is not None:
            self._load_resume(self.resume_from)

    # -- checkpoints ----------------------------------------------------------------------
    def _save(self, name: str) -> Path:
        """Write ``last.pt``-style checkpoints: everything needed to resume exactly."""
        from posecli.api import skeleton_metainfo
        from posecli.engine import seeding
        from posecli.engine.checkpoint import save_checkpoint

        path = self.work_dir / name
        if self.is_main:
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
                extra={
                    "scaler": self.scaler.state_dict(),
                    "ema_steps": self.ema.steps if self.ema is not None else 0,
                    "best": {
                        "value": self.best_value,
                        "epoch": self.best_epoch,
                        "bad_validations": self.bad_validations,
                    },
                },
            )
        return path

    def _save_best(self) -> None:
        """``best.pt``: the evaluated weights (EMA when enabled) with the recipe and metrics."""
        from posecli.api import skeleton_metainfo
        from posecli.engine.checkpoint import save_checkpoint

        if not self.is_main:
            return
        weights = self.ema.model_state_dict() if self.ema is not None else self.model
        save_checkpoint(
            self.work_dir / "best.pt",
            weights,
            self.recipe,
            metainfo=skeleton_metainfo(self.skeleton),
            epoch=self.epoch,
            step=self.step,
            metrics=self.last_metrics,
        )

    def _load_resume(self, path: Path) -> None:
        from posecli.engine import seeding
        from posecli.engine.checkpoint import read_checkpoint
        from posecli.engine.metrics_log import rewind_metrics

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
        self.best_value = best.get("value")
        self.best_epoch = best.get("epoch")
        self.bad_validations = int(best.get("bad_validations") or 0)
        self.last_metrics = dict(ckpt.get("metrics") or {})
        if ckpt.get("rng") is not None:
            seeding.set_rng_state(ckpt["rng"])
        if self.metrics_log is not None:
            from posecli.engine.metrics_log import MetricsLog

            self.metrics_log.close()  # rewinding replaces the file: reopen it afterwards
            rewind_metrics(self.work_dir / "metrics.jsonl", self.step)
            self.metrics_log = MetricsLog(self.work_dir / "metrics.jsonl")
        log.info("resumed from %s at epoch %d (step %d)", path, self.epoch, self.step)

    # -- the loop -------------------------------------------------------------------------
    def _pipeline_for(self, epoch: int) -> None:
        """Switch to the stage-2 pipeline from its epoch on (rebuilds the train loader)."""
        from posecli.engine.loaders import build_loader

        switch = self.cfg.pipeline_switch
        if switch is None or epoch < switch.epoch or getattr(self, "_switched", False):
            return
        self._switched = True
        data = self.recipe.data.model_copy(deep=True)
        assert data.train is not None
        data.train.pipeline = switch.pipeline
        recipe = self.recipe.model_copy(update={"data": data})
        self.train_loader = build_loader(recipe, "train", self.skeleton, training=True)
        log.info("epoch %d: switched to the stage-2 training pipeline", epoch + 1)

    def _batches(self, epoch: int) -> Iterator[dict[str, Any]]:
        sampler = getattr(self.train_loader, "sampler", None)
        if hasattr(sampler, "set_epoch"):
            sampler.set_epoch(epoch)
        dataset = getattr(self.train_loader, "dataset", None)
        if hasattr(dataset, "set_epoch"):
            dataset.set_epoch(epoch)
        yield from self.train_loader

    def _train_step(self, batch: dict[str, Any], micro: int) -> float:
        cfg = self.cfg
        autocast = (
            torch.autocast(self.device.type, dtype=self.amp_dtype)
            if self.amp_dtype is not None
            else nullcontext()
        )
        sync = (
            self.ddp_model.no_sync()
            if self.dist.distributed and (micro + 1) % cfg.accumulate != 0
            else nullcontext()
        )
        with sync:
            with autocast:
                losses = self.ddp_model(batch)
            loss = losses["loss"]
            value = float(loss.detach())
            if not math.isfinite(value):
                return value
            self.scaler.scale(loss / cfg.accumulate).backward()
        if (micro + 1) % cfg.accumulate == 0:
            if cfg.clip_grad is not None:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.model.parameters(), cfg.clip_grad)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            self.optimizer.zero_grad(set_to_none=True)
            self.scheduler.step()
            self.step += 1
            if self.ema is not None:
                self.ema.update(self.model, self.step)
        return value

    def validate(self) -> dict[str, float]:
        """Metrics of the EMA weights (when enabled) on the validation split."""
        if self.val_loader is None or not self.metrics:
            return {}
        model = self.ema.module if self.ema is not None else self.model
        if self.dist.distributed:
            # BN statistics are per rank; evaluate every shard with rank 0's (those saved)
            import torch.distributed as tdist

            for buffer in model.buffers():
                tdist.broadcast(buffer, src=0)
        return evaluate(model, self.val_loader, self.metrics, self.device, gather=dist.sync_metric)

    def run(self) -> TrainResult:
        """Train for the remaining epochs; returns where everything is."""
        from posecli.engine.curves import draw_curves
        from posecli.engine.progress import TrainProgress

        cfg = self.cfg
        start = time.perf_counter()
        metric_name = cfg.save_best or _default_best(self.recipe)
        rule = best_rule(metric_name, cfg.save_best_rule) if metric_name else "greater"
        stopped_early = False
        self.optimizer.zero_grad(set_to_none=True)
        log.info(
            "training %s for %d epochs on %s (%d iterations per epoch, world size %d) in %s",
            self.recipe.name,
            cfg.epochs,
            self.device,
            self.iters_per_epoch,
            self.dist.world_size,
            self.work_dir,
        )
        if self.malloc_tuned:
            log.info(
                "malloc: freed memory stays in the process (POSECLI_MALLOC_TUNING=0 turns off)"
            )
        with TrainProgress(cfg.epochs, self.iters_per_epoch, enabled=self.progress) as bar:
            while self.epoch < cfg.epochs:
                epoch = self.epoch
                self._pipeline_for(epoch)
                self.model.train()
                bar.start_epoch(epoch + 1)
                tick, images, loss_sum, loss_n = time.perf_counter(), 0, 0.0, 0
                for micro, batch in enumerate(self._batches(epoch)):
                    batch = to_device(batch, self.device)
                    if self.recipe.model.channels_last:
                        batch["inputs"] = batch["inputs"].contiguous(
                            memory_format=torch.channels_last
                        )
                    value = self._train_step(batch, micro)
                    if not math.isfinite(value):
                        raise TrainingDiverged(
                            f"loss became {value} at epoch {epoch + 1}, iteration {micro + 1}; "
                            f"stopped. Last good checkpoint: {self.work_dir / 'last.pt'}"
                            if (self.work_dir / "last.pt").exists()
                            else f"loss became {value} at epoch {epoch + 1}, iteration "
                            f"{micro + 1}; stopped before any checkpoint was written"
                        )
                    images += int(batch["inputs"].shape[0]) * self.dist.world_size
                    loss_sum, loss_n = loss_sum + value, loss_n + 1
                    lr = self.optimizer.param_groups[0]["lr"]
                    speed = images / max(time.perf_counter() - tick, 1e-9)
                    bar.advance(loss=value, lr=lr, speed=speed)
                    if self.metrics_log is not None and (micro + 1) % cfg.log_interval == 0:
                        self.metrics_log.write(
                            {
                                "type": "train",
                                "epoch": epoch + 1,
                                "iter": micro + 1,
                                "step": self.step,
                                "loss": value,
                                "lr": lr,
                                "images_per_s": speed,
                            }
                        )
                self.epoch = epoch + 1
                record: dict[str, Any] = {
                    "type": "epoch",
                    "epoch": self.epoch,
                    "step": self.step,
                    "loss": loss_sum / max(loss_n, 1),
                    "seconds": time.perf_counter() - tick,
                    "images_per_s": images / max(time.perf_counter() - tick, 1e-9),
                }
                skipped = getattr(getattr(self.train_loader, "dataset", None), "skipped", 0)
                if skipped:
                    record["skipped_samples"] = skipped
                log.info(
                    "epoch %d/%d  loss %.5f  %.1f img/s%s",
                    self.epoch,
                    cfg.epochs,
                    record["loss"],
                    record["images_per_s"],
                    f"  ({skipped} bad samples skipped so far)" if skipped else "",
                )
                if self.metrics_log is not None:
                    self.metrics_log.write(record)
                improved = False
                if self.epoch % cfg.val_interval == 0 or self.epoch == cfg.epochs:
                    values = self.validate()
                    if values:
                        self.last_metrics = values
                        if self.metrics_log is not None:
                            self.metrics_log.write(
                                {"type": "val", "epoch": self.epoch, "step": self.step, **values}
                            )
                        log.info(
                            "epoch %d validation: %s",
                            self.epoch,
                            "  ".join(f"{k} {v:.4f}" for k, v in values.items()),
                        )
                        bar.note(values)
                        if metric_name:
                            if metric_name not in values:
                                raise PoseCliError(
                                    f"train.save_best = {metric_name!r} is not a computed metric "
                                    f"(have: {', '.join(values)})"
                                )
                            es = cfg.early_stopping
                            delta = es.min_delta if es is not None else 0.0
                            if _is_better(values[metric_name], self.best_value, rule, delta):
                                self.best_value, self.best_epoch = values[metric_name], self.epoch
                                self.bad_validations = 0
                                improved = True
                            else:
                                self.bad_validations += 1
                self._save("last.pt")
                if improved:
                    self._save_best()
                if self.is_main:
                    draw_curves(self.work_dir / "metrics.jsonl", self.work_dir / "curves.png")
                es = cfg.early_stopping
                if es is not None and self.bad_validations >= es.patience:
                    log.info(
                        "early stopping: %s did not improve for %d validations (best %.4f at "
                        "epoch %s)",
                        metric_name,
                        self.bad_validations,
                        self.best_value,
                        self.best_epoch,
                    )
                    stopped_early = True
                    break
        if self.dist.distributed:
            self._check_ranks_in_sync()
        dist.barrier()
        best = self.work_dir / "best.pt"
        return TrainResult(
            work_dir=self.work_dir,
            last_checkpoint=self.work_dir / "last.pt",
            best_checkpoint=best if best.exists() else None,
            best_metric=metric_name,
            best_value=self.best_value,
            epochs_run=self.epoch,
            metrics=self.last_metrics,
            seconds=time.perf_counter() - start,
            stopped_early=stopped_early,
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
        if self.is_main and getattr(self, "_log_handler", None) is not None:
            logging.getLogger("posecli").removeHandler(self._log_handler)
            self._log_handler.close()
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
    trainer = Trainer(recipe, **kwargs)
    try:
        return trainer.run()
    finally:
        trainer.close()
