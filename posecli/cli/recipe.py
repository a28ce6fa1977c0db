"""``posecli recipe show``: print a resolved, validated recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.output import print_json

recipe_app = typer.Typer(name="recipe", help="Inspect and validate recipes.", no_args_is_help=True)

SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set",
        "-s",
        metavar="KEY=VALUE",
        help="Override a recipe value (dotted key, TOML value), e.g. --set train.epochs=5. "
        "Repeatable.",
    ),
]


@recipe_app.command("show")
def show_command(
    recipe: Annotated[Path, typer.Argument(help="Recipe TOML file.")],
    overrides: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of TOML.")] = False,
    no_check: Annotated[
        bool,
        typer.Option("--no-check", help="Skip checking component names and arguments."),
    ] = False,
) -> None:
    """Print the recipe after ``extends`` and ``--set`` are applied (validates it)."""
    from posecli.recipe import load_recipe, recipe_to_dict, recipe_to_toml
    from posecli.recipe.components import check_components

    resolved = load_recipe(recipe, overrides or [])
    if not no_check:
        check_components(resolved, source=str(recipe))
    if as_json:
        print_json(recipe_to_dict(resolved))
    else:
        typer.echo(recipe_to_toml(resolved), nl=False)
