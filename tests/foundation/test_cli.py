"""The CLI shell: help panels, version, errors, plugins, list and recipe show."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from importlib import metadata
from pathlib import Path

import pytest
from typer.testing import CliRunner

from posecli import __version__, plugins
from posecli.cli.app import create_app
from posecli.hookspecs import hookimpl


class FakeComponents:
    """Registers the component names BASE uses, with real signatures."""

    @staticmethod
    @hookimpl
    def posecli_register_codecs(register):  # type: ignore[no-untyped-def]
        def fake_simcc(input_size, sigma=6.0):  # type: ignore[no-untyped-def]
            return (input_size, sigma)

        register("fake_simcc", fake_simcc)


def run(runner: CliRunner, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(create_app(), list(args))
    return result.exit_code, result.stdout, result.stderr


def test_help_lists_commands_in_panels(
    runner: CliRunner, fresh_plugins: plugins.PluginManager
) -> None:
    code, out, _ = run(runner, "--help")
    assert code == 0
    for text in ("Plugins", "Recipes", "plugins", "list", "recipe"):
        assert text in out


def test_version(runner: CliRunner, fresh_plugins: plugins.PluginManager) -> None:
    code, out, _ = run(runner, "--version")
    assert (code, out.strip()) == (0, f"posecli {__version__}")


def test_plugins_json_lists_builtins(
    runner: CliRunner, fresh_plugins: plugins.PluginManager
) -> None:
    code, out, _ = run(runner, "plugins", "--json")
    assert code == 0
    data = json.loads(out)
    builtin = next(p for p in data if p["name"] == "posecli")
    assert builtin["status"] == "ok" and builtin["source"] == "builtin"
    assert {"plugins", "list", "recipe"} <= set(builtin["commands"])


def test_plugins_table_shows_a_failed_plugin_and_cli_still_works(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fake_plugin_cli_broken.py").write_text("import not_a_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    eps = [metadata.EntryPoint(name="broken", value="fake_plugin_cli_broken", group="posecli")]
    monkeypatch.setattr(plugins, "_entry_points", lambda: eps)
    monkeypatch.delenv("POSECLI_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    previous = plugins._manager
    plugins.reset_plugin_manager(plugins.PluginManager())
    try:
        code, out, _ = run(runner, "plugins")
        assert code == 0
        assert "broken" in out and "failed" in out and "not_a_module_anywhere" in out
        code, out, _ = run(runner, "list", "codecs")
        assert code == 0
    finally:
        plugins.reset_plugin_manager(previous)


def test_list_json_names_the_provider(
    runner: CliRunner, fresh_plugins: plugins.PluginManager
) -> None:
    fresh_plugins.add_plugin(FakeComponents, "fake")
    code, out, _ = run(runner, "list", "codecs", "fake", "--json")
    assert code == 0
    assert json.loads(out) == [{"name": "fake_simcc", "aliases": [], "plugin": "fake", "help": ""}]


def test_unknown_kind_is_one_line_exit_1(
    runner: CliRunner, fresh_plugins: plugins.PluginManager
) -> None:
    code, out, err = run(runner, "list", "codec")
    assert code == 1
    assert err.strip().splitlines() == [
        "Error: unknown component kind 'codec'; did you mean 'codecs'? (kinds: codecs, backbones, "
        "necks, heads, losses, datasets, transforms, converters, skeletons, detectors, metrics, "
        "callbacks)"
    ]
    assert "Traceback" not in out + err


def test_usage_error_exits_2(runner: CliRunner, fresh_plugins: plugins.PluginManager) -> None:
    code, _, _ = run(runner, "list")
    assert code == 2
    code, _, _ = run(runner, "plugins", "--no-such-flag")
    assert code == 2


def _recipe_for_fakes(tmp_path: Path) -> Path:
    path = tmp_path / "r.toml"
    path.write_text(
        textwrap.dedent("""
        [codec]
        name = "fake_simcc"
        input_size = [192, 256]
        sigma = 4.0
        [model.backbone]
        name = "any"
        [model.head]
        name = "any"
    """)
    )
    return path


def test_recipe_show_prints_resolved_toml(
    runner: CliRunner, tmp_path: Path, fresh_plugins: plugins.PluginManager
) -> None:
    code, out, err = run(
        runner, "recipe", "show", str(_recipe_for_fakes(tmp_path)), "--no-check", "--set", "seed=5"
    )
    assert code == 0, err
    assert "seed = 5" in out and 'name = "fake_simcc"' in out


def test_recipe_show_checks_component_arguments(
    runner: CliRunner, tmp_path: Path, fresh_plugins: plugins.PluginManager
) -> None:
    fresh_plugins.add_plugin(FakeComponents, "fake")
    path = _recipe_for_fakes(tmp_path)
    code, _, err = run(runner, "recipe", "show", str(path), "--set", "codec.sigmaa=3")
    assert code == 1
    assert err.strip() == (
        f"Error: {path}: codec.sigmaa: unknown argument of codec 'fake_simcc'; did you mean sigma?"
    )


def test_recipe_error_is_one_line_and_debug_shows_traceback(
    runner: CliRunner, tmp_path: Path, fresh_plugins: plugins.PluginManager
) -> None:
    path = tmp_path / "bad.toml"
    path.write_text("[codec\n")
    code, _, err = run(runner, "recipe", "show", str(path))
    assert code == 1 and err.count("\n") == 1 and f"{path}:1:7" in err
    result = runner.invoke(create_app(), ["--debug", "recipe", "show", str(path)])
    assert result.exit_code == 1
    assert type(result.exception).__name__ == "RecipeError"


def test_subprocess_python_m_posecli(tmp_path: Path) -> None:
    env = {**os.environ, "POSECLI_DISABLE_PLUGIN_AUTOLOAD": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "posecli", "recipe", "show", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == f"Error: {tmp_path / 'missing.toml'}: recipe file not found"
    env["POSECLI_DEBUG"] = "1"
    done = subprocess.run(
        [sys.executable, "-m", "posecli", "recipe", "show", str(tmp_path / "missing.toml")],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" in done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "posecli", "--version"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0 and done.stdout.strip() == f"posecli {__version__}"
