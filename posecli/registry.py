"""Registries: one per component kind, filled by plugins through the hooks.

Names are snake_case (``msra_heatmap``); aliases (the MMPose class name, ``MSRAHeatmap``) resolve
to the same entry. A name ending in ``:`` is a *prefix family*: ``timm:`` serves
``timm:resnet18`` and its factory receives the part after the colon as first argument.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from posecli.errors import (
    BuildError,
    DuplicateNameError,
    PoseCliError,
    RegistryError,
    UnknownNameError,
    describe,
)

T = TypeVar("T")

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*:?$")


def _first_doc_line(obj: object) -> str:
    doc = inspect.getdoc(obj) or ""
    return doc.strip().splitlines()[0] if doc.strip() else ""


@dataclass
class Entry(Generic[T]):
    """One registered component: its names, its factory and the plugin that provided it."""

    name: str
    factory_ref: Callable[..., T] | str
    plugin: str
    aliases: tuple[str, ...] = ()
    help_text: str | None = None
    _resolved: Callable[..., T] | None = field(default=None, repr=False)

    @property
    def is_prefix(self) -> bool:
        return self.name.endswith(":")

    @property
    def factory(self) -> Callable[..., T]:
        """The factory, importing a lazy ``"module:attr"`` reference on first use."""
        if self._resolved is None:
            ref = self.factory_ref
            if isinstance(ref, str):
                module_name, _, attr = ref.partition(":")
                try:
                    obj: Any = importlib.import_module(module_name)
                    for part in attr.split("."):
                        obj = getattr(obj, part)
                except (ImportError, AttributeError) as exc:
                    raise BuildError(
                        f"cannot import {self.name!r} ({ref}) from plugin {self.plugin!r}: {exc}"
                    ) from exc
                self._resolved = obj
            else:
                self._resolved = ref
        return self._resolved

    @property
    def help(self) -> str:
        if self.help_text is not None:
            return self.help_text
        if isinstance(self.factory_ref, str):
            return ""
        return _first_doc_line(self.factory_ref)


class Registry(Generic[T]):
    """Name → factory table of one component kind (``codecs``, ``backbones``...)."""

    def __init__(self, kind: str, *, loader: Callable[[], None] | None = None) -> None:
        self.kind = kind
        self._entries: dict[str, Entry[T]] = {}
        self._lookup: dict[str, str] = {}  # every name and alias → canonical name
        self._loader = loader

    # -- filling -------------------------------------------------------------------------
    def register(
        self,
        name: str,
        factory: Callable[..., T] | str,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        help: str | None = None,
        plugin: str = "unknown",
    ) -> Entry[T]:
        """Add a component; a name or alias already taken raises :class:`DuplicateNameError`."""
        if not isinstance(name, str) or not _NAME_RE.match(name):
            raise RegistryError(
                f"{self.singular} name {name!r} from plugin {plugin!r} must be snake_case "
                "(lowercase letters, digits and '_')"
            )
        if not (callable(factory) or (isinstance(factory, str) and ":" in factory)):
            raise RegistryError(
                f"{self.singular} {name!r} from plugin {plugin!r}: factory must be callable "
                "or a 'module:attr' string"
            )
        aliases = tuple(aliases)
        for key in (name, *aliases):
            if key in self._lookup:
                other = self._entries[self._lookup[key]]
                raise DuplicateNameError(
                    f"{self.singular} {key!r} from plugin {plugin!r} is already registered by "
                    f"plugin {other.plugin!r}"
                )
        entry: Entry[T] = Entry(name, factory, plugin, aliases, help)
        self._entries[name] = entry
        for key in (name, *aliases):
            self._lookup[key] = name
        return entry

    def unregister(self, name: str) -> None:
        """Remove one entry (and its aliases) by canonical name."""
        entry = self._entries.pop(name)
        for key in (entry.name, *entry.aliases):
            self._lookup.pop(key, None)

    # -- reading -------------------------------------------------------------------------
    @property
    def singular(self) -> str:
        return self.kind[:-1] if self.kind.endswith("s") else self.kind

    def _ensure_loaded(self) -> None:
        if self._loader is not None:
            loader, self._loader = self._loader, None
            loader()

    def names(self, pattern: str | None = None) -> list[str]:
        """Sorted canonical names, optionally filtered by a glob-free substring ``pattern``."""
        self._ensure_loaded()
        names = sorted(self._entries)
        if pattern:
            low = pattern.lower()
            names = [
                n
                for n in names
                if low in n.lower() or any(low in a.lower() for a in self._entries[n].aliases)
            ]
        return names

    def entries(self) -> list[Entry[T]]:
        self._ensure_loaded()
        return [self._entries[n] for n in sorted(self._entries)]

    def __contains__(self, name: object) -> bool:
        try:
            self.get(str(name))
        except UnknownNameError:
            return False
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        self._ensure_loaded()
        return len(self._entries)

    def get(self, name: str) -> Entry[T]:
        """The entry for ``name`` or an alias; unknown names list close matches."""
        self._ensure_loaded()
        key = self._lookup.get(name)
        if key is None:
            folded = name.replace("-", "_")
            key = self._lookup.get(folded) or next(
                (v for k, v in self._lookup.items() if k.lower() == folded.lower()), None
            )
        if key is None and ":" in name:
            key = self._lookup.get(name.split(":", 1)[0] + ":")
        if key is None:
            raise UnknownNameError(self._unknown_message(name))
        return self._entries[key]

    def _unknown_message(self, name: str) -> str:
        close = difflib.get_close_matches(name, list(self._lookup), n=3, cutoff=0.6)
        if not close:
            close = difflib.get_close_matches(
                name.lower(), [k.lower() for k in self._lookup], n=3, cutoff=0.6
            )
        hint = f"; did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        return (
            f"unknown {self.singular} {name!r}{hint} "
            f"(`posecli list {self.kind}` shows all {len(self._entries)})"
        )

    # -- building ------------------------------------------------------------------------
    def build(self, name: str, *, _path: str | None = None, **kwargs: Any) -> T:
        """Build ``name`` with ``kwargs``, checked against the factory's signature.

        ``_path`` is the dotted recipe location (``model.backbone``) used in error messages.
        """
        entry = self.get(name)
        path = _path or self.kind
        factory = entry.factory
        args: tuple[Any, ...] = ()
        if entry.is_prefix:
            args = (name.split(":", 1)[1],)
        check_kwargs(
            factory, kwargs, path=path, what=f"{self.singular} {entry.name!r}", n_args=len(args)
        )
        try:
            return factory(*args, **kwargs)
        except PoseCliError as exc:
            if isinstance(exc, BuildError) or str(exc).startswith(path):
                raise
            raise BuildError(f"{path}: {exc}") from exc
        except ValueError as exc:
            raise BuildError(f"{path}: {exc}") from exc
        except Exception as exc:  # a bad value the factory did not check, or a plugin's bug
            raise BuildError(
                f"{path} ({self.singular} {entry.name!r} from plugin {entry.plugin}): "
                f"{describe(exc)}"
            ) from exc

    def build_from(self, cfg: Mapping[str, Any], *, path: str | None = None, **extra: Any) -> T:
        """Build from a recipe table ``{"name": ..., **arguments}``; ``extra`` adds arguments."""
        path = path or self.kind
        if "name" not in cfg:
            raise BuildError(f"{path}: missing key 'name' (the {self.singular} to use)")
        kwargs = {k: v for k, v in cfg.items() if k != "name"}
        kwargs.update(extra)
        return self.build(str(cfg["name"]), _path=path, **kwargs)


def check_kwargs(
    factory: Callable[..., Any],
    kwargs: Mapping[str, Any],
    *,
    path: str,
    what: str,
    n_args: int = 0,
    check_missing: bool = True,
) -> None:
    """Raise :class:`BuildError` naming ``path.key`` for unknown or missing keyword arguments.

    ``check_missing=False`` skips the missing-argument test (arguments a builder fills in).
    """
    try:
        sig = inspect.signature(factory)
    except (TypeError, ValueError):
        return
    params = list(sig.parameters.values())
    if any(p.kind is p.VAR_KEYWORD for p in params):
        accepted: set[str] | None = None
    else:
        accepted = {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    if accepted is not None:
        for key in kwargs:
            if key not in accepted:
                close = difflib.get_close_matches(key, sorted(accepted), n=1, cutoff=0.5)
                hint = (
                    f"; did you mean {close[0]}?"
                    if close
                    else f" (accepted: {', '.join(sorted(accepted)) or 'none'})"
                )
                raise BuildError(f"{path}.{key}: unknown argument of {what}{hint}")
    if not check_missing:
        return
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    for p in positional[n_args:] + [p for p in params if p.kind is p.KEYWORD_ONLY]:
        if p.default is p.empty and p.name not in kwargs:
            raise BuildError(f"{path}: missing argument {p.name!r} of {what}")


def registry_table(registries: Mapping[str, Registry[Any]]) -> dict[str, list[str]]:
    """Kind → sorted names, for display."""
    return {kind: reg.names() for kind, reg in registries.items()}
