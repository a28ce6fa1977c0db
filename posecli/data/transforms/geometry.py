"""Warp matrices and point warping of the training transforms: re-exported from
:mod:`posecli.runtime.geometry`, the one copy of top-down geometry shared with inference."""

from __future__ import annotations

from posecli.runtime.geometry import (
    bbox_center_scale,
    compose_affine,
    fix_aspect_ratio,
    flip_matrix,
    get_udp_warp_matrix,
    get_warp_matrix,
    invert_affine,
    warp_points,
)

__all__ = [
    "bbox_center_scale",
    "compose_affine",
    "fix_aspect_ratio",
    "flip_matrix",
    "get_udp_warp_matrix",
    "get_warp_matrix",
    "invert_affine",
    "warp_points",
]
