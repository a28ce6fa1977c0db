"""Per-iteration learning-rate schedules composed from the recipe's ``train.schedule`` list.

Phases run one after another; each starts where the previous one ended, from the learning
rate reached there. RTMPose's recipe reads::

    schedule = [
      {name = "linear_warmup", iters = 1000, start_factor = 1e-5},
      {name = "flat", end_epoch = 210},
      {name = "cosine", end_epoch = 420, eta_min = 2e-4},
    ]

Phase kinds and their arguments (a phase ends at ``end_epoch`` / ``end_iter`` (absolute) or
after ``epochs`` / ``iters``; without an end it lasts to the end of training):

``linear_warmup`` (MMPose ``LinearLR``)
    ``start_factor`` (1e-3), ``end_factor`` (1.0): ``lr = lr0·(s + (e - s)·τ)``, τ from 0 to 1.
``quadratic_warmup`` (``QuadraticWarmupLR``)
    ``lr = lr0·((t - start + 1)/span)²``: from ``lr0/span²`` at the first iteration to ``lr0``.
``flat`` (``ConstantLR``)
    ``factor`` (1.0): the rate is ``lr0·factor`` for the phase and the next phase starts from
    there (RTMO's one-epoch ``ConstantLR`` with factor 2.5 lifts its second cosine cycle).
``cosine`` (``CosineAnnealingLR``)
    ``eta_min`` (absolute, default 0) or ``eta_min_ratio`` (of the phase's starting rate):
    ``lr = η + (lr0 - η)·(1 + cos(π·τ))/2``; ``t_max_epochs`` sets the period (MMEngine's
    ``T_max``) when it is not the phase's length, ``τ = (t - start) / (t_max_epochs · ipe)``.
``step`` (``MultiStepLR``)
    ``milestones`` (absolute epochs), ``gamma`` (0.1): ×gamma at each milestone reached.
``exponential`` (``ExponentialLR``)
    ``gamma`` per epoch since the phase began (whole epochs).
``poly`` (``PolyLR``)
    ``power`` (1.0), ``eta_min`` (0): ``lr = η + (lr0 - η)·(1 - τ)^power``.

Iteration ``t`` (0-based) is the ``t``-th optimiser step: the rate it uses is ``lr_at(t)``;
``step()`` is called after each optimiser step. Epochs become iterations with
``iters_per_epoch`` (optimiser steps per epoch).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from posecli.errors import BuildError, CheckpointError

log = logging.getLogger(__name__)

__all__ = ["PHASES", "LRScheduler", "Phase", "build_scheduler", "compile_phases"]

_PHASE_ARGS: dict[str, set[str]] = {
    "linear_warmup": {"start_factor", "end_factor"},
    "quadratic_warmup": set(),
    "flat": {"factor"},
    "cosine": {"eta_min", "eta_min_ratio", "t_max_epochs"},
    "step": {"milestones", "gamma"},
    "exponential": {"gamma"},
    "poly": {"power", "eta_min"},
}
_END_ARGS = {"end_epoch", "end_iter", "epochs", "iters"}
_ALIASES = {
    "linearlr": "linear_warmup",
    "quadraticwarmuplr": "quadratic_warmup",
    "warmup": "linear_warmup",
    "constant": "flat",
    "cosineannealinglr": "cosine",
    "cosine_annealing": "cosine",
    "multisteplr": "step",
    "multistep": "step",
    "exponentiallr": "exponential",
    "polylr": "poly",
}
#: Phase kinds understood by :func:`compile_phases`.
PHASES = tuple(_PHASE_ARGS)


@dataclass(frozen=True)
class Phase:
    """One compiled phase over iterations ``[start, end)``."""

    kind: str
    start: int
    end: int
    args: dict[str, Any] = field(default_factory=dict)

    def lr(self, t: int, lr0: float, iters_per_epoch: int) -> float:
        """Learning rate at iteration ``t`` (clamped to the phase) given the phase's start ``lr0``."""
        t = min(max(t, self.start), self.end)
        span = max(self.end - self.start, 1)
        tau = (t - self.start) / span
        a = self.args
        if self.kind == "linear_warmup":
            s, e = a.get("start_factor", 1e-3), a.get("end_factor", 1.0)
            return lr0 * (s + (e - s) * tau)
        if self.kind == "quadratic_warmup":
            return lr0 * (min(t - self.start + 1, span) / span) ** 2
        if self.kind == "cosine":
            eta = a["eta_min"] if "eta_min" in a else lr0 * a.get("eta_min_ratio", 0.0)
            if "t_max_epochs" in a:
                tau = (t - self.start) / max(float(a["t_max_epochs"]) * iters_per_epoch, 1.0)
            return eta + (lr0 - eta) * (1 + math.cos(math.pi * tau)) / 2
        if self.kind == "step":
            reached = sum(
                1 for m in a.get("milestones", ()) if self.start <= m * iters_per_epoch <= t
            )
            return lr0 * a.get("gamma", 0.1) ** reached
        if self.kind == "exponential":
            return lr0 * a["gamma"] ** ((t - self.start) // iters_per_epoch)
        if self.kind == "poly":
            eta = a.get("eta_min", 0.0)
            return eta + (lr0 - eta) * (1 - tau) ** a.get("power", 1.0)
        return lr0 * float(a.get("factor", 1.0))  # flat


def compile_phases(
    tables: Iterable[Mapping[str, Any] | Any],
    iters_per_epoch: int,
    total_iters: int | None = None,
) -> list[Phase]:
    """Turn schedule tables into consecutive :class:`Phase` objects.

    Args:
        tables: Recipe tables (dicts or ``Component`` objects) in order.
        iters_per_epoch: Optimiser steps per epoch (≥ 1).
        total_iters: Length of training; the end of an open-ended phase.

    Raises:
        BuildError: Unknown kind or argument, a phase that ends before it starts, or an
            open-ended phase before another phase.
    """
    if iters_per_epoch < 1:
        raise BuildError("train.schedule: iters_per_epoch must be at least 1")
    items = [t.as_dict() if hasattr(t, "as_dict") else dict(t) for t in tables]
    phases: list[Phase] = []
    cursor = 0
    for i, item in enumerate(items):
        path = f"train.schedule[{i}]"
        raw = str(item.pop("name", ""))
        kind = _ALIASES.get(raw.lower(), raw.lower())
        if kind not in _PHASE_ARGS:
            raise BuildError(f"{path}: unknown schedule {raw!r} (one of {', '.join(PHASES)})")
        unknown = set(item) - _PHASE_ARGS[kind] - _END_ARGS
        if unknown:
            allowed = ", ".join(sorted(_PHASE_ARGS[kind] | _END_ARGS))
            raise BuildError(
                f"{path}.{sorted(unknown)[0]}: unknown argument of {kind!r} ({allowed})"
            )
        if kind == "exponential" and "gamma" not in item:
            raise BuildError(f"{path}: missing argument 'gamma' of 'exponential'")
        open_end = not _END_ARGS & set(item)
        if open_end and i != len(items) - 1:
            raise BuildError(f"{path}: only the last phase may leave its end open")
        if (
            open_end
            and total_iters is None
            and kind
            in (
                "cosine",
                "poly",
                "linear_warmup",
                "quadratic_warmup",
            )
        ):
            raise BuildError(f"{path}: {kind!r} needs an end (end_epoch, epochs, iters...)")
        end = _phase_end(item, cursor, iters_per_epoch, None)
        if end is None:  # open-ended: to the end of training (or forever)
            end = max(cursor, total_iters if total_iters is not None else 2**62)
        if end < cursor:
            if total_iters is None or cursor < total_iters:
                raise BuildError(f"{path}: ends at iteration {end}, before it starts ({cursor})")
            end = cursor  # starts after the run's end: dropped by _clip_phases
        args = {k: v for k, v in item.items() if k not in _END_ARGS}
        if "milestones" in args:
            args["milestones"] = tuple(float(m) for m in args["milestones"])
        phases.append(Phase(kind, cursor, end, args))
        cursor = end
    if total_iters is not None:
        phases = _clip_phases(phases, total_iters)
    return phases


def _clip_phases(phases: list[Phase], total: int) -> list[Phase]:
    """Phases cut at the run's last iteration ``total``, with one warning line if any was.

    A shortened run (``--set train.epochs=1``) keeps the schedule's beginning: phases ending
    later end at ``total``; phases starting at or after it are dropped.
    """
    kept = [p for i, p in enumerate(phases) if p.start < total or i == 0]
    clipped = [
        Phase(p.kind, min(p.start, total), min(p.end, total), p.args) if p.end > total else p
        for p in kept
    ]
    changed = [
        f"[{i}] {p.kind} ends at {total} instead of {p.end}"
        for i, p in enumerate(kept)
        if p.end > total and p.end < 2**62
    ] + [f"[{i}] {p.kind} dropped" for i, p in enumerate(phases) if p not in kept]
    if changed:
        log.warning(
            "train.schedule: clipped to the run's %d iterations: %s", total, "; ".join(changed)
        )
    return clipped


def _phase_end(item: Mapping[str, Any], cursor: int, ipe: int, total: int | None) -> int | None:
    if "end_iter" in item:
        return int(item["end_iter"])
    if "end_epoch" in item:
        return round(float(item["end_epoch"]) * ipe)
    if "iters" in item:
        return cursor + int(item["iters"])
    if "epochs" in item:
        return cursor + round(float(item["epochs"]) * ipe)
    return total


class LRScheduler:
    """Sets every parameter group's ``lr`` from the compiled phases, one call per iteration.

    Args:
        optimizer: Its groups' ``initial_lr`` (else current ``lr``) are the base rates.
        phases: From :func:`compile_phases`; empty means a constant rate.
        iters_per_epoch: Optimiser steps per epoch.
    """

    def __init__(
        self, optimizer: torch.optim.Optimizer, phases: Sequence[Phase], iters_per_epoch: int
    ) -> None:
        self.optimizer = optimizer
        self.phases = list(phases)
        self.iters_per_epoch = int(iters_per_epoch)
        self.base_lrs = [float(g.get("initial_lr", g["lr"])) for g in optimizer.param_groups]
        self.last_iter = 0
        self._apply()

    def lr_at(self, t: int, base_lr: float | None = None) -> float:
        """Learning rate at iteration ``t`` for a base rate (default: the first group's)."""
        lr = self.base_lrs[0] if base_lr is None else float(base_lr)
        for phase in self.phases:
            if t < phase.end:
                return phase.lr(t, lr, self.iters_per_epoch)
            lr = phase.lr(phase.end, lr, self.iters_per_epoch)
        return lr

    def get_last_lr(self) -> list[float]:
        """Current learning rate of each group."""
        return [float(g["lr"]) for g in self.optimizer.param_groups]

    def step(self) -> None:
        """Advance one iteration (call after ``optimizer.step()``)."""
        self.last_iter += 1
        self._apply()

    def _apply(self) -> None:
        for group, base in zip(self.optimizer.param_groups, self.base_lrs, strict=True):
            group["lr"] = self.lr_at(self.last_iter, base)

    def state_dict(self) -> dict[str, Any]:
        """``{"last_iter", "base_lrs", "iters_per_epoch", "phases"}`` (plain data)."""
        return {
            "last_iter": self.last_iter,
            "base_lrs": list(self.base_lrs),
            "iters_per_epoch": self.iters_per_epoch,
            "phases": [[p.kind, p.start, p.end] for p in self.phases],
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the position; the phase layout must match the saved one."""
        saved = [list(p) for p in state.get("phases", [])]
        mine = [[p.kind, p.start, p.end] for p in self.phases]
        if (
            saved != mine
            or int(state.get("iters_per_epoch", self.iters_per_epoch)) != self.iters_per_epoch
        ):
            raise CheckpointError(
                "the learning-rate schedule differs from the checkpoint's "
                f"(saved phases {saved}, now {mine}); resume with the same recipe and batch size"
            )
        self.base_lrs = [float(x) for x in state["base_lrs"]]
        self.last_iter = int(state["last_iter"])
        self._apply()


def build_scheduler(
    optimizer: torch.optim.Optimizer,
    tables: Iterable[Mapping[str, Any] | Any],
    iters_per_epoch: int,
    max_epochs: int | None = None,
) -> LRScheduler:
    """Compile ``tables`` and attach them to ``optimizer`` (the rate for iteration 0 is set).

    ``max_epochs`` (training length) ends an open-ended last phase.
    """
    total = None if max_epochs is None else int(max_epochs) * int(iters_per_epoch)
    return LRScheduler(optimizer, compile_phases(tables, iters_per_epoch, total), iters_per_epoch)
