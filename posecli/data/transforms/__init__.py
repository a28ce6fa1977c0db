"""Pipeline transforms: callables ``(sample: dict, rng: numpy.random.Generator) -> dict``.

Every key of the sample dict and its shape is documented in :mod:`posecli.data.sample`.
Canonical top-down training order (reference §2)::

    LoadImage → GetBBoxCenterScale → RandomFlip → RandomHalfBody → RandomBBoxTransform →
    TopdownAffine → (YOLOXHSVRandomAug, Blur, MedianBlur, CoarseDropout) → GenerateTarget

Validation: ``LoadImage → GetBBoxCenterScale → TopdownAffine``. Random transforms draw only
from the generator they are given, so a seeded run reproduces exactly.
"""

from __future__ import annotations

from posecli.data.transforms.affine import TopdownAffine
from posecli.data.transforms.bbox import GetBBoxCenterScale, RandomBBoxTransform, RandomHalfBody
from posecli.data.transforms.compose import Compose, build_pipeline, build_transform
from posecli.data.transforms.flip import RandomFlip, apply_flip, flip_bbox, flip_keypoints
from posecli.data.transforms.geometry import get_udp_warp_matrix, get_warp_matrix, warp_points
from posecli.data.transforms.loading import LoadImage, ensure_image
from posecli.data.transforms.photometric import (
    Albumentation,
    Blur,
    CoarseDropout,
    MedianBlur,
    YOLOXHSVRandomAug,
)
from posecli.data.transforms.target import GenerateTarget, PackPoseInputs

__all__ = [
    "Albumentation",
    "Blur",
    "CoarseDropout",
    "Compose",
    "GenerateTarget",
    "GetBBoxCenterScale",
    "LoadImage",
    "MedianBlur",
    "PackPoseInputs",
    "RandomBBoxTransform",
    "RandomFlip",
    "RandomHalfBody",
    "TopdownAffine",
    "YOLOXHSVRandomAug",
    "apply_flip",
    "build_pipeline",
    "build_transform",
    "ensure_image",
    "flip_bbox",
    "flip_keypoints",
    "get_udp_warp_matrix",
    "get_warp_matrix",
    "warp_points",
]
