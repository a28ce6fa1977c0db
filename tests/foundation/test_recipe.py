"""Recipes: TOML parsing, extends, --set overrides, validation errors, TOML round trip."""

from __future__ import annotations

from pathlib import Path

import pytest

from posecli.errors import RecipeError
from posecli.recipe import (
    apply_overrides,
    deep_merge,
    load_recipe,
    parse_override,
    recipe_from_toml,
    recipe_to_toml,
)

BASE = """
seed = 21

[codec]
name = "simcc"
input_size = [192, 256]
sigma = [4.9, 5.66]

[model.backbone]
name = "cspnext"
widen_factor = 0.375

[model.head]
name = "rtmcc_head"
loss = { name = "kl_discret", beta = 10.0 }

[data]
skeleton = "coco"

[data.train.dataset]
name = "coco"
ann_file = "train.json"

[[data.train.pipeline]]
name = "load_image"

[[data.train.pipeline]]
name = "random_flip"
prob = 0.5

[train]
epochs = 420
optimizer = { name = "adamw", lr = 4e-3 }
"""


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_load_and_defaults(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "base.toml", BASE))
    assert recipe.name == "base"
    assert recipe.input_size == (192, 256)
    assert recipe.model.backbone.kwargs == {"widen_factor": 0.375}
    assert recipe.model.head.kwargs["loss"] == {"name": "kl_discret", "beta": 10.0}
    assert recipe.data.train is not None and recipe.data.train.pipeline[1].kwargs == {"prob": 0.5}
    assert recipe.model.preprocess.mean == (123.675, 116.28, 103.53)
    assert recipe.train is not None and recipe.train.optimizer.kwargs == {"lr": 4e-3}


def test_overrides_parse_toml_values_and_fall_back_to_strings() -> None:
    assert parse_override("train.epochs=5") == (["train", "epochs"], 5)
    assert parse_override("codec.sigma=[1.0, 2.5]") == (["codec", "sigma"], [1.0, 2.5])
    assert parse_override("model.test.flip_test=false") == (["model", "test", "flip_test"], False)
    assert parse_override("data.root=/data/coco") == (["data", "root"], "/data/coco")
    assert parse_override('name="quoted"') == (["name"], "quoted")
    with pytest.raises(RecipeError, match="expected KEY=VALUE"):
        parse_override("train.epochs")


def test_overrides_apply_to_nested_tables_and_array_items(tmp_path: Path) -> None:
    recipe = load_recipe(
        write(tmp_path, "base.toml", BASE),
        ["train.epochs=3", "data.train.pipeline.1.prob=0.25", "model.neck.name=gap", "seed=7"],
    )
    assert recipe.train is not None and recipe.train.epochs == 3
    assert recipe.data.train is not None and recipe.data.train.pipeline[1].kwargs["prob"] == 0.25
    assert recipe.model.neck is not None and recipe.model.neck.name == "gap"
    assert recipe.seed == 7


def test_override_null_removes_a_key_and_its_default_applies(tmp_path: Path) -> None:
    path = write(tmp_path, "base.toml", BASE)
    assert load_recipe(path).model.backbone.kwargs["widen_factor"] == 0.375
    full = load_recipe(path).data.train
    recipe = load_recipe(path, ["model.backbone.widen_factor=null", "data.train.pipeline.1=null"])
    assert "widen_factor" not in recipe.model.backbone.kwargs
    assert recipe.data.train is not None and full is not None
    names = [t.name for t in full.pipeline]
    assert [t.name for t in recipe.data.train.pipeline] == names[:1] + names[2:]


def test_override_index_out_of_range(tmp_path: Path) -> None:
    with pytest.raises(
        RecipeError, match=r"data.train.pipeline.9: index out of range for an array of 2"
    ):
        load_recipe(write(tmp_path, "base.toml", BASE), ["data.train.pipeline.9.prob=1"])


def test_override_into_a_value_is_an_error() -> None:
    with pytest.raises(RecipeError, match="seed is a value, not a table"):
        apply_overrides({"seed": 1}, ["seed.x=2"])


def test_syntax_error_reports_file_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, "bad.toml", "seed = 1\n[codec]\nname = \n")
    with pytest.raises(RecipeError) as info:
        load_recipe(path)
    assert str(info.value).startswith(f"{path}:3:8: TOML syntax error: ")


