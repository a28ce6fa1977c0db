"""Building a pipeline of transforms from recipe tables and running it."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from posecli.errors import PoseCliError, describe

Transform = Callable[[dict[str, Any], np.random.Generator], dict[str, Any]]


class Compose:
    """Run transforms in order: ``sample = t(sample, rng)`` for each ``t``."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        where = (sample.get("img_path"), sample.get("id"))
        for i, t in enumerate(self.transforms):
            try:
                sample = t(sample, rng)
            except PoseCliError:
                raise
            except Exception as exc:  # name the transform, its plugin and the sample
                kind = type(t)
                plugin = kind.__module__.split(".")[0]
                raise PoseCliError(
                    f"pipeline step {i} ({kind.__name__} from {plugin}) on {where[0]} "
                    f"(instance id={where[1]}): {describe(exc)}"
                ) from exc
        return sample

    def __repr__(self) -> str:
        return "Compose(" + ", ".join(type(t).__name__ for t in self.transforms) + ")"


def build_transform(
    table: Mapping[str, Any], *, path: str = "pipeline", defaults: Mapping[str, Any] | None = None
) -> Transform:
    """Build one transform from ``{name = ..., **args}``; ``defaults`` fill arguments the
    factory accepts but the table leaves out (``input_size``, ``encoder`` from the recipe)."""
    from posecli.plugins import registry

    reg = registry("transforms")
    cfg = dict(table)
    if "name" not in cfg and "type" in cfg:  # MMPose spelling
        cfg["name"] = cfg.pop("type")
    if defaults:
        factory = reg.get(str(cfg.get("name", ""))).factory
        try:
            params: Mapping[str, Any] = inspect.signature(factory).parameters
        except (TypeError, ValueError):
            params = {}
        for key, value in defaults.items():
            if key in params and key not in cfg and value is not None:
                cfg[key] = value
    return reg.build_from(cfg, path=path)


def build_pipeline(
    tables: Sequence[Mapping[str, Any]],
    *,
    path: str = "pipeline",
    defaults: Mapping[str, Any] | None = None,
) -> Compose:
    """A :class:`Compose` from recipe tables (each error names ``path.<i>``)."""
    return Compose(
        [build_transform(t, path=f"{path}.{i}", defaults=defaults) for i, t in enumerate(tables)]
    )


__all__ = ["Compose", "Transform", "build_pipeline", "build_transform"]
