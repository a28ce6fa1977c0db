"""Hook specifications: the whole plugin contract of posecli.

Every hook is called once per plugin with a ``register`` callback bound to that plugin, so each
registered component remembers the distribution that provided it. The built-in components are
registered through these very hooks (see :mod:`posecli.builtins`).

``register(name, factory, *, aliases=(), help=None)``:

- ``name``: snake_case name used in recipes and on the command line (``"msra_heatmap"``).
- ``factory``: a class or function building the component, or a lazy ``"module:attr"`` string
  that is imported on first use (keeps ``posecli --help`` from importing torch).
- ``aliases``: other accepted names, e.g. the MMPose class name (``"MSRAHeatmap"``).
- ``help``: one line shown by ``posecli list``; defaults to the first docstring line.

A plugin is any module or object with functions decorated by :data:`hookimpl`, exposed through
an entry point in the group ``posecli``::

    [project.entry-points.posecli]
    my_plugin = "my_package.plugin"
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import pluggy

PROJECT_NAME = "posecli"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


class RegisterCallback(Protocol):
    """The ``register`` callable each ``posecli_register_*`` hook receives."""

    def __call__(
        self,
        name: str,
        factory: Callable[..., Any] | str,
        *,
        aliases: tuple[str, ...] | list[str] = (),
        help: str | None = None,
    ) -> None: ...


@hookspec
def posecli_register_codecs(register: RegisterCallback) -> None:
    """Register codecs: keypoints ↔ training targets / model outputs (``encode``/``decode``)."""


@hookspec
def posecli_register_backbones(register: RegisterCallback) -> None:
    """Register backbones: ``nn.Module`` mapping images (N,3,H,W) to feature maps."""


@hookspec
def posecli_register_necks(register: RegisterCallback) -> None:
    """Register necks: modules between backbone features and the head."""


@hookspec
def posecli_register_heads(register: RegisterCallback) -> None:
    """Register heads: modules producing codec outputs, owning decode and flip test."""


@hookspec
def posecli_register_losses(register: RegisterCallback) -> None:
    """Register losses: ``nn.Module`` comparing head outputs with encoded targets."""


@hookspec
def posecli_register_datasets(register: RegisterCallback) -> None:
    """Register dataset formats yielding sample dicts (see ``posecli.data``)."""


@hookspec
def posecli_register_transforms(register: RegisterCallback) -> None:
    """Register pipeline transforms: callables ``(sample: dict, rng) -> dict``."""


@hookspec
def posecli_register_converters(register: RegisterCallback) -> None:
    """Register dataset readers/writers used by ``posecli convert-dataset``."""


@hookspec
def posecli_register_skeletons(register: RegisterCallback) -> None:
    """Register skeletons (dataset metainfo): keypoint names, links, flips, sigmas."""


@hookspec
def posecli_register_detectors(register: RegisterCallback) -> None:
    """Register box detectors (person/animal) used by ``posecli predict --detector``."""


@hookspec
def posecli_register_metrics(register: RegisterCallback) -> None:
    """Register evaluation metrics: :class:`posecli.evaluation.Metric` subclasses that
    accumulate batches (``process``), ``compute`` named floats and declare those names
    up front (``reported_names``) so recipes can be checked before any work starts."""


@hookspec
def posecli_register_callbacks(register: RegisterCallback) -> None:
    """Register training callbacks: objects with ``on_<event>`` methods called by the trainer
    (see ``posecli.engine.callbacks``)."""


@hookspec
def posecli_register_commands(app: Any) -> None:
    """Add commands to the ``posecli`` command line; ``app`` is a ``typer.Typer``."""


#: Hook name → registry kind, for every ``posecli_register_<kind>`` hook taking ``register``.
REGISTER_HOOKS: dict[str, str] = {
    "posecli_register_codecs": "codecs",
    "posecli_register_backbones": "backbones",
    "posecli_register_necks": "necks",
    "posecli_register_heads": "heads",
    "posecli_register_losses": "losses",
    "posecli_register_datasets": "datasets",
    "posecli_register_transforms": "transforms",
    "posecli_register_converters": "converters",
    "posecli_register_skeletons": "skeletons",
    "posecli_register_detectors": "detectors",
    "posecli_register_metrics": "metrics",
    "posecli_register_callbacks": "callbacks",
}

COMMANDS_HOOK = "posecli_register_commands"
