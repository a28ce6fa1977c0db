"""posecli: top-down 2D pose estimation from one command line.

MMPose's codecs, models and numerics behind a Typer CLI, with every component (codecs,
backbones, heads, datasets...) registered through pluggy hooks so third-party packages are
first-class citizens.

The library entry points are imported lazily, so ``import posecli`` stays light::

    from posecli import Predictor, build_model, load_checkpoint, load_recipe
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0.dev0"

__all__ = ["Predictor", "__version__", "build_model", "load_checkpoint", "load_recipe"]

_LAZY = {
    "Predictor": "posecli.runtime.predictor",
    "build_model": "posecli.api",
    "load_checkpoint": "posecli.api",
    "load_recipe": "posecli.recipe",
}

if TYPE_CHECKING:
    from posecli.api import build_model, load_checkpoint
    from posecli.recipe import load_recipe
    from posecli.runtime.predictor import Predictor


def __getattr__(name: str) -> Any:
    """Import the public API on first access (PEP 562)."""
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'posecli' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
