"""Reading recipes: TOML → dict → ``extends`` merge → ``--set`` overrides → :class:`Recipe`."""

from __future__ import annotations

import difflib
import re
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from posecli.errors import RecipeError
from posecli.recipe.schema import Component, Recipe

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_LOC_RE = re.compile(r"\(at line (\d+), column (\d+)\)")


def read_toml(path: Path) -> dict[str, Any]:
    """Parse one TOML file; syntax errors become ``file:line:col: message``."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise RecipeError(f"{path}: recipe file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RecipeError(f"{path}: cannot read recipe: {exc}") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        match = _LOC_RE.search(message)
        if match:
            line, col = match.groups()
            message = _LOC_RE.sub("", message).strip()
            raise RecipeError(f"{path}:{line}:{col}: TOML syntax error: {message}") from None
        raise RecipeError(f"{path}: TOML syntax error: {message}") from None


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Merge ``override`` into ``base``: tables merge key by key, anything else replaces.

    A component table naming a *different* component (``name`` changes) replaces the base
    table whole: the old component's arguments mean nothing to the new one.
    """
    merged = dict(base)
    for key, value in override.items():
        old = merged.get(key)
        other_component = (
            isinstance(value, Mapping)
            and isinstance(old, Mapping)
            and "name" in value
            and value["name"] != old.get("name")
        )
        if isinstance(value, Mapping) and isinstance(old, Mapping) and not other_component:
            merged[key] = deep_merge(old, value)
        else:
            merged[key] = value
    return merged


#: The recipes shipped inside the package (``posecli/recipes``; in every wheel).
SHIPPED_RECIPES = Path(__file__).resolve().parents[1] / "recipes"


def shipped_recipes() -> list[str]:
    """Names of the shipped recipes relative to :data:`SHIPPED_RECIPES` (``coco/rtmpose-m.toml``)."""
    return sorted(
        p.relative_to(SHIPPED_RECIPES).as_posix() for p in SHIPPED_RECIPES.rglob("*.toml")
    )


def resolve_recipe_path(path: str | Path) -> Path:
    """A recipe file: the path as given if it exists, else a shipped recipe of that name.

    ``coco/rtmpose-m.toml``, ``rtmpose.toml`` and ``recipes/rtmpose.toml`` resolve from any
    directory after a wheel install. A missing file is returned unchanged (the reader names it).
    """
    given = Path(path)
    if given.is_file():
        return given
    parts = given.parts
    names = [given] + ([Path(*parts[1:])] if len(parts) > 1 and parts[0] == "recipes" else [])
    for name in names:
        if not name.is_absolute() and (SHIPPED_RECIPES / name).is_file():
            return SHIPPED_RECIPES / name
    return given


