"""Transforms of 2D→3D lifting samples (see :mod:`posecli.data.datasets.h36m` for the keys).

- :class:`RandomFlipAroundRoot` (MMPose ``RandomFlipAroundRoot``): mirror the 2D sequence and
  the 3D target horizontally about a centre (the root joint, or a fixed x) and swap left/right.
- :func:`encode_lifting`: what ``generate_target`` does for lifting samples — run the lifting
  codec and pack the model input ``inputs`` (TCN ``(K·C, T)`` / MotionBERT ``(T, K, C)``),
  ``lifting_target_label``, ``lifting_target_weights``, ``trajectory_weights``,
  ``target_root`` (3,) / (T, 3), ``camera_wh`` (2,) and ``factor`` (T,).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Sample keys collated into lifting batches (besides ``inputs``).
LIFTING_BATCH_KEYS = (
    "lifting_target",
    "lifting_target_visible",
    "lifting_target_label",
    "lifting_target_weights",
    "trajectory_weights",
    "target_root",
    "camera_wh",
    "factor",
)


def flip_around_center(
    keypoints: np.ndarray,
    visible: np.ndarray | None,
    flip_indices: Sequence[int],
    center_mode: str = "root",
    center_x: float = 0.5,
    center_index: int = 0,
) -> tuple[np.ndarray, np.ndarray | None]:
    """Mirror ``keypoints (..., K, C)`` about ``x_c`` and swap left/right joints.

    ``center_mode = "root"``: ``x_c`` is each pose's joint ``center_index``; ``"static"``:
    ``x_c = center_x``. ``x' = 2·x_c - x``; other coordinates are kept.
    """
    if center_mode == "root":
        xc = keypoints[..., center_index : center_index + 1, 0]
    elif center_mode == "static":
        xc = np.float32(center_x)
    else:
        raise ValueError(f"center_mode must be 'root' or 'static', got {center_mode!r}")
    out = keypoints[..., list(flip_indices), :].copy()
    out[..., 0] = 2 * xc - out[..., 0]
    vis = None if visible is None else np.asarray(visible)[..., list(flip_indices)].copy()
    return out, vis


def _flip_camera(cam: Mapping[str, Any]) -> dict[str, Any]:
    """The camera of a mirrored image: ``c_x → w - c_x``, tangential ``p_x`` negated."""
    out = dict(cam)
    if "c" in out and "w" in out:
        c = np.asarray(out["c"], np.float32).copy().reshape(-1)
        c[0] = float(out["w"]) - c[0]
        out["c"] = c
    if "p" in out:
        p = np.asarray(out["p"], np.float32).copy().reshape(-1)
        p[0] = -p[0]
        out["p"] = p
    return out


class RandomFlipAroundRoot:
    """Random horizontal flip of a lifting sample about its root (MMPose semantics).

    Args:
        keypoints_flip_cfg: ``{center_mode, center_x, center_index}`` for the 2D ``keypoints``.
        target_flip_cfg: the same for ``lifting_target`` (3D, camera space).
        flip_prob: probability of flipping.
        flip_camera: also mirror the camera principal point.
        flip_label: flip the encoded ``inputs`` / ``lifting_target_label`` instead (after
            ``generate_target``, MotionBERT's pipeline; use ``center_mode = "static"``,
            ``center_x = 0``).
    """

    def __init__(
        self,
        keypoints_flip_cfg: Mapping[str, Any] | None = None,
        target_flip_cfg: Mapping[str, Any] | None = None,
        flip_prob: float = 0.5,
        flip_camera: bool = False,
        flip_label: bool = False,
    ) -> None:
        self.keypoints_flip_cfg = dict(keypoints_flip_cfg or {})
        self.target_flip_cfg = dict(target_flip_cfg or {})
        for cfg in (self.keypoints_flip_cfg, self.target_flip_cfg):
            unknown = set(cfg) - {"center_mode", "center_x", "center_index"}
            if unknown:
                raise ValueError(f"unknown flip option(s): {', '.join(sorted(unknown))}")
        self.flip_prob = float(flip_prob)
        self.flip_camera = bool(flip_camera)
        self.flip_label = bool(flip_label)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if rng.random() >= self.flip_prob:
            return sample
        fi = sample.get("flip_indices")
        if fi is None:
            raise ValueError("RandomFlipAroundRoot: the sample has no flip_indices")
        if self.flip_label:
            self._flip_encoded(sample, list(fi))
        else:
            kp, vis = flip_around_center(
                np.asarray(sample["keypoints"], np.float32),
                sample.get("keypoints_visible"),
                fi,
                **self.keypoints_flip_cfg,
            )
            sample["keypoints"] = kp
            if vis is not None:
                sample["keypoints_visible"] = vis
            if "lifting_target" in sample:
                tgt, tvis = flip_around_center(
                    np.asarray(sample["lifting_target"], np.float32),
                    sample.get("lifting_target_visible"),
                    fi,
                    **self.target_flip_cfg,
                )
                sample["lifting_target"] = tgt
                if tvis is not None:
                    sample["lifting_target_visible"] = tvis
        if self.flip_camera and "camera_param" in sample:
            sample["camera_param"] = _flip_camera(sample["camera_param"])
        sample["flip"] = True
        return sample

    def _flip_encoded(self, sample: dict[str, Any], fi: list[int]) -> None:
        if "inputs" not in sample:
            raise ValueError("RandomFlipAroundRoot(flip_label=True) must follow generate_target")
        inputs = np.asarray(sample["inputs"], np.float32)
        if inputs.ndim == 3:  # (T, K, C)
            sample["inputs"], _ = flip_around_center(inputs, None, fi, **self.keypoints_flip_cfg)
        else:  # (K·C, T)
            k = len(fi)
            x = inputs.reshape(k, -1, inputs.shape[-1]).transpose(2, 0, 1)  # (T, K, C)
            x, _ = flip_around_center(x, None, fi, **self.keypoints_flip_cfg)
            sample["inputs"] = x.transpose(1, 2, 0).reshape(inputs.shape)
        for key, cfg in (("lifting_target_label", self.target_flip_cfg),):
            if key in sample and np.asarray(sample[key]).shape[-2] == len(fi):
                sample[key], _ = flip_around_center(
                    np.asarray(sample[key], np.float32), None, fi, **cfg
                )
        if "lifting_target_weights" in sample:
            w = np.asarray(sample["lifting_target_weights"])
            if w.shape[-1] == len(fi):
                sample["lifting_target_weights"] = w[..., fi]


def encode_lifting(codecs: Sequence[Any], sample: dict[str, Any]) -> dict[str, Any]:
    """Encode a lifting sample with its (single) lifting codec and pack the model inputs."""
    if len(codecs) != 1:
        raise ValueError("generate_target: a lifting sample takes exactly one lifting codec")
    codec = codecs[0]
    kps = np.asarray(sample["keypoints"], np.float32)
    vis = np.asarray(sample.get("keypoints_visible", np.ones(kps.shape[:-1])), np.float32)
    cam = dict(sample.get("camera_param") or {})
    if "factor" in sample:
        cam["factor"] = np.asarray(sample["factor"], np.float32)
    kwargs: dict[str, Any] = {
        "lifting_target": np.asarray(sample["lifting_target"], np.float32),
        "lifting_target_visible": sample.get("lifting_target_visible"),
    }
    if cam:
        kwargs["camera_param"] = cam
    out = codec.encode(kps, vis, **kwargs)
    sample["inputs"] = np.asarray(out.pop("keypoint_labels"), np.float32)
    out.pop("keypoint_labels_visible", None)
    out.pop("camera_param", None)
    tgt = np.asarray(sample["lifting_target"], np.float32)
    root_index = int(getattr(codec, "root_index", 0))
    out.setdefault("target_root", tgt[..., root_index, :])
    if "w" in cam and "h" in cam:
        out["camera_wh"] = np.array([cam["w"], cam["h"]], np.float32)
    for key, value in out.items():
        sample[key] = value
    # the 2D inputs stay as keypoints_2d: ``keypoints`` is the ground truth of top-down metrics
    sample["keypoints_2d"] = sample.pop("keypoints")
    sample["keypoints_2d_visible"] = sample.pop("keypoints_visible", vis)
    sample["extra_meta_keys"] = ("action", "subject", "target_img_path")
    return sample


__all__ = ["LIFTING_BATCH_KEYS", "RandomFlipAroundRoot", "encode_lifting", "flip_around_center"]
