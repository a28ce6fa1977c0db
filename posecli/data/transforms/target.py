"""GenerateTarget: encode ``transformed_keypoints`` with one or several codecs; PackPoseInputs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def _build_codec(cfg: Any, path: str) -> Any:
    if not isinstance(cfg, Mapping):
        return cfg  # an already built codec
    from posecli.plugins import registry

    return registry("codecs").build_from(dict(cfg), path=path)


def _takes_rng(codec: Any) -> bool:
    """Whether ``codec.encode`` draws random numbers (``rng=``; CID's root jitter)."""
    import inspect

    return "rng" in inspect.signature(codec.encode).parameters


def _extra_inputs(codec: Any, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
    """``rng`` for codecs that draw random numbers, and the sample's values of the codec's
    ``auxiliary_encode_keys`` (MMPose's name: e.g. ``bbox``, ``category_id``, ``area``)."""
    extra: dict[str, Any] = {"rng": rng} if _takes_rng(codec) else {}
    for key in getattr(codec, "auxiliary_encode_keys", ()):
        if key in sample:
            extra[key] = sample[key]
    return extra


class GenerateTarget:
    """Encode the input-space keypoints into training targets (MMPose ``GenerateTarget``).

    Args:
        encoder: a codec table (``{name = "simcc", input_size = [192, 256], ...}``) or a list of
            them; default: the recipe's ``[codec]``. With several codecs, keys they share are
            kept as lists in codec order.
        use_dataset_keypoint_weights: multiply ``keypoint_weights`` by the skeleton's joint weights.
        multilevel: accepted for MMPose compatibility (several codecs already give lists).
    """

    def __init__(
        self,
        encoder: Mapping[str, Any] | list[Mapping[str, Any]],
        use_dataset_keypoint_weights: bool = False,
        multilevel: bool = False,
    ) -> None:
        cfgs = list(encoder) if isinstance(encoder, (list, tuple)) else [encoder]
        self.codecs = [_build_codec(c, f"GenerateTarget.encoder[{i}]") for i, c in enumerate(cfgs)]
        self.use_dataset_keypoint_weights = bool(use_dataset_keypoint_weights)
        self.multilevel = bool(multilevel)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if "lifting_target" in sample:  # 2D→3D lifting sample (posecli.data.datasets.h36m)
            from posecli.data.transforms.lifting import encode_lifting

            return encode_lifting(self.codecs, sample)
        # bottom-up pipelines warp ``keypoints`` themselves (MMPose: no transformed_keypoints)
        key = "transformed_keypoints" if "transformed_keypoints" in sample else "keypoints"
        kps = np.asarray(sample[key], np.float32)
        vis = np.asarray(sample["keypoints_visible"], np.float32)
        outs = [
            codec.encode(kps, vis, **_extra_inputs(codec, sample, rng)) for codec in self.codecs
        ]
        if len(outs) == 1:
            merged: dict[str, Any] = dict(outs[0])
        else:
            merged = {}
            for key in dict.fromkeys(k for o in outs for k in o):
                vals = [o[key] for o in outs if key in o]
                merged[key] = vals if len(vals) > 1 else vals[0]
        if self.use_dataset_keypoint_weights and "dataset_keypoint_weights" in sample:
            jw = np.asarray(sample["dataset_keypoint_weights"], np.float32)
            w = merged.get("keypoint_weights")
            if isinstance(w, list):
                merged["keypoint_weights"] = [x * jw for x in w]
            elif w is not None:
                merged["keypoint_weights"] = w * jw
        sample.update(merged)
        return sample


class PackPoseInputs:
    """Final step kept for MMPose pipelines: checks the sample is ready for collation.

    Args:
        meta_keys: extra sample keys to carry into ``batch["meta"]``.
        pack_transformed: accepted for MMPose compatibility (``transformed_keypoints`` is
            always packed).
    """

    def __init__(
        self, meta_keys: list[str] | tuple[str, ...] = (), pack_transformed: bool = False
    ) -> None:
        self.meta_keys = tuple(meta_keys)

    def __call__(self, sample: dict[str, Any], rng: np.random.Generator) -> dict[str, Any]:
        if "img" not in sample:
            raise ValueError(
                "PackPoseInputs: the sample has no 'img' (add LoadImage and TopdownAffine)"
            )
        if "img_pending" in sample:  # a lazy flip no warp folded in (bottom-up pipelines)
            from posecli.data.transforms.bottomup import apply_pending

            apply_pending(sample)
        if self.meta_keys:
            sample["extra_meta_keys"] = self.meta_keys
        return sample


__all__ = ["GenerateTarget", "PackPoseInputs"]
