"""Which callbacks a run gets: the built-ins its recipe implies, then ``[[train.callbacks]]``.

Every callback, built-in or not, is built through the ``callbacks`` registry. The built-ins are
configured by their own recipe keys (``train.ema``, ``train.pipeline_switch``,
``train.early_stopping``...), so naming one in ``train.callbacks`` is an error saying where it
is set.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from posecli.engine.callbacks import BUILTIN_ORDER, build_callback
from posecli.errors import BuildError

if TYPE_CHECKING:
    from posecli.engine.trainer import Trainer

__all__ = ["BUILTIN_SETTINGS", "builtin_tables", "recipe_callbacks"]

#: Built-in callback → where a recipe (or the command line) configures it.
BUILTIN_SETTINGS: dict[str, str] = {
    "pipeline_switch": "train.pipeline_switch",
    "ema": "train.ema",
    "progress": "posecli -q (on unless quiet)",
    "metrics_log": "train.log_interval (always on)",
    "curves": "always on",
    "early_stopping": "train.early_stopping",
    "checkpoint": "train.save_best (always on)",
}


def builtin_tables(trainer: Trainer) -> list[dict[str, Any]]:
    """The built-in callback tables ``{name, **arguments}`` the trainer's recipe implies."""
    cfg = trainer.cfg
    tables: dict[str, dict[str, Any]] = {}
    if cfg.pipeline_switch is not None:
        tables["pipeline_switch"] = {
            "epoch": cfg.pipeline_switch.epoch,
            "pipeline": [t.as_dict() for t in cfg.pipeline_switch.pipeline],
        }
    if cfg.ema is not None and cfg.ema.enabled:
        tables["ema"] = cfg.ema.model_dump(exclude={"enabled"})
    if trainer.progress:
        tables["progress"] = {}
    tables["metrics_log"] = {"log_interval": cfg.log_interval}
    es = cfg.early_stopping
    tables["checkpoint"] = {"min_delta": es.min_delta if es is not None else 0.0}
    tables["curves"] = {}
    if es is not None:
        tables["early_stopping"] = {"patience": es.patience}
    return [{"name": name, **tables[name]} for name in BUILTIN_ORDER if name in tables]


def recipe_callbacks(trainer: Trainer, extra: Sequence[Any] = ()) -> list[Any]:
    """The built-ins (in :data:`BUILTIN_ORDER`), then the recipe's ``train.callbacks`` and
    ``extra`` (objects), then the last built-in, ``checkpoint`` (so ``last.pt`` holds every
    callback's end-of-epoch state)."""
    builtins = [build_callback(t, path=f"callbacks.{t['name']}") for t in builtin_tables(trainer)]
    callbacks = [cb for cb in builtins if cb.name != "checkpoint"]
    for i, table in enumerate(trainer.cfg.callbacks):
        path = f"train.callbacks.{i}"
        callback = build_callback(table.as_dict(), path=path)
        if callback.name in BUILTIN_SETTINGS:
            raise BuildError(
                f"{path}: {callback.name!r} is a built-in callback, set by "
                f"{BUILTIN_SETTINGS[callback.name]}"
            )
        callbacks.append(callback)
    return [*callbacks, *extra, *(cb for cb in builtins if cb.name == "checkpoint")]
