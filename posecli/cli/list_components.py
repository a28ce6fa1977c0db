"""``posecli list KIND [PATTERN]``: registered component names of one kind."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from posecli.cli.options import JsonOption
from posecli.cli.output import print_json, stdout_console


def list_command(
    kind: Annotated[
        str,
        typer.Argument(
            help="codecs, backbones, necks, heads, losses, datasets, transforms, converters, "
            "skeletons, detectors, metrics, callbacks, or recipes (the shipped recipes)."
        ),
    ],
    pattern: Annotated[
        str | None, typer.Argument(help="Only names (or aliases) containing this text.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List the registered components of one kind with the plugin providing each."""
    if kind == "recipes":
        _list_recipes(pattern, as_json)
        return
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


def _list_recipes(pattern: str | None, as_json: bool) -> None:
    """The recipes shipped inside the package, usable by name from any directory."""
    from posecli.recipe import SHIPPED_RECIPES, read_toml, shipped_recipes

    rows = []
    for name in shipped_recipes():
        if pattern and pattern not in name:
            continue
        data = read_toml(SHIPPED_RECIPES / name)
        rows.append(
            {
                "name": name,
                "extends": data.get("extends"),
                "description": data.get("description", ""),
            }
        )
    if as_json:
        print_json(rows)
        return
    table = Table(title=f"recipes ({len(rows)}) in {SHIPPED_RECIPES}")
    table.add_column("name", style="bold")
    table.add_column("extends")
    table.add_column("description")
    for row in rows:
        table.add_row(row["name"], row["extends"] or "", row["description"])
    stdout_console().print(table)
