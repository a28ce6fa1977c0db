"""The module named by the ``posecli`` entry point: registers the ``tensorboard`` callback."""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_callbacks(register: Any) -> None:
    register(
        "tensorboard",
        "posecli_plugin_tensorboard.callback:TensorBoardCallback",
        aliases=("TensorboardVisBackend",),
        help="TensorBoard events: losses, lr, metrics, per-keypoint errors, predicted poses, recipe",
    )
