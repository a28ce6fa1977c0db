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

from posecli.codecs.flip import flip_coordinates, flip_simcc, simcc_flip_shift
from posecli.codecs.rotation import unrotate_simcc
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

    def unrotate(self, outputs: Outputs, quarter_turns: int) -> Outputs:
        """Bring the outputs of a crop turned ``quarter_turns`` × 90° (``numpy.rot90``)
        back into the plain frame (the rotation test, :mod:`posecli.codecs.rotation`)."""
        raise TypeError(f"{type(self).__name__} has no rotation test")  # pragma: no cover

    @staticmethod
    def merge(plain: Outputs, flipped: Outputs) -> Outputs:
        """Average plain and flipped-back outputs (element-wise, tuples item by item)."""
        if isinstance(plain, (tuple, list)):
            return type(plain)((a + b) * 0.5 for a, b in zip(plain, flipped, strict=True))
        return (plain + flipped) * 0.5

    def decode(self, outputs: Outputs, codec: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints ``(B,K,2)`` in input pixels and scores ``(B,K)`` via ``codec.batch_decode``."""
        raise TypeError(f"{type(self).__name__} cannot decode")  # pragma: no cover

    def _weighted_loss(
        self, pred: Outputs, target: Outputs, ref: torch.Tensor, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        """``loss_module(pred, target, weights on ref)`` as ``{"loss", "loss_kpt"}``."""
        w = weights_of(batch)
        loss = self.loss_module(pred, target, None if w is None else w.to(ref))
        return {"loss": loss, "loss_kpt": loss.detach()}


class CoordinateHead(BaseHead):
    """Shared loss, flip and decode of heads that output coordinates ``(B,K,C)`` in ``[0,1]``.

    Subclasses set ``input_size`` ``(w, h)`` (for the exact flip shift).
    """

    input_size: tuple[int, int]

    def _loss_input(self, outputs: torch.Tensor) -> torch.Tensor:
        """What the loss sees of the raw outputs (default: the outputs themselves)."""
        return outputs

    def loss_from_outputs(
        self, outputs: torch.Tensor, batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        target = batch_target(batch, "keypoint_labels", outputs)
        return self._weighted_loss(self._loss_input(outputs), target, outputs, batch)

    def flip_back(
        self,
        outputs: torch.Tensor,
        flip_indices: Sequence[int] | torch.Tensor,
        test_cfg: TestConfig,
    ) -> torch.Tensor:
        return flip_coordinates(outputs, list(flip_indices), self.input_size, test_cfg.shift_coords)

    def decode(self, outputs: torch.Tensor, codec: Any) -> tuple[torch.Tensor, torch.Tensor]:
        return decode_with(codec, outputs)


class SimCCHeadBase(BaseHead):
    """Shared loss, flip and decode of heads that output ``(simcc_x (B,K,Wx), simcc_y (B,K,Wy))``."""

    def loss_from_outputs(
        self, outputs: tuple[torch.Tensor, torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        pred_x, pred_y = outputs
        gt_x = batch_target(batch, "keypoint_x_labels", pred_x)
        gt_y = batch_target(batch, "keypoint_y_labels", pred_y)
        return self._weighted_loss((pred_x, pred_y), (gt_x, gt_y), pred_x, batch)

    def flip_back(
        self,
        outputs: tuple[torch.Tensor, torch.Tensor],
        flip_indices: Sequence[int] | torch.Tensor,
        test_cfg: TestConfig,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift = simcc_flip_shift(self.simcc_split_ratio) if test_cfg.simcc_flip_shift else 0.0
        return flip_simcc(outputs[0], outputs[1], list(flip_indices), shift_bins=shift)

    def unrotate(
        self, outputs: tuple[torch.Tensor, torch.Tensor], quarter_turns: int
    ) -> tuple[torch.Tensor, torch.Tensor]:
        shift = simcc_flip_shift(self.simcc_split_ratio)  # the exact reversal
        return unrotate_simcc(outputs[0], outputs[1], quarter_turns, shift)

    def decode(
        self, outputs: tuple[torch.Tensor, torch.Tensor], codec: Any
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return decode_with(codec, outputs[0], outputs[1])


def weights_of(batch: Mapping[str, Any], key: str = "keypoint_weights") -> torch.Tensor | None:
    """The per-keypoint weights ``(B,K)`` of a batch, if present."""
    w = batch.get(key)
    return None if w is None else torch.as_tensor(w).float()


def batch_target(batch: Mapping[str, Any], key: str, ref: torch.Tensor) -> torch.Tensor:
    """``batch[key]`` as a tensor with ``ref``'s device and dtype."""
    return torch.as_tensor(batch[key]).to(ref)


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
