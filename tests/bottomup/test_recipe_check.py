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


def test_multiscale_test_needs_aug_scales_and_an_ae_head() -> None:
    ms = "model.test.multiscale_test=true"
    ae = resolve_recipe_path("coco/ae-hrnet-w32.toml")
    with pytest.raises(
        RecipeError, match=r"data.val.pipeline\[1\] \(bottomup_resize\): aug_scales"
    ):
        check_recipe(load_recipe(ae, [*SMALL, ms]), "ae")
    with pytest.raises(RecipeError, match="aug_scales is set but model.test.multiscale_test"):
        check_recipe(load_recipe(ae, [*SMALL, "data.val.pipeline.1.aug_scales=[1.5]"]), "ae")
    check_recipe(load_recipe(ae, [*SMALL, ms, "data.val.pipeline.1.aug_scales=[0.5, 1.5]"]), "ae")
    dekr = resolve_recipe_path("coco/dekr-hrnet-w32.toml")
    with pytest.raises(RecipeError, match="for AE heads only, not 'dekr_head'"):
        check_recipe(load_recipe(dekr, [*SMALL, ms]), "dekr")