def _find_base(name: str, child: Path, what: str = "extends") -> Path:
    """Resolve ``extends`` (and ``detector.recipe``): as a path, beside the child, under any
    enclosing ``recipes/`` folder, then among the shipped recipes."""
    candidates = [child.parent / name]  # an absolute name stays itself
    for parent in child.resolve().parents:
        if parent.name == "recipes":
            candidates.append(parent / name)
    candidates.append(SHIPPED_RECIPES / name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise RecipeError(
        f"{child}: {what} = {name!r}: base recipe not found (looked in "
        f"{', '.join(str(c.parent) for c in candidates)})"
    )


def load_recipe_dict(path: str | Path, _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """The recipe at ``path`` as a dict with its ``extends`` chain merged in."""
    path = Path(path)
    data = read_toml(path)
    base_name = data.pop("extends", None)
    if base_name is None:
        return data
    if not isinstance(base_name, str):
        raise RecipeError(f"{path}: extends must be a file name string")
    base_path = _find_base(base_name, path)
    chain = (*_chain, path.resolve())
    if base_path.resolve() in chain:
        cycle = " -> ".join(str(p.name) for p in (*chain, base_path))
        raise RecipeError(f"{path}: extends cycle: {cycle}")
    return deep_merge(load_recipe_dict(base_path, chain), data)


def parse_override(text: str) -> tuple[list[str], Any]:
    """``a.b.c=VALUE`` → (``["a","b","c"]``, value parsed as TOML, else the raw string)."""
    key, sep, raw = text.partition("=")
    key = key.strip()
    if not sep or not key:
        raise RecipeError(f"--set {text!r}: expected KEY=VALUE, e.g. train.epochs=10")
    raw = raw.strip()
    try:
        value = tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        value = raw
    return key.split("."), value


def apply_overrides(data: dict[str, Any], overrides: Iterable[str]) -> dict[str, Any]:
    """Apply ``--set`` overrides in order; integers index into arrays (``pipeline.2.prob``);
    the bare value ``null`` removes the key (its default applies again)."""
    for text in overrides:
        keys, value = parse_override(text)
        remove = text.partition("=")[2].strip() == "null"
        node: Any = data
        for depth, key in enumerate(keys[:-1]):
            where = ".".join(keys[: depth + 1])
            if isinstance(node, list):
                node = node[_list_index(node, key, where, text)]
            else:
                node = node.setdefault(key, {})
            if not isinstance(node, (dict, list)):
                raise RecipeError(f"--set {text!r}: {where} is a value, not a table")
        last = keys[-1]
        if isinstance(node, list):
            index = _list_index(node, last, ".".join(keys), text)
            if remove:
                del node[index]
            else:
                node[index] = value
        elif remove:
            node.pop(last, None)
        else:
            node[last] = value
    return data


def _list_index(node: list[Any], key: str, where: str, text: str) -> int:
    if not key.lstrip("-").isdigit() or not -len(node) <= int(key) < len(node):
        raise RecipeError(
            f"--set {text!r}: {where}: index out of range for an array of {len(node)}"
        )
    return int(key)


def _unknown_keys(data: Any, model: type[BaseModel], path: str) -> str | None:
    """First unknown key under a fixed section, with a 'did you mean' hint."""
    if not isinstance(data, Mapping) or issubclass(model, Component):
        return None
    fields = model.model_fields
    for key, value in data.items():
        if key not in fields:
            if model.model_config.get("extra") != "forbid":
                continue
            close = difflib.get_close_matches(str(key), list(fields), n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f" (known: {', '.join(fields)})"
            return f"{path}{key}: unknown key{hint}"
        for sub in _submodels(fields[key].annotation):
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                suffix = f".{i}" if isinstance(value, list) else ""
                found = _unknown_keys(item, sub, f"{path}{key}{suffix}.")
                if found:
                    return found
    return None


def _submodels(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _submodels(arg)]


#: Old dataset-table keys → the one name of the annotation file (deprecated aliases).
DATASET_KEY_ALIASES = {"labels": "ann_file", "data": "ann_file"}


def rename_deprecated_keys(
    data: dict[str, Any], source: str = "<recipe>", *, warn: bool = True
) -> None:
    """Rename old dataset keys (``labels``, ``data``) to ``ann_file`` in place, warning (when
    ``warn``) once per key with its dotted path."""
    import warnings

    from posecli.errors import DeprecatedNameWarning

    section = data.get("data")
    if not isinstance(section, dict):
        return
    for split in ("train", "val", "test"):
        table = (
            (section.get(split) or {}).get("dataset")
            if isinstance(section.get(split), dict)
            else None
        )
        if not isinstance(table, dict):
            continue
        for old, new in DATASET_KEY_ALIASES.items():
            if old not in table:
                continue
            where = f"data.{split}.dataset"
            if new in table:
                raise RecipeError(f"{source}: {where}: both {old!r} (deprecated) and {new!r} given")
            table[new] = table.pop(old)
            if not warn:
                continue
            warnings.warn(
                f"{source}: {where}.{old} is deprecated; name the annotation file {new}",
                DeprecatedNameWarning,
                stacklevel=3,
            )


def validate_recipe(data: dict[str, Any], source: str = "<recipe>") -> Recipe:
    """Validate a recipe dict; errors name the source and the dotted key."""
    rename_deprecated_keys(data, source)
    unknown = _unknown_keys(data, Recipe, "")
    if unknown:
        raise RecipeError(f"{source}: {unknown}")
    try:
        return Recipe.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"]) or "(top level)"
        value = err.get("input")
        shown = "" if isinstance(value, (dict, list)) or value is None else f" (got {value!r})"
        more = f" [+{exc.error_count() - 1} more]" if exc.error_count() > 1 else ""
        msg = err["msg"]
        if err["type"] == "missing":
            msg = "missing required key"
        if not err["loc"] and msg.startswith("Value error, "):  # a whole-recipe rule names its keys
            raise RecipeError(f"{source}: {msg[len('Value error, ') :]}{more}") from None
        raise RecipeError(f"{source}: {loc}: {msg}{shown}{more}") from None


def load_recipe(path: str | Path, overrides: Iterable[str] = ()) -> Recipe:
    """Load, merge, override and validate the recipe at ``path``."""
    path = resolve_recipe_path(path)
    data = apply_overrides(load_recipe_dict(path), list(overrides))
    data.setdefault("name", path.stem)
    detector = data.get("detector")
    if isinstance(detector, dict) and isinstance(detector.get("recipe"), str):
        # found as ``extends`` is; kept as a path that works from any folder
        found = _find_base(detector["recipe"], path, "detector.recipe")
        detector["recipe"] = str(found.resolve())
    return validate_recipe(data, str(path))


def recipe_to_dict(recipe: Recipe) -> dict[str, Any]:
    """The resolved recipe as plain data (no ``None`` values, which TOML cannot hold)."""
    return _drop_none(recipe.model_dump(mode="json"))


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


def recipe_to_toml(recipe: Recipe) -> str:
    """The resolved recipe as TOML text; reading it back gives an equal recipe."""
    import tomli_w

    return tomli_w.dumps(recipe_to_dict(recipe))


def recipe_from_toml(text: str, source: str = "<checkpoint>") -> Recipe:
    """Validate a resolved recipe stored as TOML text (in a checkpoint or run directory)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RecipeError(f"{source}: stored recipe is not valid TOML: {exc}") from None
    rename_deprecated_keys(data, source, warn=False)  # older checkpoints: nothing to edit
    return validate_recipe(data, source)