def test_unknown_key_suggests_the_right_one(tmp_path: Path) -> None:
    path = write(tmp_path, "r.toml", BASE.replace("[model.backbone]", "[model.backbon]"))
    with pytest.raises(
        RecipeError, match=r"r\.toml: model\.backbon: unknown key; did you mean backbone\?$"
    ):
        load_recipe(path)
    with pytest.raises(RecipeError, match=r"train\.epoch: unknown key; did you mean epochs\?"):
        load_recipe(write(tmp_path, "r2.toml", BASE), ["train.epoch=3"])
    with pytest.raises(
        RecipeError, match=r"data\.train\.batchsize: unknown key; did you mean batch_size\?"
    ):
        load_recipe(write(tmp_path, "r3.toml", BASE), ["data.train.batchsize=3"])


def test_wrong_type_names_the_key_and_value(tmp_path: Path) -> None:
    with pytest.raises(
        RecipeError, match=r"train\.epochs: Input should be a valid integer.*\(got 'ten'\)"
    ):
        load_recipe(write(tmp_path, "r.toml", BASE), ["train.epochs=ten"])
    with pytest.raises(
        RecipeError, match=r"train\.epochs: Input should be greater than or equal to 1 \(got 0\)"
    ):
        load_recipe(write(tmp_path, "r.toml", BASE), ["train.epochs=0"])


def test_missing_required_section(tmp_path: Path) -> None:
    text = BASE.replace(
        '[model.head]\nname = "rtmcc_head"\nloss = { name = "kl_discret", beta = 10.0 }\n', ""
    )
    with pytest.raises(RecipeError, match=r"model\.head: missing required key"):
        load_recipe(write(tmp_path, "r.toml", text))


def test_codec_needs_input_size(tmp_path: Path) -> None:
    with pytest.raises(
        RecipeError,
        match=r"r.toml: codec.input_size: missing; a top-down codec needs \[width, height\]$",
    ):
        load_recipe(write(tmp_path, "r.toml", BASE.replace("input_size = [192, 256]\n", "")))


def test_missing_file() -> None:
    with pytest.raises(RecipeError, match="nope.toml: recipe file not found"):
        load_recipe("nope.toml")


def test_extends_deep_merges_from_recipes_folder(tmp_path: Path) -> None:
    write(tmp_path, "recipes/coco/base.toml", BASE)
    child = write(
        tmp_path,
        "recipes/mouse/child.toml",
        'extends = "coco/base.toml"\nseed = 3\n[model.backbone]\nwiden_factor = 0.5\n[train]\nepochs = 10\n',
    )
    recipe = load_recipe(child)
    assert recipe.seed == 3
    assert recipe.model.backbone.name == "cspnext"  # kept from the base
    assert recipe.model.backbone.kwargs == {"widen_factor": 0.5}  # overridden
    assert recipe.train is not None and recipe.train.epochs == 10
    assert recipe.train.optimizer.name == "adamw"
    assert recipe.name == "child" and recipe.extends is None


def test_extends_cycle_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "a.toml", 'extends = "b.toml"\n')
    write(tmp_path, "b.toml", 'extends = "a.toml"\n')
    with pytest.raises(RecipeError, match=r"extends cycle: a.toml -> b.toml -> a.toml"):
        load_recipe(tmp_path / "a.toml")


def test_extends_missing_base(tmp_path: Path) -> None:
    with pytest.raises(RecipeError, match="extends = 'nope.toml': base recipe not found"):
        load_recipe(write(tmp_path, "a.toml", 'extends = "nope.toml"\n'))


def test_deep_merge_replaces_a_table_naming_another_component() -> None:
    base = {"codec": {"name": "simcc", "input_size": [1, 2], "sigma": 6.0}}
    same = deep_merge(base, {"codec": {"name": "simcc", "sigma": 5.0}})
    assert same == {"codec": {"name": "simcc", "input_size": [1, 2], "sigma": 5.0}}
    other = deep_merge(base, {"codec": {"name": "msra_heatmap", "input_size": [1, 2]}})
    assert other == {"codec": {"name": "msra_heatmap", "input_size": [1, 2]}}


def test_deep_merge_replaces_arrays() -> None:
    assert deep_merge({"a": {"b": 1, "c": [1, 2]}}, {"a": {"c": [3]}}) == {"a": {"b": 1, "c": [3]}}


def test_resolved_recipe_round_trips_through_toml(tmp_path: Path) -> None:
    recipe = load_recipe(write(tmp_path, "base.toml", BASE), ["train.clip_grad=35.0"])
    text = recipe_to_toml(recipe)
    again = recipe_from_toml(text)
    assert again == recipe
    assert "clip_grad = 35.0" in text
