"""The backbone contract: images (N,3,H,W) → a tuple of feature maps.

Every backbone declares, for the stages it returns (chosen by ``out_indices``), their channel
counts ``out_channels`` and their strides relative to the input ``strides`` (same order as the
returned tuple), like timm's ``feature_info``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch
from torch import nn

if TYPE_CHECKING:
    from typing_extensions import Self


class Backbone(nn.Module):
    """Base class: subclasses set ``out_channels`` and ``strides`` and return a tuple."""

    out_channels: list[int]
    strides: list[int]

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:  # pragma: no cover - abstract
        raise TypeError(f"{type(self).__name__} must implement forward")


class StagedBackbone(Backbone):
    """Backbone whose first stages can be frozen (``frozen_stages``), kept so by ``train()``.

    Subclasses set ``frozen_stages`` (and ``norm_eval`` if they support it) and list the
    modules to freeze in :meth:`_frozen_modules`; they call :meth:`_freeze` after building.
    """

    frozen_stages: int = -1
    norm_eval: bool = False

    def _frozen_modules(self) -> list[nn.Module]:  # pragma: no cover - abstract
        """The stem and stages frozen when ``frozen_stages >= 0``."""
        raise TypeError(f"{type(self).__name__} must implement _frozen_modules")

    def _freeze(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules(self._frozen_modules())

    def train(self, mode: bool = True) -> Self:
        super().train(mode)
        self._freeze()
        if mode and self.norm_eval:
            set_norm_eval(self)
        return self


def check_out_indices(out_indices: Sequence[int], num_stages: int, name: str) -> tuple[int, ...]:
    """Normalise ``out_indices`` (negative allowed) and reject out-of-range values."""
    result = []
    for i in out_indices:
        j = i + num_stages if i < 0 else i
        if not 0 <= j < num_stages:
            raise ValueError(
                f"{name}: out_indices {tuple(out_indices)} out of range 0..{num_stages - 1}"
            )
        result.append(j)
    if not result:
        raise ValueError(f"{name}: out_indices must not be empty")
    return tuple(result)


def freeze_modules(modules: Sequence[nn.Module]) -> None:
    """Put modules in eval mode and stop their gradients (``frozen_stages``)."""
    for m in modules:
        m.eval()
        for p in m.parameters():
            p.requires_grad = False


def set_norm_eval(module: nn.Module) -> None:
    """Keep every BatchNorm of ``module`` in eval mode (``norm_eval=True``)."""
    for m in module.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()
