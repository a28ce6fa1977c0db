"""Built-in training and evaluation commands: ``posecli train`` and ``posecli eval``."""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli.cli.app import PANEL_TRAINING
    from posecli.cli.eval import eval_command
    from posecli.cli.train import train_command

    app.command("train", rich_help_panel=PANEL_TRAINING)(train_command)
    app.command("eval", rich_help_panel=PANEL_TRAINING)(eval_command)
