"""Exponential moving average of a model's weights (and buffers), MMPose/MMEngine style.

Update rule, with ``steps`` counting the calls to :meth:`ModelEMA.update` before this one:

* ``steps == 0``: the average is a copy of the model;
* otherwise ``avg ← avg + m_t·(θ - avg)`` with ``m_t = momentum`` or, with the exponential
  warm-up (``ExpMomentumEMA``), ``m_t = (1 - momentum)·exp(-(1 + t)/warmup_iters) + momentum``
  at ``t = steps`` — the weight of the new model starts near 1 and decays to ``momentum``.

With ``update_buffers`` every floating-point entry of the state dict is averaged (integer
buffers such as ``num_batches_tracked`` are copied); otherwise only parameters are averaged and
buffers follow the model.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch
from torch import nn

from posecli.errors import CheckpointError

__all__ = ["ModelEMA", "build_ema", "unwrap"]


def unwrap(model: nn.Module) -> nn.Module:
    """The module inside a ``DistributedDataParallel``/``DataParallel`` wrapper (or itself)."""
    return (
        model.module
        if isinstance(model, nn.parallel.DistributedDataParallel | nn.DataParallel)
        else model
    )


class ModelEMA:
    """Averaged copy of a model, kept in :attr:`module` (evaluate it directly, or swap it in).

    Args:
        model: Source model (a DDP wrapper is unwrapped); deep-copied into :attr:`module`.
        momentum: Weight of the current model in each update once warmed up (0.0002).
        warmup: Use MMPose's exponential momentum warm-up.
        warmup_iters: Its time constant ``gamma`` (2000).
        update_buffers: Average buffers too (BatchNorm statistics).
        interval: Average every ``interval`` updates.
    """

    def __init__(
        self,
        model: nn.Module,
        momentum: float = 0.0002,
        warmup: bool = True,
        warmup_iters: int = 2000,
        update_buffers: bool = True,
        interval: int = 1,
    ) -> None:
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"EMA momentum must be in (0, 1), got {momentum}")
        self.momentum = float(momentum)
        self.warmup = bool(warmup)
        self.warmup_iters = int(warmup_iters)
        self.update_buffers = bool(update_buffers)
        self.interval = max(1, int(interval))
        self.steps = 0
        self.module: nn.Module = copy.deepcopy(unwrap(model))
        self.module.requires_grad_(False)
        #: The averaged tensors (views into :attr:`module`'s state).
        self.shadow: dict[str, torch.Tensor] = self._source(self.module)

    def _source(self, model: nn.Module) -> dict[str, torch.Tensor]:
        if self.update_buffers:
            return dict(model.state_dict())
        return {k: p.data for k, p in model.named_parameters()}

    def momentum_at(self, t: int) -> float:
        """Weight ``m_t`` of the current model at update number ``t`` (``t ≥ 1``)."""
        if not self.warmup:
            return self.momentum
        return (1.0 - self.momentum) * math.exp(-(1.0 + t) / self.warmup_iters) + self.momentum

    @torch.no_grad()
    def update(self, model: nn.Module, step: int | None = None) -> None:
        """Fold the model's current tensors into the average (call after each optimiser step).

        ``step`` is accepted for the trainer's convenience and ignored: the momentum follows the
        number of updates so far (:attr:`steps`, restored by :meth:`load_state_dict`).
        """
        source = unwrap(model)
        src = self._source(source)
        if self.steps == 0:
            for k, avg in self.shadow.items():
                avg.copy_(src[k])
        elif self.steps % self.interval == 0:
            m = self.momentum_at(self.steps)
            for k, avg in self.shadow.items():
                value = src[k].to(avg.device)
                if avg.is_floating_point():
                    avg.lerp_(value.to(avg.dtype), m)
                else:
                    avg.copy_(value)
        if not self.update_buffers:
            for b_avg, b_src in zip(self.module.buffers(), source.buffers(), strict=True):
                b_avg.copy_(b_src.to(b_avg.device))
        self.steps += 1

    @torch.no_grad()
    def copy_to(self, model: nn.Module) -> None:
        """Write the averaged tensors into ``model``."""
        target = dict(unwrap(model).state_dict())
        for k, avg in self.shadow.items():
            target[k].copy_(avg)

    def model_state_dict(self) -> dict[str, torch.Tensor]:
        """A copy of the averaged model's state dict (for ``best.pt``)."""
        return {k: v.detach().clone() for k, v in self.module.state_dict().items()}

    @contextmanager
    def swapped(self, model: nn.Module) -> Iterator[nn.Module]:
        """Evaluate with the averaged weights inside the block; the model's come back after."""
        inner = unwrap(model)
        target = dict(inner.state_dict())
        backup = {k: target[k].detach().clone() for k in self.shadow}
        self.copy_to(inner)
        try:
            yield model
        finally:
            with torch.no_grad():
                for k, value in backup.items():
                    target[k].copy_(value)

    def state_dict(self) -> dict[str, Any]:
        """MMEngine's layout: ``{"steps": tensor, "module.<name>": tensor, ...}``."""
        state: dict[str, Any] = {"steps": torch.tensor(self.steps, dtype=torch.int64)}
        state.update(
            {f"module.{k}": v.detach().clone() for k, v in self.module.state_dict().items()}
        )
        return state

    @torch.no_grad()
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore from :meth:`state_dict` (keys must match the model's)."""
        mine = dict(self.module.state_dict())
        names = {k[len("module.") :] for k in state if k.startswith("module.")}
        if names != set(mine):
            missing = sorted(set(mine) - names)[:3]
            extra = sorted(names - set(mine))[:3]
            raise CheckpointError(
                f"EMA state does not match the model (missing {missing}, unexpected {extra})"
            )
        for k, value in mine.items():
            value.copy_(state[f"module.{k}"])
        self.steps = int(state.get("steps", 0))


def build_ema(model: nn.Module, config: Any) -> ModelEMA | None:
    """A :class:`ModelEMA` from the recipe's ``train.ema`` (an ``EMAConfig`` or dict), or None."""
    if config is None:
        return None
    get = config.get if isinstance(config, Mapping) else lambda k, d=None: getattr(config, k, d)
    if not get("enabled", True):
        return None
    return ModelEMA(
        model,
        momentum=float(get("momentum", 0.0002)),
        warmup=bool(get("warmup", True)),
        warmup_iters=int(get("warmup_iters", 2000)),
        update_buffers=bool(get("update_buffers", True)),
    )
