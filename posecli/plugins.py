"""Plugin manager: built-ins first, then third-party entry points (group ``posecli``).

Every plugin, built-in or not, goes through the same hooks. Each plugin's hooks are called on
their own with a ``register`` callback bound to it, so every component knows its provider. A
plugin that fails to import, names an unknown hook, or whose hook raises (a duplicate name
included) is recorded as failed with its error; its partial registrations are rolled back and
everything else keeps working.

Environment switches:

- ``POSECLI_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry points (built-ins only).
- ``POSECLI_LOAD_PLUGINS=a,b``: load only these entry points (entry-point or distribution names).
"""

from __future__ import annotations

import difflib
import functools
import importlib
import os
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any

import pluggy

from posecli import hookspecs
from posecli.errors import PluginError
from posecli.registry import Registry

BUILTIN_PLUGIN = "posecli"

#: Modules registering the built-in components, in load order.
BUILTIN_MODULES: tuple[str, ...] = (
    "posecli.builtins.codecs",
    "posecli.builtins.models",
    "posecli.builtins.data",
    "posecli.builtins.lifting",
    "posecli.builtins.inference",
    "posecli.builtins.engine",
    "posecli.builtins.callbacks",
    "posecli.builtins.evaluation",
    "posecli.builtins.predict",
    "posecli.builtins.export",
    "posecli.builtins.commands",
)

ENTRY_POINT_GROUP = "posecli"
ENV_DISABLE = "POSECLI_DISABLE_PLUGIN_AUTOLOAD"
ENV_ONLY = "POSECLI_LOAD_PLUGINS"
COMMANDS_HOOK_NAME = hookspecs.COMMANDS_HOOK


@dataclass
class PluginInfo:
    """What one plugin (a distribution) is and what it registered."""

    name: str
    version: str | None
    source: str  # "builtin" or "entry point"
    modules: list[str] = field(default_factory=list)
    components: dict[str, list[str]] = field(default_factory=dict)
    commands: list[str] = field(default_factory=list)
    error: str | None = None
    traceback: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "source": self.source,
            "modules": self.modules,
            "components": {k: v for k, v in self.components.items() if v},
            "commands": self.commands,
            "status": "ok" if self.ok else "failed",
            "error": self.error,
        }


def _env_flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def _hook_names_hint(name: str) -> str:
    known = [*hookspecs.REGISTER_HOOKS, hookspecs.COMMANDS_HOOK]
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean {close[0]}?" if close else ""


