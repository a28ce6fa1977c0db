"""``posecli plugins``: what is installed and what each plugin registered."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from posecli.cli.options import JsonOption
from posecli.cli.output import print_json, stdout_console


def plugins_command(
    as_json: JsonOption = False,
    show_all: Annotated[
        bool, typer.Option("--all", help="List every component name instead of counts.")
    ] = False,
) -> None:
    """Show installed plugins (built-ins included), what each registered, and failures."""
    from posecli.plugins import get_plugin_manager

    infos = get_plugin_manager().plugin_infos()
    if as_json:
        print_json([info.to_dict() for info in infos])
        return
    table = Table(title="posecli plugins", show_lines=show_all)
    table.add_column("plugin", style="bold")
    table.add_column("version")
    table.add_column("status")
    table.add_column("registered")
    for info in infos:
        parts = []
        for kind, names in info.components.items():
            if names:
                parts.append(f"{kind}: {', '.join(names)}" if show_all else f"{len(names)} {kind}")
        if info.commands:
            joined = ", ".join(info.commands)
            parts.append(f"commands: {joined}" if show_all else f"{len(info.commands)} commands")
        status = "[green]ok[/green]" if info.ok else f"[red]failed[/red]: {info.error}"
        sep = "\n" if show_all else ", "
        table.add_row(info.name, info.version or "-", status, sep.join(parts) or "-")
    stdout_console().print(table)
    failed = [i for i in infos if not i.ok]
    if failed:
        stdout_console().print(
            f"{len(failed)} plugin(s) failed to load; the rest work. "
            "Run with --debug for tracebacks, or POSECLI_DISABLE_PLUGIN_AUTOLOAD=1 to skip plugins."
        )
