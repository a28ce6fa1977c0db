"""``posecli list KIND [PATTERN]``: registered component names of one kind."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from posecli.cli.output import print_json, stdout_console


def list_command(
    kind: Annotated[
        str,
        typer.Argument(
            help="codecs, backbones, necks, heads, losses, datasets, transforms, converters, "
            "skeletons or detectors."
        ),
    ],
    pattern: Annotated[
        str | None, typer.Argument(help="Only names (or aliases) containing this text.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON document.")] = False,
) -> None:
    """List the registered components of one kind with the plugin providing each."""
    from posecli.plugins import registry

    reg = registry(kind)
    entries = [reg.get(name) for name in reg.names(pattern)]
    if as_json:
        print_json(
            [
                {"name": e.name, "aliases": list(e.aliases), "plugin": e.plugin, "help": e.help}
                for e in entries
            ]
        )
        return
    table = Table(title=f"{kind} ({len(entries)})")
    table.add_column("name", style="bold")
    table.add_column("aliases")
    table.add_column("plugin")
    table.add_column("description")
    for e in entries:
        table.add_row(e.name, ", ".join(e.aliases), e.plugin, e.help)
    stdout_console().print(table)
