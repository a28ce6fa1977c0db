"""Every registered codec builds with a small config and round-trips encode → decode."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from posecli.codecs import BaseCodec, build
from posecli.plugins import registry

INP = (64, 80)
HM = (16, 20)
K = 5
# Small configs for codecs whose constructor needs arguments beyond the defaults.
CONFIGS: dict[str, dict[str, Any]] = {
    "msra_heatmap": {"input_size": INP, "heatmap_size": HM, "sigma": 2},
    "udp_heatmap": {"input_size": INP, "heatmap_size": HM},
    "megvii_heatmap": {"input_size": INP, "heatmap_size": HM, "kernel_size": 5},
    "regression": {"input_size": INP},
    "integral_regression": {"input_size": INP, "heatmap_size": HM, "sigma": 2},
    "simcc": {"input_size": INP},
    "associative_embedding": {"input_size": INP, "heatmap_size": HM},
    "spr": {"input_size": INP, "heatmap_size": HM, "generate_keypoint_heatmaps": True},
    "decoupled_heatmap": {"input_size": INP, "heatmap_size": HM},
    "image_pose_lifting": {"num_keypoints": K},
    "video_pose_lifting": {"num_keypoints": K},
    "motionbert": {"num_keypoints": K},
    "yolox_pose": {"input_size": INP},
}


def _config(name: str) -> dict[str, Any]:
    if name in CONFIGS:
        return CONFIGS[name]
    # Unknown (plugin) codec: try the common top-down arguments.
    return {"input_size": INP}


def _outputs(codec: BaseCodec, enc: dict[str, Any], kp: np.ndarray) -> tuple:
    """Model-output-shaped arrays (one sample) made from the encoded targets."""
    if "bboxes" in enc:  # one-stage: each instance is its own best candidate
        n = len(enc["bboxes"])
        return np.ones((n,), np.float32), enc["bboxes"], kp, enc["keypoints_visible"]
    if "keypoint_x_labels" in enc:
        return enc["keypoint_x_labels"], enc["keypoint_y_labels"]
    if "keypoint_indices" in enc:  # associative embedding: tags = instance id at its pixels
        return enc["heatmaps"], np.zeros((K, *enc["heatmaps"].shape[1:]), np.float32)
    if "displacements" in enc:
        return enc["heatmaps"], enc["displacements"]
    if "instance_heatmaps" in enc:
        m = enc["instance_coords"].shape[0]
        return enc["instance_heatmaps"].reshape(m, K, *HM[::-1]), np.ones(m, np.float32)
    if "lifting_target_label" in enc:
        label = enc["lifting_target_label"]
        return (label if label.ndim == 3 else label[None],)
    if "keypoint_labels" in enc:
        return (enc["keypoint_labels"],)
    return (enc["heatmaps"],)


@pytest.mark.parametrize("name", registry("codecs").names())
def test_every_registered_codec_round_trips(name):
    codec = build(name, **_config(name))
    entry = registry("codecs").get(name)
    assert isinstance(codec, BaseCodec)
    assert codec.to_dict()["name"] == entry.name
    assert build(entry.aliases[0], **_config(name)).to_dict() == codec.to_dict()
    rng = np.random.default_rng(0)
    kp = rng.uniform(12, [INP[0] - 12, INP[1] - 12], size=(1, K, 2)).astype(np.float32)
    extra: dict[str, Any] = {}
    if "lifting" in name or name == "motionbert":
        target = np.concatenate((kp[0], rng.uniform(1, 2, (K, 1))), -1).astype(np.float32)
        extra = {
            "lifting_target": target[None] if name != "image_pose_lifting" else target,
            "camera_param": {"w": INP[0], "h": INP[1]},
        }
        if name == "video_pose_lifting":
            extra["lifting_target"] = target[None]
    if name == "decoupled_heatmap":
        extra = {"rng": np.random.default_rng(0)}
    enc = codec.encode(kp, np.ones((1, K), np.float32), **extra)
    assert all(isinstance(v, (np.ndarray, dict, bool, int)) for v in enc.values())
    keypoints, scores = codec.decode(*_outputs(codec, enc, kp))[:2]
    keypoints, scores = np.asarray(keypoints), np.asarray(scores)
    assert keypoints.shape[:-1] == scores.shape
    assert keypoints.shape[-2] == K
    if "lifting_target_label" not in enc:
        assert np.abs(keypoints.reshape(-1, K, 2)[0] - kp[0]).max() <= 5.0
