"""Checking a recipe's component tables against the registries without building anything."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from posecli.errors import PoseCliError, RecipeError
from posecli.recipe.schema import Component, Recipe
from posecli.registry import check_kwargs


def iter_components(recipe: Recipe) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """Yield ``(registry kind, dotted path, table)`` for every component table in ``recipe``."""
    yield "codecs", "codec", recipe.codec.as_dict()
    model = recipe.model
    yield "backbones", "model.backbone", model.backbone.as_dict()
    if model.neck is not None:
        yield "necks", "model.neck", model.neck.as_dict()
    head = model.head.as_dict()
    loss = head.get("loss")
    yield "heads", "model.head", head
    if isinstance(loss, dict):
        yield "losses", "model.head.loss", loss
    for split_name in ("train", "val", "test"):
        split = getattr(recipe.data, split_name)
        if split is None:
            continue
        yield "datasets", f"data.{split_name}.dataset", split.dataset.as_dict()
        for i, step in enumerate(split.pipeline):
            yield "transforms", f"data.{split_name}.pipeline.{i}", step.as_dict()
    if recipe.train is not None and recipe.train.pipeline_switch is not None:
        for i, step in enumerate(recipe.train.pipeline_switch.pipeline):
            yield "transforms", f"train.pipeline_switch.pipeline.{i}", step.as_dict()
    if recipe.train is not None:
        for i, callback in enumerate(recipe.train.callbacks):
            yield "callbacks", f"train.callbacks.{i}", callback.as_dict()


def check_components(recipe: Recipe, source: str = "<recipe>") -> None:
    """Raise :class:`RecipeError` for an unknown component name or argument, with its path."""
    from posecli.plugins import registry

    for kind, path, table in iter_components(recipe):
        try:
            reg = registry(kind)
            entry = reg.get(str(table["name"]))
            kwargs = {k: v for k, v in table.items() if k != "name"}
            check_kwargs(
                entry.factory,
                kwargs,
                path=path,
                what=f"{reg.singular} {entry.name!r}",
                n_args=1 if entry.is_prefix else 0,
                check_missing=False,
            )
        except PoseCliError as exc:
            message = str(exc)
            if not message.startswith(path):
                message = f"{path}: {message}"
            raise RecipeError(f"{source}: {message}") from None


__all__ = ["Component", "check_components", "iter_components"]
