"""Heads of the 2D→3D lifters: features → root-relative 3D coordinates.

- :class:`TemporalRegressionHead` (VideoPose3D, SimpleBaseline3D): a 1×1 ``Conv1d`` on the last
  TCN feature ``(B, C, 1)`` → ``(B, num_joints, 3)``.
- :class:`TrajectoryRegressionHead`: the same layer predicting the root trajectory
  ``(B, 1, 3)`` (camera space) for the optional trajectory model.
- :class:`MotionRegressionHead` (MotionBERT): ``Linear → tanh → Linear`` per token,
  ``(B, T, K, C)`` → ``(B, T, K, 3)``.

Losses read the lifting codecs' targets: ``lifting_target_label`` with
``lifting_target_weights`` (pose heads), ``target_root`` with ``trajectory_weights``
(trajectory head). Names follow MMPose 1.3.2 (``conv``, ``pre_logits.fc``, ``fc``).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from posecli.models.heads.base import build_loss


def _target(batch: Mapping[str, Any], key: str, ref: torch.Tensor) -> torch.Tensor:
    if key not in batch:
        raise KeyError(f"the batch lacks {key!r} (add generate_target with a lifting codec)")
    return torch.as_tensor(batch[key]).to(ref)


class _LiftingHead(nn.Module):
    loss_module: nn.Module
    label_key = "lifting_target_label"
    weight_key = "lifting_target_weights"
    loss_name = "loss_pose3d"

    def _label(self, batch: Mapping[str, Any], out: torch.Tensor) -> torch.Tensor:
        return _target(batch, self.label_key, out).reshape(out.shape)

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        """``{loss_name: value, "mpjpe_<...>": detached MPJPE in label units}``."""
        out = self(feats)
        label = self._label(batch, out)
        weight = _target(batch, self.weight_key, out).reshape(out.shape[:-1])
        value = self.loss_module(out, label, weight)
        err = torch.norm(out.detach() - label, dim=-1)
        w = weight > 0
        mpjpe = (err * w).sum() / w.sum().clamp_min(1)
        return {self.loss_name: value, f"mpjpe{self.loss_name.removeprefix('loss')}": mpjpe}


class TemporalRegressionHead(_LiftingHead):
    """``Conv1d(in_channels, num_joints·3, 1)`` on the last feature map ``(B, C, T)``.

    Args:
        in_channels: feature channels.
        num_joints: joints predicted (K, or K-1 when the codec removes the root).
        loss: loss table (default MSE with target weights, MMPose's).
    """

    def __init__(
        self, in_channels: int, num_joints: int, loss: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.num_joints = int(num_joints)
        self.conv = nn.Conv1d(in_channels, self.num_joints * 3, 1)
        self.loss_module = build_loss(loss, {"name": "mse", "use_target_weight": True})
        nn.init.normal_(self.conv.weight, std=0.01)
        nn.init.zeros_(self.conv.bias)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(B, C, 1)`` → ``(B, num_joints, 3)`` (the single output frame)."""
        x = self.conv(feats[-1])
        if x.shape[-1] != 1:
            raise ValueError(
                f"{type(self).__name__}: the backbone gave {x.shape[-1]} output frames, expected 1 "
                "(the input sequence must equal the receptive field)"
            )
        return x.reshape(x.shape[0], self.num_joints, 3)


class TrajectoryRegressionHead(TemporalRegressionHead):
    """Root trajectory ``(B, num_joints=1, 3)``; trained on ``target_root`` (MPJPE loss)."""

    label_key = "target_root"
    weight_key = "trajectory_weights"
    loss_name = "loss_traj"

    def __init__(
        self, in_channels: int, num_joints: int = 1, loss: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(
            in_channels, num_joints, loss or {"name": "mpjpe", "use_target_weight": True}
        )

    def loss(
        self, feats: Sequence[torch.Tensor], batch: Mapping[str, Any]
    ) -> dict[str, torch.Tensor]:
        out = self(feats)
        label = _target(batch, self.label_key, out).reshape(out.shape)
        raw = torch.as_tensor(batch[self.weight_key]).to(out)
        # per-frame trajectory weight: the root joint's weight (B, 1)
        weight = raw.reshape(raw.shape[0], -1)[:, :1] if raw.ndim > 1 else raw.reshape(-1, 1)
        value = self.loss_module(out, label, weight)
        return {
            self.loss_name: value,
            "mpjpe_traj": torch.norm(out.detach() - label, dim=-1).mean(),
        }


class MotionRegressionHead(_LiftingHead):
    """MotionBERT head: ``pre_logits.fc`` (``Linear`` + tanh) → ``fc`` per token.

    Args:
        in_channels: token width of the backbone.
        out_channels: coordinates per keypoint (3).
        embedding_size: hidden width (0: no hidden layer... as MMPose: ``fc`` becomes identity).
        loss: loss table (default MSE with target weights, MMPose's).
    """

    def __init__(
        self,
        in_channels: int = 256,
        out_channels: int = 3,
        embedding_size: int = 512,
        loss: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.pre_logits = nn.Sequential(
            OrderedDict([("fc", nn.Linear(in_channels, embedding_size)), ("act", nn.Tanh())])
        )
        self.fc: nn.Module = (
            nn.Linear(embedding_size, out_channels) if embedding_size > 0 else nn.Identity()
        )
        self.loss_module = build_loss(loss, {"name": "mse", "use_target_weight": True})
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=0.01)
                nn.init.zeros_(m.bias)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """``(B, T, K, C)`` → ``(B, T, K, out_channels)``."""
        return self.fc(self.pre_logits(feats[-1]))


__all__ = ["MotionRegressionHead", "TemporalRegressionHead", "TrajectoryRegressionHead"]
