"""The head contract: features → outputs; loss against codec targets; flip merge; decode.

A head receives the backbone/neck feature tuple and uses the last map (unless it says
otherwise). ``forward`` returns raw outputs (what export traces). Keypoints from :meth:`decode`
are in input-crop pixels, ``(B,K,2)``, with scores ``(B,K)``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.recipe.schema import TestConfig

Outputs = Any  # a tensor or a tuple of tensors, depending on the head


def build_loss(cfg: Mapping[str, Any] | nn.Module | None, default: Mapping[str, Any]) -> nn.Module:
    """Build the head's loss from its recipe sub-table (``model.head.loss``)."""
    if isinstance(cfg, nn.Module):
        return cfg
    from posecli.plugins import registry

    return registry("losses").build_from(dict(cfg or default), path="model.head.loss")


class BaseHead(nn.Module):
    """Base class of all heads (see module docstring)."""

    loss_module: nn.Module

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        """Loss terms against the batch's codec targets; always holds ``"loss"``."""
        return self.loss_from_outputs(self(feats), batch)

    def loss_from_outputs(
        self, outputs: Outputs, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        raise TypeError(f"{type(self).__name__} does not define a loss")  # pragma: no cover

    def postprocess(self, outputs: Outputs) -> Outputs:
        """Test-time transform of raw outputs before flip merging and decoding (default: none)."""
        return outputs

    def flip_back(
        self, outputs: Outputs, flip_indices: Sequence[int] | torch.Tensor, test_cfg: TestConfig
    ) -> Outputs:
        """Bring the outputs of a horizontally flipped input back into the plain frame."""
        raise TypeError(f"{type(self).__name__} has no flip test")  # pragma: no cover

    @staticmethod
    def merge(plain: Outputs, flipped: Outputs) -> Outputs:
        """Average plain and flipped-back outputs (element-wise, tuples item by item)."""
        if isinstance(plain, (tuple, list)):
            return type(plain)((a + b) * 0.5 for a, b in zip(plain, flipped, strict=True))
        return (plain + flipped) * 0.5

    def decode(self, outputs: Outputs, codec: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints ``(B,K,2)`` in input pixels and scores ``(B,K)`` via ``codec.batch_decode``."""
        raise TypeError(f"{type(self).__name__} cannot decode")  # pragma: no cover


def weights_of(batch: Mapping[str, Any], key: str = "keypoint_weights") -> torch.Tensor | None:
    """The per-keypoint weights ``(B,K)`` of a batch, if present."""
    w = batch.get(key)
    return None if w is None else torch.as_tensor(w).float()


def as_tensor_like(value: Any, ref: torch.Tensor) -> torch.Tensor:
    """``value`` as a float tensor on ``ref``'s device and dtype."""
    return torch.as_tensor(value, device=ref.device).to(ref.dtype)


def decode_with(codec: Any, *outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Call ``codec.batch_decode`` on detached float32 tensors; return torch tensors."""
    if codec is None:
        raise ValueError("this model has no codec: build it from a recipe to decode outputs")
    args = [o.detach().float() for o in outputs]
    kp, scores = codec.batch_decode(*args)
    device = args[0].device
    return (
        torch.as_tensor(kp, dtype=torch.float32, device=device),
        torch.as_tensor(scores, dtype=torch.float32, device=device),
    )
