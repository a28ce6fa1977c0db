"""The plugin module named by the ``posecli`` entry point.

Each ``@hookimpl`` function receives a ``register`` callback (or the Typer app for commands).
Factories are lazy ``"module:attr"`` strings so ``posecli list`` stays fast.
"""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_codecs(register: Any) -> None:
    register(
        "softargmax_heatmap",
        "posecli_plugin_example.codec:SoftArgmaxHeatmap",
        aliases=("SoftArgmaxHeatmap",),
        help="Gaussian heatmaps decoded by a soft-argmax (expected position).",
    )


@hookimpl
def posecli_register_backbones(register: Any) -> None:
    register(
        "tiny_convnet",
        "posecli_plugin_example.backbone:TinyConvNet",
        help="Four conv-BN-ReLU stages (strides 4-32): a fast backbone for tests and demos.",
    )


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli_plugin_example.command import softargmax_check

    app.command("softargmax-check", rich_help_panel="Plugins")(softargmax_check)