class PluginManager:
    """Loads plugins lazily on first registry access and owns one :class:`Registry` per kind."""

    def __init__(self, *, autoload: bool | None = None, only: Iterable[str] | None = None) -> None:
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        if autoload is None:
            autoload = not _env_flag(ENV_DISABLE)
        if only is None and os.environ.get(ENV_ONLY, "").strip():
            only = [s.strip() for s in os.environ[ENV_ONLY].split(",") if s.strip()]
        self.autoload = autoload
        self.only = set(only) if only is not None else None
        self.registries: dict[str, Registry[Any]] = {
            kind: Registry(kind, loader=self.load) for kind in hookspecs.REGISTER_HOOKS.values()
        }
        self._plugins: dict[str, PluginInfo] = {}
        self._loaded = False

    @property
    def plugins(self) -> dict[str, PluginInfo]:
        """Plugin name → :class:`PluginInfo` (loads plugins on first access)."""
        self.load()
        return self._plugins

    # -- loading ---------------------------------------------------------------------------
    def load(self) -> None:
        """Register the built-ins, then every allowed entry point; idempotent."""
        if self._loaded:
            return
        self._loaded = True
        builtin = PluginInfo(BUILTIN_PLUGIN, _dist_version("posecli"), "builtin")
        self._plugins[BUILTIN_PLUGIN] = builtin
        for module_name in BUILTIN_MODULES:
            self._add(builtin, functools.partial(importlib.import_module, module_name), module_name)
        if self.autoload:
            for ep in _entry_points():
                dist = ep.dist.name if ep.dist is not None else ep.name
                if self.only is not None and ep.name not in self.only and dist not in self.only:
                    continue
                info = self._plugins.get(dist) or PluginInfo(
                    dist, ep.dist.version if ep.dist is not None else None, "entry point"
                )
                self._plugins[dist] = info
                self._add(info, ep.load, ep.value)

    def add_plugin(self, obj: object, name: str, *, version: str | None = None) -> PluginInfo:
        """Register a plugin object directly (tests, notebooks); guarded like entry points."""
        self.load()
        info = self._plugins.get(name) or PluginInfo(name, version, "direct")
        self._plugins[name] = info
        self._add(info, lambda: obj, getattr(obj, "__name__", repr(obj)))
        return info

    def _add(self, info: PluginInfo, load: Callable[[], object], where: str) -> None:
        """Import, validate and run one plugin module's register hooks, all or nothing."""
        info.modules.append(where)
        pm_name = f"{info.name}:{where}"
        try:
            obj = load()
        except Exception as exc:  # any import-time failure of third-party code
            self._fail(info, f"cannot import {where}: {type(exc).__name__}: {exc}")
            return
        unknown = _unknown_hooks(obj, self.pm)
        if unknown:
            hint = _hook_names_hint(unknown[0])
            self._fail(info, f"{where}: unknown hook {unknown[0]!r}{hint}")
            return
        try:
            self.pm.register(obj, name=pm_name)
            self.pm.check_pending()
        except (ValueError, pluggy.PluginValidationError) as exc:
            self._unregister(pm_name)
            self._fail(info, f"{where}: {exc}")
            return
        staged: list[tuple[str, str, Any, dict[str, Any]]] = []
        try:
            for hook_name, kind in hookspecs.REGISTER_HOOKS.items():
                for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                    if impl.plugin_name == pm_name:
                        impl.function(register=_stager(staged, kind))
        except Exception as exc:
            self._unregister(pm_name)
            self._fail(info, f"{where}: {hook_name} raised {type(exc).__name__}: {exc}")
            return
        done: list[tuple[str, str]] = []
        try:
            for kind, name, factory, opts in staged:
                self.registries[kind].register(name, factory, plugin=info.name, **opts)
                done.append((kind, name))
        except Exception as exc:
            for kind, name in done:
                self.registries[kind].unregister(name)
            self._unregister(pm_name)
            self._fail(info, str(exc))
            return
        for kind, name in done:
            info.components.setdefault(kind, []).append(name)

    def _unregister(self, pm_name: str) -> None:
        if self.pm.get_plugin(pm_name) is not None:
            self.pm.unregister(name=pm_name)

    def _fail(self, info: PluginInfo, message: str) -> None:
        """Record a failure; several failing modules of one plugin keep the first error."""
        if info.error is None:
            info.error = message
            info.traceback = traceback.format_exc()

    # -- using -----------------------------------------------------------------------------
    def registry(self, kind: str) -> Registry[Any]:
        try:
            return self.registries[kind]
        except KeyError:
            close = difflib.get_close_matches(kind, list(self.registries), n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise PluginError(
                f"unknown component kind {kind!r}{hint} (kinds: {', '.join(self.registries)})"
            ) from None

    def plugin_infos(self) -> list[PluginInfo]:
        return list(self.plugins.values())

    def register_commands(self, app: Any) -> None:
        """Call every plugin's ``posecli_register_commands(app)``, each guarded.

        Built-in commands come first; a plugin command whose name is taken is dropped and the
        plugin is marked failed with an error naming both providers.
        """
        self.load()
        owners: dict[str, str] = {}
        impls = self.pm.hook.posecli_register_commands.get_hookimpls()
        impls.sort(key=lambda impl: not impl.plugin_name.startswith(f"{BUILTIN_PLUGIN}:"))
        for impl in impls:
            plugin = impl.plugin_name.split(":", 1)[0]
            info = self._plugins[plugin]
            n_commands, n_groups = len(app.registered_commands), len(app.registered_groups)
            try:
                impl.function(app=app)
            except Exception as exc:
                del app.registered_commands[n_commands:], app.registered_groups[n_groups:]
                self._fail(
                    info,
                    f"{impl.plugin_name}: {COMMANDS_HOOK_NAME} raised {type(exc).__name__}: {exc}",
                )
                continue
            added = [*app.registered_commands[n_commands:], *app.registered_groups[n_groups:]]
            clash = [n for n in map(_command_name, added) if n in owners]
            if clash:
                del app.registered_commands[n_commands:], app.registered_groups[n_groups:]
                self._fail(
                    info,
                    f"command {clash[0]!r} from plugin {plugin!r} is already "
                    f"registered by plugin {owners[clash[0]]!r}",
                )
                continue
            for name in map(_command_name, added):
                owners[name] = plugin
                info.commands.append(name)


def _command_name(info: Any) -> str:
    """The command-line name Typer gives a registered command or group."""
    if info.name:
        return str(info.name)
    typer_instance = getattr(info, "typer_instance", None)
    if typer_instance is not None and typer_instance.info.name:
        return str(typer_instance.info.name)
    callback = info.callback
    return callback.__name__.replace("_", "-") if callback else "?"


def _unknown_hooks(obj: object, pm: pluggy.PluginManager) -> list[str]:
    """Names of functions marked ``@hookimpl`` on ``obj`` that match no hook specification."""
    marker = f"{hookspecs.PROJECT_NAME}_impl"
    return [
        name
        for name in dir(obj)
        if getattr(getattr(obj, name, None), marker, None) is not None and not _has_spec(pm, name)
    ]


def _has_spec(pm: pluggy.PluginManager, name: str) -> bool:
    caller = getattr(pm.hook, name, None)
    return caller is not None and caller.has_spec()


def _stager(staged: list[tuple[str, str, Any, dict[str, Any]]], kind: str) -> Callable[..., None]:
    """A ``register`` callback that records registrations for an all-or-nothing commit."""

    def register(
        name: str,
        factory: Any,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        help: str | None = None,
    ) -> None:
        staged.append((kind, name, factory, {"aliases": aliases, "help": help}))

    return register


def _dist_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _entry_points() -> list[metadata.EntryPoint]:
    return sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda ep: ep.name)


_manager: PluginManager | None = None


def get_plugin_manager() -> PluginManager:
    """The process-wide plugin manager (created on first use, reading the env switches)."""
    global _manager
    if _manager is None:
        _manager = PluginManager()
    return _manager


def reset_plugin_manager(manager: PluginManager | None = None) -> None:
    """Replace (or drop) the process-wide manager; used by tests."""
    global _manager
    _manager = manager


def registry(kind: str) -> Registry[Any]:
    """The registry of one component kind (``"codecs"``, ``"backbones"``...)."""
    return get_plugin_manager().registry(kind)
