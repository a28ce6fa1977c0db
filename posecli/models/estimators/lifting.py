"""The 2D→3D lifting estimator (MMPose ``PoseLifter``): 2D keypoint sequences in, 3D out.

Three modes, as for :class:`~posecli.models.pose_model.PoseModel`:

- ``model(inputs)`` (tensor mode, what export traces): codec-normalised 2D inputs — TCN layout
  ``(B, K·C, T)``, DSTformer layout ``(B, T, K, C)`` — → root-relative 3D ``(B, K, 3)`` /
  ``(B, T, K, 3)`` in codec units; with a trajectory model ``(pose, trajectory (B, 1, 3))``.
- ``model.loss(batch)`` → the head's (and trajectory head's) loss terms plus ``"loss"``.
- ``model.predict(batch)`` → keypoints ``(B, K, 3)`` / ``(B, T, K, 3)`` decoded by the codec
  (metres) and scores ``(B, K[, T])`` of ones, with the flip test when ``test_cfg.flip_test``.
  The root comes from ``batch["target_root"]`` when present (evaluation, as MMPose), else from
  the trajectory model when there is one, else the poses stay root-relative.

Flip test (codecs that centre x on the image: ``video_pose_lifting``, ``motionbert``): the x of
the normalised 2D input is negated and left/right keypoints are swapped; the prediction's x is
negated and swapped back, and the two are averaged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from posecli.recipe.schema import TestConfig

FLIPPABLE_CODECS = ("VideoPoseLifting", "MotionBERTLabel")


class PoseLifter(nn.Module):
    """Lifting model.

    Args:
        backbone: ``tcn`` or ``dstformer`` (any module returning a feature tuple).
        head: a lifting head (``temporal_regression_head``, ``motion_regression_head``).
        codec: the lifting codec (``image_pose_lifting``, ``video_pose_lifting``, ``motionbert``).
        traj_backbone: optional separate backbone of the trajectory model (shared if ``None``).
        traj_head: optional ``trajectory_regression_head``.
        num_keypoints: K of the 2D input.
        flip_indices: left/right swap of the skeleton (flip test).
        test_cfg: ``recipe.model.test`` (only ``flip_test`` is used).
    """

    kind = "lifting"

    def __init__(
        self,
        backbone: nn.Module,
        head: nn.Module,
        codec: Any = None,
        traj_backbone: nn.Module | None = None,
        traj_head: nn.Module | None = None,
        num_keypoints: int | None = None,
        flip_indices: Sequence[int] | None = None,
        test_cfg: TestConfig | None = None,
    ) -> None:
        super().__init__()
        self.backbone = backbone
        self.head = head
        if traj_head is not None:
            if traj_backbone is not None:
                self.traj_backbone = traj_backbone
            self.traj_head = traj_head
        self.codec = codec
        self.num_keypoints = num_keypoints
        self.flip_indices = list(flip_indices) if flip_indices is not None else None
        self.test_cfg = test_cfg or TestConfig(flip_test=False)

    @property
    def with_traj(self) -> bool:
        return hasattr(self, "traj_head")

    @property
    def causal(self) -> bool:
        """Whether the backbone is causal (the output frame is the last input frame)."""
        return bool(getattr(self.backbone, "causal", False))

    @property
    def sequence_layout(self) -> str:
        """``"channels"`` for ``(B, K·C, T)`` inputs (TCN), ``"tokens"`` for ``(B, T, K, C)``."""
        return "tokens" if type(self.codec).__name__ == "MotionBERTLabel" else "channels"

    # -- tensor mode ----------------------------------------------------------------------
    def extract_feats(
        self, inputs: torch.Tensor
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...] | None]:
        """Pose features and (with a trajectory model) trajectory features."""
        feats = tuple(self.backbone(inputs.float()))
        traj = None
        if self.with_traj:
            traj = (
                tuple(self.traj_backbone(inputs.float()))
                if hasattr(self, "traj_backbone")
                else feats
            )
        return feats, traj

    def forward(self, inputs: torch.Tensor) -> Any:
        """Root-relative 3D (codec units); with a trajectory model ``(pose, trajectory)``."""
        feats, traj = self.extract_feats(inputs)
        pose = self.head(feats)
        return (pose, self.traj_head(traj)) if traj is not None else pose

    # -- training -------------------------------------------------------------------------
    def loss(self, batch: Mapping[str, Any]) -> dict[str, torch.Tensor]:
        """Loss terms for a collated batch (``inputs`` plus the lifting codec's targets)."""
        feats, traj = self.extract_feats(batch["inputs"])
        losses = dict(self.head.loss(feats, batch))
        if traj is not None:
            losses.update(self.traj_head.loss(traj, batch))
        losses["loss"] = sum(v for k, v in losses.items() if k.startswith("loss"))
        return losses

    # -- inference ------------------------------------------------------------------------
    def _flip_inputs(self, inputs: torch.Tensor, fi: list[int]) -> torch.Tensor:
        if self.sequence_layout == "tokens":  # (B, T, K, C)
            out = inputs[:, :, fi].clone()
            out[..., 0] = -out[..., 0]
            return out
        b, kc, t = inputs.shape
        k = len(fi)
        x = inputs.reshape(b, k, kc // k, t)[:, fi].clone()
        x[:, :, 0] = -x[:, :, 0]
        return x.reshape(b, kc, t)

    @staticmethod
    def _flip_outputs(pose: torch.Tensor, fi: list[int]) -> torch.Tensor:
        out = pose[..., fi, :].clone()
        out[..., 0] = -out[..., 0]
        return out

    def _flip_list(self, batch: Mapping[str, Any]) -> list[int]:
        fi = batch.get("flip_indices")
        if fi is not None:
            t = torch.as_tensor(fi)
            return (t[0] if t.ndim == 2 else t).tolist()
        if self.flip_indices is None:
            raise ValueError("flip test needs flip_indices (from the skeleton)")
        return self.flip_indices

    @torch.no_grad()
    def predict_outputs(
        self, inputs: torch.Tensor, flip_indices: Sequence[int] | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Raw root-relative poses (flip-averaged when ``flip_indices``) and trajectories."""
        out = self(inputs)
        pose, traj = out if self.with_traj else (out, None)
        if flip_indices is not None:
            fi = list(flip_indices)
            if getattr(self.codec, "remove_root", False) and pose.shape[-2] != len(fi):
                raise ValueError("flip test is not available when the codec removes the root")
            fout = self(self._flip_inputs(inputs, fi))
            fpose, ftraj = fout if self.with_traj else (fout, None)
            pose = (pose + self._flip_outputs(fpose, fi)) * 0.5
            if traj is not None and ftraj is not None:
                ftraj = ftraj.clone()
                ftraj[..., 0] = -ftraj[..., 0]
                traj = (traj + ftraj) * 0.5
        return pose, traj

    def decode(
        self, pose: torch.Tensor, root: Any = None, camera_wh: Any = None, factor: Any = None
    ) -> np.ndarray:
        """Codec decode of raw poses → keypoints ``(B, [T,] K, 3)`` in metres (float32 numpy).

        Args:
            pose: head outputs.
            root: ``(B, 3)`` root added back (``image/video_pose_lifting``), or ``None``.
            camera_wh: ``(B, 2)`` image sizes (``motionbert``).
            factor: ``(B, T)`` depth factors (``motionbert``).
        """
        coords = pose.detach().float().cpu().numpy()
        name = type(self.codec).__name__
        if name == "MotionBERTLabel":
            wh = None if camera_wh is None else np.asarray(camera_wh, np.float32).reshape(-1, 2)
            kp, _ = self.codec.batch_decode(
                coords,
                None if wh is None else wh[:, 0],
                None if wh is None else wh[:, 1],
                None if factor is None else np.asarray(factor, np.float32),
            )
            kp = np.asarray(kp)
            if root is not None:  # (B, 3) or per frame (B, T, 3)
                r = np.asarray(root, np.float32).reshape(kp.shape[0], -1, 3)
                kp = kp + (r[:, :, None] if kp.ndim == 4 else r)
            return kp
        if root is None and getattr(self.codec, "remove_root", False):
            root = np.zeros((coords.shape[0], 3), np.float32)
        kp, _ = self.codec.batch_decode(coords, root)
        return np.asarray(kp)

    @torch.no_grad()
    def predict(self, batch: Mapping[str, Any]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints ``(B, [T,] K, 3)`` (metres; camera space when a root is known), scores ones."""
        inputs = batch["inputs"]
        fi = self._flip_list(batch) if self.test_cfg.flip_test else None
        if fi is not None and type(self.codec).__name__ not in FLIPPABLE_CODECS:
            raise ValueError(
                f"flip test needs an image-centred codec ({', '.join(FLIPPABLE_CODECS)}); "
                "set model.test.flip_test = false"
            )
        pose, traj = self.predict_outputs(inputs, fi)
        root = batch.get("target_root")
        if root is not None:
            root = torch.as_tensor(root).float().cpu().numpy()
        elif traj is not None:
            root = traj.float().reshape(pose.shape[0], 3).cpu().numpy()
        kp = self.decode(pose, root, batch.get("camera_wh"), batch.get("factor"))
        device = inputs.device
        keypoints = torch.as_tensor(kp, dtype=torch.float32, device=device)
        return keypoints, torch.ones(keypoints.shape[:-1], device=device)


__all__ = ["FLIPPABLE_CODECS", "PoseLifter"]
