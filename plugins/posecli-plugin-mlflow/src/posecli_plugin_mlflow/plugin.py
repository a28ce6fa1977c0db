"""The module named by the ``posecli`` entry point: registers the ``mlflow`` callback."""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_callbacks(register: Any) -> None:
    register(
        "mlflow",
        "posecli_plugin_mlflow.callback:MLflowCallback",
        aliases=("MLflowVisBackend",),
        help="MLflow run: recipe params, losses and metrics by step, the run directory as artifacts",
    )
