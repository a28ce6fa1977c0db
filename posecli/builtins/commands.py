"""Built-in commands of the foundation: ``plugins``, ``list`` and ``recipe``."""

from __future__ import annotations

from typing import Any

from posecli.hookspecs import hookimpl


@hookimpl
def posecli_register_commands(app: Any) -> None:
    from posecli.cli.app import PANEL_PLUGINS, PANEL_RECIPES
    from posecli.cli.list_components import list_command
    from posecli.cli.plugins import plugins_command
    from posecli.cli.recipe import recipe_app

    app.command("plugins", rich_help_panel=PANEL_PLUGINS)(plugins_command)
    app.command("list", rich_help_panel=PANEL_PLUGINS)(list_command)
    app.add_typer(recipe_app, name="recipe", rich_help_panel=PANEL_RECIPES)
