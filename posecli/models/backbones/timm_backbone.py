"""``timm:<model>`` adapter: any timm model as a multi-stage backbone (timm ``features_only``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from posecli.errors import BuildError
from posecli.models.backbones.base import Backbone


class TimmBackbone(Backbone):
    """A timm model with ``features_only=True``.

    Args:
        model_name: timm model name (the part after ``timm:`` in the recipe).
        pretrained: let timm load its pretrained weights (may download: off by default).
        out_indices: feature levels to return (timm's indices; default the last).
        **kwargs: passed to ``timm.create_model``.
    """

    def __init__(
        self,
        model_name: str,
        pretrained: bool = False,
        out_indices: Sequence[int] = (-1,),
        **kwargs: Any,
    ) -> None:
        super().__init__()
        try:
            import timm
        except ImportError as exc:
            raise BuildError(f"backbone 'timm:{model_name}' needs timm (pip install timm)") from exc
        probe = timm.create_model(model_name, pretrained=False, features_only=True, **kwargs)
        n = len(probe.feature_info.channels())
        indices = tuple(i % n for i in out_indices)
        self.model = timm.create_model(
            model_name, pretrained=pretrained, features_only=True, out_indices=indices, **kwargs
        )
        self.out_channels = list(self.model.feature_info.channels())
        self.strides = list(self.model.feature_info.reduction())

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(self.model(x))
