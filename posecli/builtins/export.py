"""Built-in export commands: ``posecli export``."""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli.cli.app import PANEL_DEPLOYMENT
    from posecli.cli.export import export_command

    app.command("export", rich_help_panel=PANEL_DEPLOYMENT)(export_command)
