"""One name per concept across every command (issue 13 item 6).

Fails when two commands use one option name (or short flag) with different meanings: every
option that appears in more than one command must be one of the shared options of
:mod:`posecli.cli.options`, its help starting with that option's one meaning.
"""

from __future__ import annotations

import inspect
from collections import defaultdict

import typer

from posecli.cli.app import create_app
from posecli.cli.options import CONCEPTS, RENAMED, SHORT_FLAGS


def _commands() -> dict[str, object]:
    """``"visualize predictions"`` → its Click command, for every (sub)command."""
    root = typer.main.get_command(create_app())
    found: dict[str, object] = {"posecli": root}

    def walk(group: object, prefix: str) -> None:
        for name, cmd in getattr(group, "commands", {}).items():
            path = f"{prefix} {name}".strip()
            found[path] = cmd
            walk(cmd, path)

    walk(root, "")
    return found


def _uses() -> tuple[dict[str, list[tuple[str, str]]], dict[str, set[str]]]:
    """Option name → [(command, help)], and short flag → {long names it stands for}."""
    names: dict[str, list[tuple[str, str]]] = defaultdict(list)
    shorts: dict[str, set[str]] = defaultdict(set)
    for path, cmd in _commands().items():
        for param in getattr(cmd, "params", []):
            if getattr(param, "param_type_name", "") != "option":
                continue
            decls = [*param.opts, *param.secondary_opts]
            longs = [d for d in decls if d.startswith("--")]
            long = next((d for d in param.opts if d.startswith("--")), longs[0] if longs else "")
            for d in longs:
                names[d].append((path, param.help or ""))
            for d in decls:
                if not d.startswith("--"):
                    shorts[d].add(long)
    return names, shorts


def test_shared_option_names_have_one_meaning() -> None:
    names, _ = _uses()
    shared = {n: uses for n, uses in names.items() if len({c for c, _ in uses}) > 1}
    assert shared, "no option is shared: the walk over commands found nothing"
    problems = []
    for name, uses in sorted(shared.items()):
        base = name if name in CONCEPTS else name.replace("--no-", "--", 1)
        if base not in CONCEPTS:
            problems.append(
                f"{name} is used by {sorted({c for c, _ in uses})} but is not a shared "
                "option of posecli.cli.options"
            )
            continue
        for command, text in uses:
            if not text.startswith(CONCEPTS[base]):
                problems.append(
                    f"{command} {name}: help {text!r} does not start with its one "
                    f"meaning {CONCEPTS[base]!r}"
                )
    assert not problems, "\n".join(problems)


def test_short_flags_stand_for_one_option_each() -> None:
    _, shorts = _uses()
    problems = [f"{s} means {sorted(longs)}" for s, longs in shorts.items() if len(longs) > 1]
    problems += [
        f"{s} stands for {longs} here but {SHORT_FLAGS[s]} in posecli.cli.options"
        for s, longs in shorts.items()
        if s in SHORT_FLAGS and longs != {SHORT_FLAGS[s]}
    ]
    assert not problems, "; ".join(problems)


def test_old_names_are_gone() -> None:
    """The renamed options no longer exist (a usage error suggests the new one)."""
    names, shorts = _uses()
    assert "--format" not in names and "-f" not in shorts
    assert "--flip" not in names and "--no-flip" not in names
    assert "--no-decode" not in {
        n for n, uses in names.items() if any(c == "check-dataset" for c, _ in uses)
    }
    split_users = {c for c, _ in names["--split"]}
    assert "convert-dataset" not in split_users  # --val-fraction there
    assert "--bbox" not in {
        n for n, u in names.items() if any(c == "visualize predictions" for c, _ in u)
    }
    assert RENAMED  # the closing note's list


def test_every_dataset_names_its_file_ann_file() -> None:
    """Registered datasets (plugins' too) name their annotation file ``ann_file``."""
    from posecli.plugins import registry

    reg = registry("datasets")
    odd = []
    for name in reg.names():
        params = inspect.signature(reg.get(name).factory).parameters
        if "labels" in params or "data" in params:
            odd.append(name)
    assert not odd, f"datasets whose file argument is not ann_file: {odd}"


def test_old_dataset_keys_still_work_with_a_warning(tmp_path) -> None:
    import pytest

    from posecli.errors import DeprecatedNameWarning, RecipeError
    from posecli.recipe.loader import load_recipe_dict, validate_recipe
    from tests.cli.conftest import REPO

    data = load_recipe_dict(REPO / "recipes" / "rtmpose.toml")
    table = data["data"]["train"]["dataset"]
    table["labels"] = table.pop("ann_file")
    with pytest.warns(DeprecatedNameWarning, match=r"data\.train\.dataset\.labels is deprecated"):
        recipe = validate_recipe(data, "r.toml")
    assert recipe.data.train.dataset.as_dict()["ann_file"].endswith("CollectedData.csv")
    data = load_recipe_dict(REPO / "recipes" / "rtmpose.toml")
    data["data"]["val"]["dataset"]["labels"] = "x.csv"
    with pytest.raises(RecipeError, match=r"data\.val\.dataset: both 'labels'"):
        validate_recipe(data, "r.toml")
