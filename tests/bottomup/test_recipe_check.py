"""The recipe check's bottom-up branch: the shipped recipes pass; a conflict is one line."""

from __future__ import annotations

import pytest

from posecli.errors import RecipeError
from posecli.recipe import load_recipe, resolve_recipe_path
from posecli.recipe.check import check_recipe

SMALL = ["model.pretrained=[]", "codec.input_size=[128, 128]", "codec.heatmap_size=[32, 32]"]


@pytest.mark.parametrize("name", ["coco/ae-hrnet-w32.toml", "coco/dekr-hrnet-w32.toml"])
def test_bottomup_recipe_passes_the_check(name: str) -> None:
    check_recipe(load_recipe(resolve_recipe_path(name), SMALL), name)


def test_bottomup_check_names_the_culprit() -> None:
    recipe = load_recipe(
        resolve_recipe_path("coco/ae-hrnet-w32.toml"), [*SMALL, "train.save_best='PCK'"]
    )
    with pytest.raises(RecipeError, match="train.save_best = 'PCK' is not reported"):
        check_recipe(recipe, "ae")
