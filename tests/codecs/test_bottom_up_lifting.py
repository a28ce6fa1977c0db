"""Round trips of the bottom-up and lifting codecs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecli.codecs import (
    SPR,
    AssociativeEmbedding,
    DecoupledHeatmap,
    ImagePoseLifting,
    MotionBERTLabel,
    VideoPoseLifting,
)

INP, HM, K = (256, 256), (64, 64), 6


def _people(rng, n=3):
    """n well-separated instances (N, K, 2) in input pixels."""
    centres = np.array([[50, 60], [190, 70], [120, 190]], np.float32)[:n]
    return (centres[:, None] + rng.uniform(-25, 25, (n, K, 2))).astype(np.float32)


def _tags(enc, n):
    """Tag maps (K, H, W): instance i's keypoint pixels carry tag 3·i, others far away."""
    tags = np.full((K, HM[1], HM[0]), 100.0, np.float32)
    idx, valid = enc["keypoint_indices"][..., 0], enc["keypoint_indices"][..., 1]
    for i in range(n):
        for k in range(K):
            if valid[i, k]:
                y, x = divmod(int(idx[i, k]), HM[0])
                tags[k, max(y - 2, 0) : y + 3, max(x - 2, 0) : x + 3] = 3.0 * i
    return tags


@pytest.mark.parametrize("use_udp", [False, True])
def test_associative_embedding_groups_instances_4px(use_udp):
    rng = np.random.default_rng(0)
    kp = _people(rng)
    codec = AssociativeEmbedding(INP, HM, use_udp=use_udp, decode_keypoint_thr=0.5)
    enc = codec.encode(kp)
    assert enc["keypoint_indices"].dtype == np.int64 and enc["keypoint_indices"].shape == (3, K, 2)
    got, scores = codec.decode(enc["heatmaps"], _tags(enc, 3))
    assert got.shape == (3, K, 2) and scores.shape == (3, K)
    order = [int(np.argmin(np.abs(got[:, 0] - p[0]).sum(-1))) for p in kp]
    assert sorted(order) == [0, 1, 2]
    assert np.abs(got[order] - kp).max() <= 4.0  # one heatmap pixel (scale 4)
    kt, _ = codec.batch_decode(
        torch.from_numpy(enc["heatmaps"][None]), torch.from_numpy(_tags(enc, 3)[None])
    )
    assert isinstance(kt[0], torch.Tensor)
    np.testing.assert_allclose(kt[0].numpy(), got, atol=1e-5)


def test_spr_root_and_displacement_round_trip_exact_at_root():
    rng = np.random.default_rng(1)
    kp = _people(rng)
    codec = SPR(INP, HM, generate_keypoint_heatmaps=True)
    enc = codec.encode(kp)
    assert enc["heatmaps"].shape == (K + 1, 64, 64)
    assert enc["displacements"].shape == enc["displacement_weights"].shape == (2 * K, 64, 64)
    got, scores = codec.decode(enc["heatmaps"], enc["displacements"])
    assert len(got) == 3 and scores.shape == (3, K)
    order = [int(np.argmin(np.abs(got[:, 0] - p[0]).sum(-1))) for p in kp]
    np.testing.assert_allclose(got[order], kp, atol=1e-3)  # displacement is exact at the root


def test_decoupled_heatmap_instance_maps_round_trip_1px():
    rng = np.random.default_rng(2)
    kp = _people(rng)
    codec = DecoupledHeatmap(INP, HM)
    enc = codec.encode(kp, rng=np.random.default_rng(0))
    assert enc["heatmaps"].shape == (K + 1, 64, 64)
    assert enc["instance_heatmaps"].shape == (3 * K, 64, 64)
    assert enc["instance_coords"].shape == (3, 2)
    again = codec.encode(kp, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(enc["instance_coords"], again["instance_coords"])
    inst = enc["instance_heatmaps"].reshape(3, K, 64, 64)
    got, scores = codec.decode(inst, np.array([0.9, 0.8, 0.7], np.float32))
    assert np.abs(got - kp).max() <= 1.0 * 4  # quarter-refined integer peak, scale 4
    inst_scores = np.array([0.9, 0.8, 0.7])
    assert (scores.max(1) <= inst_scores + 1e-6).all() and (scores.max(1) > 0.2 * inst_scores).all()


def test_image_pose_lifting_round_trip_with_root_removed_and_normalisation():
    rng = np.random.default_rng(3)
    kp2d = rng.uniform(0, 100, (1, K, 2)).astype(np.float32)
    target = rng.uniform(-1, 1, (K, 3)).astype(np.float32)
    mean, std = np.full((K - 1, 3), 0.1, np.float32), np.full((K - 1, 3), 2.0, np.float32)
    codec = ImagePoseLifting(K, root_index=0, remove_root=True, target_mean=mean, target_std=std)
    enc = codec.encode(kp2d, lifting_target=target)
    assert enc["keypoint_labels"].shape == (K * 2, 1)
    assert enc["lifting_target_label"].shape == (K - 1, 3)
    got, scores = codec.decode(enc["lifting_target_label"][None], enc["target_root"][None])
    np.testing.assert_allclose(got[0], target, atol=1e-5)
    assert scores.shape == (1, K)


def test_video_pose_lifting_normalises_by_camera_and_round_trips():
    rng = np.random.default_rng(4)
    kp2d = rng.uniform(0, 1000, (1, K, 2)).astype(np.float32)
    target = rng.uniform(-1, 1, (1, K, 3)).astype(np.float32)
    codec = VideoPoseLifting(K, reshape_keypoints=False, normalize_camera=True)
    cam = {"w": 1000, "h": 1002, "f": [1145.0, 1143.8], "c": [512.5, 515.4]}
    enc = codec.encode(kp2d, lifting_target=target, camera_param=cam)
    np.testing.assert_allclose(enc["keypoint_labels"], (kp2d - [500, 501]) / 500, rtol=1e-5)
    np.testing.assert_allclose(enc["camera_param"]["f"], np.array([1145.0, 1143.8]) / 500)
    got, _ = codec.decode(enc["lifting_target_label"], enc["target_root"])
    np.testing.assert_allclose(got, target, atol=1e-5)


def test_motionbert_encode_decode_round_trip():
    rng = np.random.default_rng(5)
    kp2d = rng.uniform(0, 1000, (2, K, 2)).astype(np.float32)
    target = rng.uniform(-1, 1, (2, K, 3)).astype(np.float32)
    factor = np.array([2.0, 3.0], np.float32)
    codec = MotionBERTLabel(K)
    enc = codec.encode(
        kp2d, lifting_target=target, camera_param={"w": 1000, "h": 800, "factor": factor}
    )
    np.testing.assert_allclose(enc["keypoint_labels"], kp2d / 1000 * 2 - [1, 0.8], rtol=1e-5)
    got, _ = codec.decode(enc["lifting_target_label"], 1000, 800, factor)
    np.testing.assert_allclose(got, target - target[:, :1], atol=1e-5)
