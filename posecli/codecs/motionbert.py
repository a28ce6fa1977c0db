"""MotionBERT labels: 2D and 2.5D coordinates normalised by the image width."""

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


class MotionBERTLabel(BaseCodec):
    """MotionBERT: ``x, y → kp / w · 2 - (1, h/w)``, depth ``z / w · 2``.

    Args:
        num_keypoints: K.
        root_index: root joint.
        remove_root: unused by MotionBERT itself (kept for MMPose compatibility).
        save_index: unused (kept for MMPose compatibility).
        concat_vis: append visibility to the 2D inputs.
        rootrel: the model predicts root-relative poses (root set to 0 at decode).
        mode: ``"train"`` or ``"test"``.

    ``encode(keypoints (T, K, 2), visible, lifting_target (T, K, 3) in mm, camera_param={"w",
    "h", ["factor" (T,)]})``: the target becomes ``target · 1000 / factor`` (pixels) normalised
    like the 2D inputs, root-relative. ``batch_decode(coords (B, T, K, 3) | (B, K, 3), w, h,
    factor)`` inverts it: de-normalise by ``w``, multiply by ``factor``, root-relative, ÷ 1000.
    """

    name = "motionbert"
    mmpose_name = "MotionBERTLabel"

    def __init__(
        self,
        num_keypoints: int,
        root_index: int = 0,
        remove_root: bool = False,
        save_index: bool = False,
        concat_vis: bool = False,
        rootrel: bool = False,
        mode: str = "test",
    ) -> None:
        self._capture(locals())
        if mode not in ("train", "test"):
            raise ValueError(f"mode must be 'train' or 'test', got {mode!r}")
        self.num_keypoints = int(num_keypoints)
        self.root_index = int(root_index)
        check_root_index(self.root_index, self.num_keypoints)
        self.remove_root = bool(remove_root)
        self.save_index = bool(save_index)
        self.concat_vis = bool(concat_vis)
        self.rootrel = bool(rootrel)
        self.mode = mode

    def encode(
        self,
        keypoints: Any,
        keypoints_visible: Any = None,
        lifting_target: Any = None,
        lifting_target_visible: Any = None,
        camera_param: dict[str, Any] | None = None,
        **aux: Any,
    ) -> dict[str, Any]:
        """2D keypoints (T, K, 2) and 3D target (T, K, 3) → normalised inputs and targets."""
        kp, vis = self._check_keypoints(keypoints, keypoints_visible, dims=(2, 3))
        cam, w, h = camera_size(camera_param, "MotionBERTLabel")
        shift = np.array([1.0, h / w], np.float32)
        labels = concat_visibility(kp[..., :2] / w * 2 - shift, vis, self.concat_vis)
        out: dict[str, Any] = {
            "keypoint_labels": labels.astype(np.float32),
            "keypoint_labels_visible": vis,
        }
        if lifting_target is not None:
            tgt = to_numpy(lifting_target)
            factor = np.asarray(cam.get("factor", np.ones(tgt.shape[:-2])), np.float32)
            pix = tgt * 1000.0 / factor[..., None, None]
            pix = pix - pix[..., self.root_index : self.root_index + 1, :]
            label = pix / w * 2
            weights = target_weights(tgt.shape[:-1], lifting_target_visible)
            out.update(
                lifting_target_label=label.astype(np.float32),
                lifting_target_weights=weights,
                factor=factor,
            )
        return out

    def decode(self, coords: Any, w: Any = None, h: Any = None, factor: Any = None) -> tuple:
        """One sample: coords (T, K, 3) → keypoints (T, K, 3) in metres, scores ones."""
        kps, scores = self.batch_decode(
            coords[None],
            None if w is None else np.atleast_1d(w),
            None if h is None else np.atleast_1d(h),
            None if factor is None else np.asarray(factor)[None],
        )
        return kps[0], scores[0]

    def batch_decode(
        self, coords: Any, w: Any = None, h: Any = None, factor: Any = None
    ) -> tuple[Any, Any]:
        """Coordinates (B, [T,] K, 3), image sizes w, h (B,), factor (B, [T]) → (B, [T,] K, 3)."""
        back = restorer(coords)
        kps = to_numpy(coords).copy()
        if kps.ndim not in (3, 4) or kps.shape[-1] != 3:
            raise ValueError(f"MotionBERTLabel: coords must be (B, [T,] K, 3), got {kps.shape}")
        extra = (1,) * (kps.ndim - 1)
        if self.rootrel:
            kps[..., self.root_index, :] = 0
        if w is not None:
            wb = to_numpy(w).reshape(-1, *extra)
            hb = to_numpy(h).reshape(-1, *extra)
            kps[..., 0:1] = (kps[..., 0:1] + 1) * wb / 2
            kps[..., 1:2] = (kps[..., 1:2] + hb / wb) * wb / 2
            kps[..., 2:] = kps[..., 2:] * wb / 2
        if factor is not None:
            f = to_numpy(factor)
            kps = kps * f.reshape(*f.shape, *(1,) * (kps.ndim - f.ndim))
        kps = kps - kps[..., self.root_index : self.root_index + 1, :]
        kps = kps / 1000.0
        return back(kps.astype(np.float32)), back(np.ones(kps.shape[:-1], np.float32))
