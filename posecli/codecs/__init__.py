"""Codecs: keypoints ↔ training targets and model outputs (MMPose 1.3.2 numerics).

Build one by name through the registry (``build("msra_heatmap", ...)`` or with the MMPose class
name ``build("MSRAHeatmap", ...)``), or import the classes directly.
"""

from __future__ import annotations

from typing import Any

from posecli.codecs.associative_embedding import AssociativeEmbedding
from posecli.codecs.base import BaseCodec
from posecli.codecs.decoupled_heatmap import DecoupledHeatmap
from posecli.codecs.flip import flip_coordinates, flip_heatmaps, flip_simcc, simcc_flip_shift
from posecli.codecs.integral_regression import IntegralRegressionLabel
from posecli.codecs.megvii_heatmap import MegviiHeatmap
from posecli.codecs.motionbert import MotionBERTLabel
from posecli.codecs.msra_heatmap import MSRAHeatmap
from posecli.codecs.pose_lifting import ImagePoseLifting, VideoPoseLifting
from posecli.codecs.regression import RegressionLabel
from posecli.codecs.simcc import SimCCLabel
from posecli.codecs.spr import SPR
from posecli.codecs.udp_heatmap import UDPHeatmap

__all__ = [
    "SPR",
    "AssociativeEmbedding",
    "BaseCodec",
    "DecoupledHeatmap",
    "ImagePoseLifting",
    "IntegralRegressionLabel",
    "MSRAHeatmap",
    "MegviiHeatmap",
    "MotionBERTLabel",
    "RegressionLabel",
    "SimCCLabel",
    "UDPHeatmap",
    "VideoPoseLifting",
    "build",
    "flip_coordinates",
    "flip_heatmaps",
    "flip_simcc",
    "simcc_flip_shift",
]


def build(name: str, **kwargs: Any) -> BaseCodec:
    """Build the codec registered as ``name`` (snake_case or MMPose class name)."""
    from posecli.plugins import registry

    codec: BaseCodec = registry("codecs").build(name, **kwargs)
    return codec
