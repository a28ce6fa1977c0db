"""Recipes: TOML files describing a model, its data and its training, validated by pydantic."""

from posecli.recipe.loader import (
    apply_overrides,
    deep_merge,
    load_recipe,
    load_recipe_dict,
    parse_override,
    recipe_from_toml,
    recipe_to_dict,
    recipe_to_toml,
    resolve_recipe_path,
    shipped_recipes,
    validate_recipe,
)
from posecli.recipe.schema import Component, Recipe

__all__ = [
    "Component",
    "Recipe",
    "apply_overrides",
    "deep_merge",
    "load_recipe",
    "load_recipe_dict",
    "parse_override",
    "recipe_from_toml",
    "recipe_to_dict",
    "recipe_to_toml",
    "resolve_recipe_path",
    "shipped_recipes",
    "validate_recipe",
]
