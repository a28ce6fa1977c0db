"""Built-in codecs, registered through the public ``posecli_register_codecs`` hook.

Factories are lazy ``"module:attr"`` strings: listing codecs imports neither numpy nor torch.
"""

from __future__ import annotations

from posecli.hookspecs import RegisterCallback, hookimpl

_CODECS: tuple[tuple[str, str, str, str], ...] = (
    (
        "msra_heatmap",
        "msra_heatmap:MSRAHeatmap",
        "MSRAHeatmap",
        "Gaussian heatmaps (SimpleBaseline/HRNet), quarter-offset or DARK decode",
    ),
    (
        "udp_heatmap",
        "udp_heatmap:UDPHeatmap",
        "UDPHeatmap",
        "UDP heatmaps: sub-pixel gaussians or class+offset maps, DARK-UDP decode",
    ),
    (
        "megvii_heatmap",
        "megvii_heatmap:MegviiHeatmap",
        "MegviiHeatmap",
        "Blurred one-hot heatmaps scaled to 255 (MSPN/RSN)",
    ),
    (
        "regression",
        "regression:RegressionLabel",
        "RegressionLabel",
        "Keypoints normalised by the input size (DeepPose, RLE)",
    ),
    (
        "integral_regression",
        "integral_regression:IntegralRegressionLabel",
        "IntegralRegressionLabel",
        "Normalised heatmaps plus regression labels (DSNT/IPR)",
    ),
    (
        "simcc",
        "simcc:SimCCLabel",
        "SimCCLabel",
        "Per-axis 1-D classification vectors (RTMPose, SimCC)",
    ),
    (
        "associative_embedding",
        "associative_embedding:AssociativeEmbedding",
        "AssociativeEmbedding",
        "Bottom-up heatmaps grouped by associative tags",
    ),
    ("spr", "spr:SPR", "SPR", "Bottom-up root heatmap plus displacements (DEKR)"),
    (
        "decoupled_heatmap",
        "decoupled_heatmap:DecoupledHeatmap",
        "DecoupledHeatmap",
        "Bottom-up global and per-instance heatmaps (CID)",
    ),
    (
        "yolox_pose",
        "yolox_pose:YOLOXPoseAnnotationProcessor",
        "YOLOXPoseAnnotationProcessor",
        "One-stage instances as boxes/labels/areas; score threshold + box NMS (RTMO)",
    ),
    (
        "image_pose_lifting",
        "pose_lifting:ImagePoseLifting",
        "ImagePoseLifting",
        "Single-frame 2D-to-3D lifting targets",
    ),
    (
        "video_pose_lifting",
        "pose_lifting:VideoPoseLifting",
        "VideoPoseLifting",
        "Sequence 2D-to-3D lifting targets normalised by the camera",
    ),
    (
        "motionbert",
        "motionbert:MotionBERTLabel",
        "MotionBERTLabel",
        "MotionBERT 2D/2.5D targets normalised by the image width",
    ),
)


@hookimpl
def posecli_register_codecs(register: RegisterCallback) -> None:
    """Register every built-in codec under its snake_case name and MMPose class name."""
    for name, ref, alias, text in _CODECS:
        register(name, f"posecli.codecs.{ref}", aliases=(alias,), help=text)
