"""Direct coordinate regression heads: plain (``RegressionHead``) and RLE (``RLEHead``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads.base import CoordinateHead, build_loss


class RegressionHead(CoordinateHead):
    """Flatten the (pooled) feature and regress normalised coordinates with one linear layer.

    Args:
        in_channels: flattened feature size (channels after a ``gap`` neck).
        num_joints: K.
        input_size: model input ``(w, h)`` (for the exact flip shift).
        loss: loss table (default ``smooth_l1`` with target weights).

    Input ``(B,C)`` or ``(B,C,1,1)`` → coordinates ``(B,K,2)`` in ``[0,1]`` of the input size.
    """

    coord_dims = 2

    def __init__(
        self,
        in_channels: int,
        num_joints: int,
        input_size: Sequence[int] = (192, 256),
        loss: Mapping[str, Any] | nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.num_joints = num_joints
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.fc = nn.Linear(in_channels, num_joints * self.coord_dims)
        self.loss_module = build_loss(loss, self._default_loss())

    def _default_loss(self) -> dict[str, Any]:
        return {"name": "smooth_l1", "use_target_weight": True}

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        x = torch.flatten(feats[-1], 1)
        return self.fc(x).reshape(-1, self.num_joints, self.coord_dims)


class RLEHead(RegressionHead):
    """RLE head: regresses coordinates and a per-axis sigma, ``(B,K,4)`` raw in tensor mode.

    At test time (:meth:`postprocess`) the sigma logits pass through a sigmoid, so the codec's
    score is ``mean(1 - sigma)``. The loss (default ``rle_loss``) owns the RealNVP flow.
    """

    coord_dims = 4

    def _default_loss(self) -> dict[str, Any]:
        return {"name": "rle_loss", "use_target_weight": True}

    def _loss_input(self, outputs: torch.Tensor) -> torch.Tensor:
        return self.postprocess(outputs)

    def postprocess(self, outputs: torch.Tensor) -> torch.Tensor:
        """Sigmoid on the sigma channels (``[..., 2:]``)."""
        return torch.cat((outputs[..., :2], outputs[..., 2:].sigmoid()), dim=-1)
