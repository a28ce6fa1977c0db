"""A weighted sum of losses that all take the same ``(pred, target, weight)``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn


class CombinedLoss(nn.Module):
    """``Σ wᵢ · lossᵢ(pred, target, weight)``.

    Args:
        losses: loss tables (``{name = "...", ...}``) built through the losses registry.
        weights: one multiplier per loss (default all 1).
    """

    def __init__(
        self, losses: Sequence[Mapping[str, Any]], weights: Sequence[float] | None = None
    ) -> None:
        super().__init__()
        from posecli.plugins import registry

        if not losses:
            raise ValueError("combined loss needs at least one loss")
        reg = registry("losses")
        self.losses = nn.ModuleList(
            reg.build_from(dict(cfg), path=f"model.head.loss.losses.{i}")
            for i, cfg in enumerate(losses)
        )
        self.weights = list(weights) if weights is not None else [1.0] * len(losses)
        if len(self.weights) != len(self.losses):
            raise ValueError(f"{len(self.losses)} losses but {len(self.weights)} weights")

    def forward(self, pred: Any, target: Any, weight: torch.Tensor | None = None) -> torch.Tensor:
        total: torch.Tensor | float = 0.0
        for w, loss in zip(self.weights, self.losses, strict=True):
            total = total + w * loss(pred, target, weight)
        assert isinstance(total, torch.Tensor)
        return total
