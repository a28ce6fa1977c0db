"""``posecli recipe show``: print a resolved, validated recipe."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from posecli.cli.options import JsonOption, SetOption
from posecli.cli.output import print_json

recipe_app = typer.Typer(name="recipe", help="Inspect and validate recipes.", no_args_is_help=True)


@recipe_app.command("show")
def show_command(
    recipe: Annotated[Path, typer.Argument(help="Recipe TOML file.")],
    overrides: SetOption = None,
    as_json: JsonOption = False,
    no_check: Annotated[
        bool,
        typer.Option(
            "--no-check",
            help="Skip building and cross-checking the components (model, pipelines, metrics).",
        ),
    ] = False,
) -> None:
    """Print the recipe after ``extends`` and ``--set`` are applied (validates it)."""
    from posecli.recipe import load_recipe, recipe_to_dict, recipe_to_toml
    from posecli.recipe.check import check_recipe

    resolved = load_recipe(recipe, overrides or [])
    if not no_check:
        check_recipe(resolved, source=str(recipe))
    if as_json:
        print_json(recipe_to_dict(resolved))
    else:
        typer.echo(recipe_to_toml(resolved), nl=False)
