"""Training callbacks: the trainer's extension point (a plugin kind, ``posecli list callbacks``).

A callback is an object with any of these methods; the trainer calls them in this order::

    setup(trainer)                         once, after the model, optimiser and loaders are built
                                           and before a resumed checkpoint is loaded
    on_train_start(trainer)                once, before the first remaining epoch
      on_epoch_start(trainer)              ``trainer.epoch`` = epochs finished so far (0-based)
        on_step_end(trainer, step)         after every micro-batch (:class:`StepInfo`)
      on_train_epoch_end(trainer, record)  the epoch's training summary (``type = "epoch"``)
      on_validation_end(trainer, validation)   when validated (:class:`Validation`)
      on_epoch_end(trainer)                the epoch is complete; the ``checkpoint`` callback,
                                           last of all, writes ``last.pt`` (and ``best.pt``)
      on_checkpoint(trainer, path, kind)   after ``last.pt`` (``kind="last"``) or ``best.pt``
    on_train_end(trainer, result)          the :class:`~posecli.engine.trainer.TrainResult`
    on_exception(trainer, exc)             instead of ``on_train_end`` when the run fails

Callbacks run on every rank under DDP; those writing files check ``trainer.is_main``. A callback
with state to resume returns it from ``state_dict()`` (saved in ``last.pt``) and gets it back
through ``load_state_dict(state)``. Built-in callbacks come first (in :data:`BUILTIN_ORDER`),
then the recipe's ``[[train.callbacks]]`` in their order, then ``checkpoint``.

An exception other than a :class:`~posecli.errors.PoseCliError` raised by a callback stops the
run with a one-line :class:`CallbackError` naming the callback, the event and where the last
good checkpoint is; checkpoints already written are kept.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from posecli.errors import BuildError, PoseCliError, UnknownNameError

if TYPE_CHECKING:
    from posecli.engine.trainer import Trainer

__all__ = [
    "BUILTIN_ORDER",
    "EVENTS",
    "Callback",
    "CallbackError",
    "CallbackList",
    "StepInfo",
    "Validation",
    "build_callback",
]

log = logging.getLogger("posecli.train")

#: Every event, in the order a run calls them.
EVENTS: tuple[str, ...] = (
    "on_train_start",
    "on_epoch_start",
    "on_train_batch",
    "on_step_end",
    "on_train_epoch_end",
    "on_validation_end",
    "on_epoch_end",
    "on_checkpoint",
    "on_train_end",
    "on_exception",
)

#: Built-in callbacks in the order they run; the recipe's callbacks run after these and before
#: ``checkpoint``, which runs last so that ``last.pt`` holds every callback's end-of-epoch state.
BUILTIN_ORDER: tuple[str, ...] = (
    "pipeline_switch",
    "ema",
    "progress",
    "metrics_log",
    "curves",
    "early_stopping",
    "checkpoint",
)


class CallbackError(PoseCliError):
    """A callback raised: the run stopped (the message names the callback and the event)."""


@dataclasses.dataclass
class StepInfo:
    """One training micro-batch: ``epoch`` and ``iter`` are 1-based, ``step`` counts optimiser
    steps so far, ``stepped`` says whether this micro-batch ended an optimiser step."""

    epoch: int
    iter: int
    step: int
    loss: float
    lr: float
    images_per_s: float
    stepped: bool


@dataclasses.dataclass
class Validation:
    """One validation pass of the evaluated weights (EMA when enabled).

    Attributes:
        epoch: Epochs finished when validated.
        values: Metric name → value (``PCK``, ``EPE``...).
        keypoints: Predictions ``(N, K, 2)`` in image pixels (this rank's instances).
        scores: ``(N, K)``.
        gt_keypoints: Ground truth ``(N, K, 2)`` in image pixels.
        visible: ``(N, K)`` float32, > 0 where the ground truth is labelled.
        crops: Up to ``n`` model inputs of the first batch, BGR uint8 ``(n, H, W, 3)``.
        crop_keypoints: Their predictions in input pixels ``(n, K, 2)``.
        crop_scores: ``(n, K)``.
    """

    epoch: int
    values: dict[str, float]
    keypoints: np.ndarray
    scores: np.ndarray
    gt_keypoints: np.ndarray
    visible: np.ndarray
    crops: np.ndarray
    crop_keypoints: np.ndarray
    crop_scores: np.ndarray

    def keypoint_errors(self) -> np.ndarray:
        """Mean pixel error per keypoint ``(K,)`` over labelled instances (NaN: none labelled)."""
        mask = self.visible > 0
        dist = np.linalg.norm(self.keypoints - self.gt_keypoints, axis=-1)
        count = mask.sum(axis=0)
        total = np.where(mask, dist, 0.0).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(count > 0, total / np.maximum(count, 1), np.nan)


class Callback:
    """Base class with every event a no-op (subclassing it is optional)."""

    #: The registered name (set by :func:`build_callback`); used in error messages.
    name: str = ""

    def setup(self, trainer: Trainer) -> None:
        """Called once after the trainer is built, before a resumed checkpoint loads."""

    def on_train_start(self, trainer: Trainer) -> None: ...
    def on_epoch_start(self, trainer: Trainer) -> None: ...
    def on_train_batch(self, trainer: Trainer, batch: dict[str, Any]) -> None:
        """Each training batch, on the device, before its forward pass; may change it in
        place (batch augmentations such as ``batch_sync_random_resize``)."""

    def on_step_end(self, trainer: Trainer, step: StepInfo) -> None: ...
    def on_train_epoch_end(self, trainer: Trainer, record: dict[str, Any]) -> None: ...
    def on_validation_end(self, trainer: Trainer, validation: Validation) -> None: ...
    def on_epoch_end(self, trainer: Trainer) -> None: ...
    def on_checkpoint(self, trainer: Trainer, path: Path, kind: str) -> None: ...
    def on_train_end(self, trainer: Trainer, result: Any) -> None: ...
    def on_exception(self, trainer: Trainer, exc: BaseException) -> None: ...

    def state_dict(self) -> dict[str, Any]:
        """State to keep in ``last.pt`` for an exact resume (``{}``: none)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


class CallbackList:
    """The run's callbacks; :meth:`fire` calls one event on each, in order."""

    def __init__(self, callbacks: Iterable[Any], *, checkpoint_note: Any = None) -> None:
        self.callbacks = list(callbacks)
        self._note = checkpoint_note or (lambda: "")

    def __iter__(self) -> Any:
        return iter(self.callbacks)

    def names(self) -> list[str]:
        return [_name(cb) for cb in self.callbacks]

    def get(self, name: str) -> Any:
        """The first callback called ``name`` (``None`` if absent)."""
        return next((cb for cb in self.callbacks if _name(cb) == name), None)

    def fire(self, event: str, trainer: Trainer, *args: Any) -> None:
        """Call ``event`` on every callback having it; a failure becomes a :class:`CallbackError`."""
        for cb in self.callbacks:
            method = getattr(cb, event, None)
            if method is None:
                continue
            try:
                method(trainer, *args)
            except PoseCliError:
                raise
            except Exception as exc:
                raise CallbackError(
                    f"callback {_name(cb)!r} failed in {event}: {_one_line(exc)}; "
                    f"stopped. {self._note()}"
                ) from exc

    def fire_exception(self, trainer: Trainer, exc: BaseException) -> None:
        """``on_exception`` on every callback; their own failures are logged, not raised."""
        for cb in self.callbacks:
            method = getattr(cb, "on_exception", None)
            if method is None:
                continue
            try:
                method(trainer, exc)
            except Exception as inner:  # the run is failing already: report the first error
                log.warning("callback %r failed in on_exception: %s", _name(cb), _one_line(inner))

    def state_dict(self) -> dict[str, dict[str, Any]]:
        """Non-empty callback states by name (what ``last.pt`` keeps under ``callbacks``)."""
        states: dict[str, dict[str, Any]] = {}
        for cb in self.callbacks:
            state = cb.state_dict() if hasattr(cb, "state_dict") else {}
            if state:
                states[_name(cb)] = dict(state)
        return states

    def load_state_dict(self, states: Mapping[str, Mapping[str, Any]]) -> None:
        for cb in self.callbacks:
            state = states.get(_name(cb))
            if state and hasattr(cb, "load_state_dict"):
                cb.load_state_dict(state)


def _name(cb: Any) -> str:
    return str(getattr(cb, "name", "") or type(cb).__name__)


def build_callback(table: Mapping[str, Any], *, path: str = "train.callbacks") -> Any:
    """Build one callback from ``{name = ..., **arguments}`` through the ``callbacks`` registry.

    Raises:
        BuildError: Unknown name (with close matches) or bad arguments, naming ``path``.
    """
    from posecli.plugins import registry
    from posecli.registry import check_kwargs

    if "name" not in table:
        raise BuildError(f"{path}: missing key 'name' (see posecli list callbacks)")
    try:
        entry = registry("callbacks").get(str(table["name"]))
    except UnknownNameError as exc:
        raise BuildError(f"{path}.name: {exc}") from None
    kwargs = {k: v for k, v in table.items() if k != "name"}
    check_kwargs(entry.factory, kwargs, path=path, what=f"callback {entry.name!r}")
    try:
        callback = entry.factory(**kwargs)
    except (TypeError, ValueError) as exc:
        raise BuildError(f"{path}: {exc}") from exc
    unknown = [
        m
        for m in dir(callback)
        if m.startswith("on_") and m not in EVENTS and callable(getattr(callback, m))
    ]
    if unknown:
        raise BuildError(
            f"{path}: callback {entry.name!r} has {unknown[0]}, which is not an event "
            f"(events: {', '.join(EVENTS)})"
        )
    with contextlib.suppress(AttributeError):  # slots or a frozen object: keep its own name
        callback.name = entry.name
    return callback
