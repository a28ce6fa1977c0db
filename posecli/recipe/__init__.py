"""Recipes: TOML files describing a model, its data and its training, validated by pydantic."""

from posecli.recipe.loader import (
    SHIPPED_RECIPES,
    apply_overrides,
    deep_merge,
    load_recipe,
    load_recipe_dict,
    parse_override,
    read_toml,
    recipe_from_toml,
    recipe_to_dict,
    recipe_to_toml,
    resolve_recipe_path,
    shipped_recipes,
    validate_recipe,
)
from posecli.recipe.schema import Component, Recipe

__all__ = [
    "SHIPPED_RECIPES",
    "Component",
    "Recipe",
    "apply_overrides",
    "deep_merge",
    "load_recipe",
    "load_recipe_dict",
    "parse_override",
    "read_toml",
    "recipe_from_toml",
    "recipe_to_dict",
    "recipe_to_toml",
    "resolve_recipe_path",
    "shipped_recipes",
    "validate_recipe",
]
