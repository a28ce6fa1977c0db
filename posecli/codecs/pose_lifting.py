"""2D→3D lifting labels: root-relative 3D targets and normalised 2D inputs."""

from __future__ import annotations

from typing import Any

import numpy as np

from posecli.codecs.base import BaseCodec
from posecli.codecs.utils.backend import restorer, to_numpy
from posecli.codecs.utils.lifting import (
    camera_size,
    check_root_index,
    concat_visibility,
    target_weights,
)


def _opt(a: Any) -> np.ndarray | None:
    return None if a is None else np.asarray(a, np.float32)


class _Lifting(BaseCodec):
    """Shared root handling, input layout and decoding of the lifting codecs."""

    num_keypoints: int
    root_index: int
    remove_root: bool
    save_index: bool
    reshape_keypoints: bool
    concat_vis: bool

    def _init_common(
        self,
        num_keypoints: int,
        root_index: int,
        remove_root: bool,
        save_index: bool,
        reshape_keypoints: bool,
        concat_vis: bool,
    ) -> None:
        """Set and check the options every lifting codec has."""
        self.num_keypoints = int(num_keypoints)
        self.root_index = int(root_index)
        check_root_index(self.root_index, self.num_keypoints)
        self.remove_root = bool(remove_root)
        self.save_index = bool(save_index)
        self.reshape_keypoints = bool(reshape_keypoints)
        self.concat_vis = bool(concat_vis)

    def _target(self, kp: np.ndarray, target: Any, target_visible: Any) -> tuple[np.ndarray, ...]:
        tgt = to_numpy(target) if target is not None else kp[0]
        if tgt.ndim < 2 or tgt.shape[-2] <= self.root_index:
            raise ValueError(f"lifting_target must have shape (..., K, C), got {tgt.shape}")
        if np.isnan(tgt).any():
            raise ValueError("lifting_target contains NaN")
        weights = target_weights(tgt.shape[:-1], target_visible)
        root = tgt[..., self.root_index, :]
        return tgt, weights, root

    def _drop_root(
        self, label: np.ndarray, weights: np.ndarray, out: dict[str, Any]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Remove the root joint from ``label`` (..., K, C) and ``weights`` (..., K) if asked."""
        if self.remove_root:
            label = np.delete(label, self.root_index, axis=-2)
            weights = np.delete(weights, self.root_index, axis=-1)
            out["target_root_removed"] = True
            if self.save_index:
                out["target_root_index"] = self.root_index
        return label, weights

    def _layout(self, labels: np.ndarray, vis: np.ndarray) -> np.ndarray:
        """2D inputs (N, K, C) → optional visibility channel, optional ``(K·C, N)`` layout."""
        labels = concat_visibility(labels, vis, self.concat_vis)
        if self.reshape_keypoints:
            labels = labels.transpose(1, 2, 0).reshape(-1, labels.shape[0])
        return labels

    def _restore_root(self, kps: np.ndarray, root: Any) -> np.ndarray:
        if root is None:
            return kps
        r = to_numpy(root)
        r = r.reshape(r.shape[0] if r.ndim > 1 else 1, 1, -1) if r.ndim <= 2 else r[:, None]
        kps = kps + r
        if self.remove_root:
            kps = np.insert(kps, self.root_index, r[:, 0], axis=1)
        return kps

    def _denormalise(self, kps: np.ndarray) -> np.ndarray:
        """Undo the target normalisation of ``kps`` (B, K|K-1, 3); identity by default."""
        return kps

    def decode(self, coords: Any, target_root: Any = None) -> tuple[Any, Any]:
        """One sample (N, K|K-1, 3) [+ root (3,)] → keypoints (N, K, 3), scores ones (N, K)."""
        return self.batch_decode(coords, target_root)

    def batch_decode(self, coords: Any, target_root: Any = None) -> tuple[Any, Any]:
        """Coordinates (B, K|K-1, 3) → de-normalised, root restored (B, K, 3); scores ones."""
        back = restorer(coords)
        kps = to_numpy(coords)
        if kps.ndim != 3:
            raise ValueError(f"{type(self).__name__}: coords must be (B, K, 3), got {kps.shape}")
        kps = self._restore_root(self._denormalise(kps), target_root)
        return back(kps.astype(np.float32)), back(np.ones(kps.shape[:-1], np.float32))


class ImagePoseLifting(_Lifting):
    """Single-frame lifting (SimpleBaseline3D).

    Args:
        num_keypoints: K.
        root_index: root joint.
        remove_root: drop the root joint from the target.
        save_index: record ``target_root_index`` when the root is removed.
        reshape_keypoints: flatten 2D inputs to ``(K·2, N)`` (MMPose's layout).
        concat_vis: append visibility to the 2D inputs.
        keypoints_mean, keypoints_std: normalise 2D inputs ``(K, 2)``.
        target_mean, target_std: normalise 3D targets ``(K|K-1, 3)``.

    Encoded: ``keypoint_labels``, ``keypoint_labels_visible``, ``lifting_target_label``
    (root-relative), ``lifting_target_weights``, ``trajectory_weights``, ``target_root``.
    ``batch_decode(coords (B, K|K-1, 3), target_root (B, 3) | None)`` → ``(B, K, 3)``, ones.
    """

    name = "image_pose_lifting"
    mmpose_name = "ImagePoseLifting"

    def __init__(
        self,
        num_keypoints: int,
        root_index: int = 0,
        remove_root: bool = False,
        save_index: bool = False,
        reshape_keypoints: bool = True,
        concat_vis: bool = False,
        keypoints_mean: Any = None,
        keypoints_std: Any = None,
        target_mean: Any = None,
        target_std: Any = None,
    ) -> None:
        self._capture(locals())
        self._init_common(
            num_keypoints, root_index, remove_root, save_index, reshape_keypoints, concat_vis
        )
        self.keypoints_mean, self.keypoints_std = _opt(keypoints_mean), _opt(keypoints_std)
        self.target_mean, self.target_std = _opt(target_mean), _opt(target_std)
        if (keypoints_mean is None) != (keypoints_std is None):
            raise ValueError("keypoints_mean and keypoints_std must be given together")
        if (target_mean is None) != (target_std is None):
            raise ValueError("target_mean and target_std must be given together")

    def encode(
        self,
        keypoints: Any,
        keypoints_visible: Any = None,
        lifting_target: Any = None,
        lifting_target_visible: Any = None,
        **aux: Any,
    ) -> dict[str, Any]:
        """2D keypoints (N, K, 2) and a 3D target (K, 3) → normalised inputs and targets."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible, dims=(2, 3))
        tgt, weights, root = self._target(kp, lifting_target, lifting_target_visible)
        label = tgt - root[..., None, :]
        traj = weights
        if lifting_target_visible is None and tgt.shape[-1] > 2:  # MMPose: 1 / depth
            depth = tgt[..., 2]
            traj = np.where(depth != 0, 1 / np.where(depth != 0, depth, 1), 0)
        out: dict[str, Any] = {}
        label, weights = self._drop_root(label, weights, out)
        labels = kp.copy()
        if self.keypoints_mean is not None:
            labels = (labels - self.keypoints_mean) / self.keypoints_std
        if self.target_mean is not None:
            label = (label - self.target_mean) / self.target_std
        labels = self._layout(labels, vis)
        out.update(
            keypoint_labels=labels.astype(np.float32),
            keypoint_labels_visible=vis,
            lifting_target_label=label.astype(np.float32),
            lifting_target_weights=weights.astype(np.float32),
            trajectory_weights=np.asarray(traj, np.float32),
            target_root=root.astype(np.float32),
        )
        return out

    def _denormalise(self, kps: np.ndarray) -> np.ndarray:
        """Undo ``target_mean`` / ``target_std`` on ``kps`` (B, K|K-1, 3)."""
        if self.target_mean is not None:
            kps = kps * self.target_std + self.target_mean
        return kps


class VideoPoseLifting(_Lifting):
    """Sequence lifting (VideoPose3D): 2D normalised by the camera image size.

    Args:
        num_keypoints: K.
        zero_center: make the target root-relative.
        root_index: root joint.
        remove_root: drop the root joint from the target.
        save_index: record ``target_root_index`` when the root is removed.
        reshape_keypoints: flatten 2D inputs to ``(K·2, T)``.
        concat_vis: append visibility to the 2D inputs.
        normalize_camera: also normalise the intrinsics ``f``, ``c`` like the keypoints.

    ``encode(keypoints (T, K, 2), visible, lifting_target (T, K, 3), lifting_target_visible,
    camera_param={"w", "h", ["f", "c"]})``; 2D → ``(kp - (w/2, h/2)) / (w/2)``.
    ``batch_decode(coords (B, K|K-1, 3), target_root (B, 3) | None)`` → ``(B, K, 3)``, ones.
    """

    name = "video_pose_lifting"
    mmpose_name = "VideoPoseLifting"

    def __init__(
        self,
        num_keypoints: int,
        zero_center: bool = True,
        root_index: int = 0,
        remove_root: bool = False,
        save_index: bool = False,
        reshape_keypoints: bool = True,
        concat_vis: bool = False,
        normalize_camera: bool = False,
    ) -> None:
        self._capture(locals())
        self._init_common(
            num_keypoints, root_index, remove_root, save_index, reshape_keypoints, concat_vis
        )
        self.zero_center = bool(zero_center)
        self.normalize_camera = bool(normalize_camera)

    def encode(
        self,
        keypoints: Any,
        keypoints_visible: Any = None,
        lifting_target: Any = None,
        lifting_target_visible: Any = None,
        camera_param: dict[str, Any] | None = None,
        **aux: Any,
    ) -> dict[str, Any]:
        """2D keypoints (T, K, 2), 3D target (T, K, 3), camera → inputs, targets, camera."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible, dims=(2, 3))
        tgt, weights, root = self._target(kp, lifting_target, lifting_target_visible)
        cam, w, h = camera_size(camera_param, "VideoPoseLifting")
        out: dict[str, Any] = {}
        label = tgt
        if self.zero_center:
            label, weights = self._drop_root(tgt - root[..., None, :], weights, out)
        centre = np.array([0.5 * w, 0.5 * h], np.float32)
        labels = (kp[..., :2] - centre) / (0.5 * w)
        if self.normalize_camera:
            if "f" not in cam or "c" not in cam:
                raise ValueError("normalize_camera needs camera_param 'f' and 'c'")
            cam["f"] = np.asarray(cam["f"], np.float32) / (0.5 * w)
            cam["c"] = (np.asarray(cam["c"], np.float32).reshape(-1) - centre) / (0.5 * w)
        labels = self._layout(labels, vis)
        out.update(
            keypoint_labels=labels.astype(np.float32),
            keypoint_labels_visible=vis,
            lifting_target_label=label.astype(np.float32),
            lifting_target_weights=weights.astype(np.float32),
            trajectory_weights=weights.astype(np.float32),
            target_root=root.astype(np.float32),
            camera_param=cam,
        )
        return out
