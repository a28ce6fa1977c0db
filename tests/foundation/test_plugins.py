"""The plugin manager: built-ins via hooks, guarded entry points, env switches."""

from __future__ import annotations

import sys
import textwrap
from importlib import metadata
from pathlib import Path
from types import SimpleNamespace

import pytest

from posecli import plugins
from posecli.hookspecs import REGISTER_HOOKS, hookimpl
from posecli.plugins import PluginManager


def _write_module(tmp_path: Path, name: str, body: str) -> None:
    (tmp_path / f"{name}.py").write_text(textwrap.dedent(body))


@pytest.fixture
def plugin_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for mod in [m for m in sys.modules if m.startswith("fake_plugin_")]:
        del sys.modules[mod]


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, specs: dict[str, str]) -> None:
    eps = [metadata.EntryPoint(name=n, value=v, group="posecli") for n, v in specs.items()]
    monkeypatch.setattr(plugins, "_entry_points", lambda: eps)


GOOD = """
from posecli.hookspecs import hookimpl

class Thing:
    '''A thing.'''
    def __init__(self, size: int = 1):
        self.size = size

@hookimpl
def posecli_register_codecs(register):
    register("good_codec", Thing, aliases=("GoodCodec",))

@hookimpl
def posecli_register_backbones(register):
    register("good_backbone", Thing)
"""


def test_builtins_register_through_the_hooks() -> None:
    manager = PluginManager(autoload=False)
    info = manager.plugin_infos()[0]
    assert info.name == "posecli" and info.source == "builtin" and info.ok
    assert set(info.modules) == set(plugins.BUILTIN_MODULES)
    for kind, names in info.components.items():
        for name in names:
            assert manager.registry(kind).get(name).plugin == "posecli"


def test_entry_point_plugin_is_loaded_and_credited(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_module(plugin_dir, "fake_plugin_good", GOOD)
    _fake_entry_points(monkeypatch, {"good": "fake_plugin_good"})
    manager = PluginManager(autoload=True, only=None)
    assert manager.registry("codecs").get("GoodCodec").plugin == "good"
    assert manager.plugins["good"].components == {
        "codecs": ["good_codec"],
        "backbones": ["good_backbone"],
    }
    assert manager.registry("backbones").build("good_backbone", size=4).size == 4


def test_plugin_failing_to_import_is_recorded_and_the_rest_works(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_module(plugin_dir, "fake_plugin_broken", "raise ImportError('needs libfoo')\n")
    _write_module(plugin_dir, "fake_plugin_good", GOOD)
    _fake_entry_points(monkeypatch, {"broken": "fake_plugin_broken", "good": "fake_plugin_good"})
    manager = PluginManager(autoload=True, only=None)
    assert "good_codec" in manager.registry("codecs").names()
    broken = manager.plugins["broken"]
    assert not broken.ok
    assert broken.error == "cannot import fake_plugin_broken: ImportError: needs libfoo"


def test_duplicate_name_fails_the_plugin_naming_both(
    plugin_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _write_module(plugin_dir, "fake_plugin_good", GOOD)
    _write_module(
        plugin_dir,
        "fake_plugin_clash",
        """
        from posecli.hookspecs import hookimpl
        @hookimpl
        def posecli_register_codecs(register):
            register("another_codec", dict)
            register("good_codec", dict)
    """,
    )
    _fake_entry_points(monkeypatch, {"a_good": "fake_plugin_good", "b_clash": "fake_plugin_clash"})
    manager = PluginManager(autoload=True, only=None)
    clash = manager.plugins["b_clash"]
    assert (
        clash.error
        == "codec 'good_codec' from plugin 'b_clash' is already registered by plugin 'a_good'"
    )
    # all or nothing: the clashing plugin's other registration was rolled back
    assert "another_codec" not in manager.registry("codecs").names()
    assert manager.registry("codecs").get("good_codec").plugin == "a_good"


def test_misspelled_hook_name_is_caught(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(
        plugin_dir,
        "fake_plugin_typo",
        """
        from posecli.hookspecs import hookimpl
        @hookimpl
        def posecli_register_codec(register):
            register("typo_codec", dict)
    """,
    )
    _fake_entry_points(monkeypatch, {"typo": "fake_plugin_typo"})
    manager = PluginManager(autoload=True, only=None)
    error = manager.plugins["typo"].error
    assert (
        error
        == "fake_plugin_typo: unknown hook 'posecli_register_codec'; did you mean posecli_register_codecs?"
    )
    assert "typo_codec" not in manager.registry("codecs").names()


def test_hook_that_raises_is_recorded(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(
        plugin_dir,
        "fake_plugin_raises",
        """
        from posecli.hookspecs import hookimpl
        @hookimpl
        def posecli_register_heads(register):
            register("half_head", dict)
            raise RuntimeError("boom")
    """,
    )
    _fake_entry_points(monkeypatch, {"raises": "fake_plugin_raises"})
    manager = PluginManager(autoload=True, only=None)
    assert (
        manager.plugins["raises"].error
        == "fake_plugin_raises: posecli_register_heads raised RuntimeError: boom"
    )
    assert "half_head" not in manager.registry("heads").names()


def test_disable_autoload_env(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(plugin_dir, "fake_plugin_good", GOOD)
    _fake_entry_points(monkeypatch, {"good": "fake_plugin_good"})
    monkeypatch.setenv("POSECLI_DISABLE_PLUGIN_AUTOLOAD", "1")
    manager = PluginManager()
    assert "good_codec" not in manager.registry("codecs").names()
    assert list(manager.plugins) == ["posecli"]


def test_load_only_named_plugins_env(plugin_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_module(plugin_dir, "fake_plugin_good", GOOD)
    _write_module(
        plugin_dir,
        "fake_plugin_other",
        """
        from posecli.hookspecs import hookimpl
        @hookimpl
        def posecli_register_losses(register):
            register("other_loss", dict)
    """,
    )
    _fake_entry_points(monkeypatch, {"good": "fake_plugin_good", "other": "fake_plugin_other"})
    monkeypatch.setenv("POSECLI_LOAD_PLUGINS", "other")
    manager = PluginManager()
    assert "other_loss" in manager.registry("losses").names()
    assert "good_codec" not in manager.registry("codecs").names()


def test_add_plugin_directly() -> None:
    manager = PluginManager(autoload=False)

    class Direct:
        @staticmethod
        @hookimpl
        def posecli_register_skeletons(register):  # type: ignore[no-untyped-def]
            register("direct_skeleton", dict)

    info = manager.add_plugin(Direct, "direct")
    assert info.ok and info.components == {"skeletons": ["direct_skeleton"]}


def test_unknown_kind_is_a_clear_error() -> None:
    from posecli.errors import PluginError

    with pytest.raises(PluginError, match="unknown component kind 'codec'; did you mean 'codecs'"):
        PluginManager(autoload=False).registry("codec")


def test_every_register_hook_has_a_registry() -> None:
    manager = PluginManager(autoload=False)
    assert sorted(manager.registries) == sorted(REGISTER_HOOKS.values())


def test_command_clash_fails_the_plugin() -> None:
    import typer

    manager = PluginManager(autoload=False)

    class Clash:
        @staticmethod
        @hookimpl
        def posecli_register_commands(app):  # type: ignore[no-untyped-def]
            app.command("plugins")(lambda: None)

    manager.add_plugin(Clash, "clash")
    app = typer.Typer()
    manager.register_commands(app)
    assert (
        manager.plugins["clash"].error
        == "command 'plugins' from plugin 'clash' is already registered by plugin 'posecli'"
    )
    assert [c.name for c in app.registered_commands].count("plugins") == 1


def test_plugin_info_json_shape() -> None:
    info = plugins.PluginInfo("x", "1.0", "entry point", components={"codecs": ["a"], "heads": []})
    assert (
        info.to_dict()
        == SimpleNamespace(
            **{
                "name": "x",
                "version": "1.0",
                "source": "entry point",
                "modules": [],
                "components": {"codecs": ["a"]},
                "commands": [],
                "status": "ok",
                "error": None,
            }
        ).__dict__
    )
