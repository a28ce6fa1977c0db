"""Bottom-up decoding on hand-built maps (known poses), NMS, and the losses' values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecli.codecs.associative_embedding import AssociativeEmbedding
from posecli.models.losses.bottomup import (
    AssociativeEmbeddingLoss,
    FocalHeatmapLoss,
    InfoNCELoss,
    SoftWeightSmoothL1Loss,
)
from posecli.runtime.bottomup import (
    bilinear_sample,
    decode_root_displacement,
    input_to_image,
    max_nms,
    nearby_joints_nms,
)

K, H, W = 3, 32, 32
POSES = np.array([[[5, 6], [9, 8], [7, 12]], [[22, 20], [26, 22], [24, 27]]], np.float32)


def _peaks(points: np.ndarray) -> np.ndarray:
    """(K, H, W) maps with a sharp peak of 1 at each point of every pose."""
    yy, xx = np.mgrid[0:H, 0:W]
    maps = np.zeros((K, H, W), np.float32)
    for pose in points:
        for k, (x, y) in enumerate(pose):
            maps[k] = np.maximum(maps[k], np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 2))
    return maps


def test_associative_embedding_groups_two_instances_by_tag() -> None:
    codec = AssociativeEmbedding(
        input_size=(128, 128), heatmap_size=(W, H), decode_keypoint_thr=0.1
    )
    heatmaps = _peaks(POSES)
    tags = np.zeros((K, H, W), np.float32)
    tags[:, :16] = 0.0  # instance 0 lives in the top half (tag 0), instance 1 below (tag 5)
    tags[:, 16:] = 5.0
    kps, scores = codec.batch_decode(heatmaps[None], tags[None])
    got = kps[0][np.argsort(kps[0][:, 0, 0])]
    assert got.shape == (2, K, 2)
    np.testing.assert_allclose(got, POSES * 4, atol=1.0)  # quarter-offset refinement, ×4
    assert (scores[0] > 0.9).all()


def test_tag_grouping_follows_mmpose() -> None:
    """MMPose's grouping: groups past ``max_groups`` still take candidates (kept groups are
    cut at the end), and a new group whose first tag value equals a group's joins it."""
    from posecli.codecs.associative_embedding import _group

    # keypoint 0: groups A (tag 0) and B (tag 1); keypoint 1: one candidate, tag 0.6, nearer B
    # (0.4: rounds to 0) than A (0.6: rounds to 1): B takes it, so the one group kept (A) lacks it
    vals = np.array([[0.9, 0.8], [0.7, 0.0]], np.float32)
    tags = np.array([[[0.0], [1.0]], [[0.6], [0.0]]], np.float32)
    locs = np.array([[[1, 1], [5, 5]], [[2, 2], [0, 0]]], np.float32)
    kps, scores = _group(vals, tags, locs, [0, 1], 0.1, 1.0, 1)
    np.testing.assert_array_equal(scores, np.float32([[0.9, 0.0]]))
    np.testing.assert_array_equal(kps, [[[1, 1], [0, 0]]])
    # two candidates of keypoint 0 with one tag value: one group, at the later candidate
    tags[0, 1] = 0.0
    kps, scores = _group(vals, tags, locs, [0, 1], 0.1, 1.0, None)
    np.testing.assert_array_equal(scores, np.float32([[0.8, 0.7]]))
    np.testing.assert_array_equal(kps, [[[5, 5], [2, 2]]])


def test_root_displacement_decodes_known_poses() -> None:
    roots = POSES.mean(axis=1).round().astype(int)  # (2, 2) cells
    heatmaps = np.zeros((K + 1, H, W), np.float32)
    heatmaps[:K] = _peaks(POSES)
    disp = np.zeros((K, 2, H, W), np.float32)
    for pose, (rx, ry) in zip(POSES, roots, strict=True):
        heatmaps[K, ry, rx] = 0.9
        disp[:, :, ry, rx] = pose - np.array([rx, ry], np.float32)
    kps, scores, kscores = decode_root_displacement(
        heatmaps[None], disp.reshape(1, 2 * K, H, W), (4.0, 4.0), nms_dist_thr=0.05
    )
    order = np.argsort(kps[0][:, 0, 0])
    np.testing.assert_allclose(kps[0][order], POSES * 4, atol=1e-4)
    # MMPose's keypoint scores (SPR.get_keypoint_scores): grid_sample at the points normalised
    # by W - 1, H - 1 (align_corners=False, border), i.e. up to half a pixel off the peaks
    grid = torch.from_numpy(kps[0] / 4 / np.float32(W - 1) * 2 - 1).transpose(0, 1)[:, None]
    ref = torch.nn.functional.grid_sample(
        torch.from_numpy(heatmaps[:K, None]), grid, padding_mode="border", align_corners=False
    )
    np.testing.assert_allclose(kscores[0], ref.view(K, -1).T.numpy(), atol=1e-6)
    assert (kscores[0] < 1).all() and (kscores[0] > 0.7).all()
    np.testing.assert_allclose(scores[0], 0.9 * kscores[0], atol=1e-6)  # root × keypoint


def test_nearby_joints_nms_drops_the_duplicate_pose() -> None:
    dup = POSES[0] + 0.2
    kps = np.stack([POSES[0], dup, POSES[1]])
    scores = np.array([[0.9] * K, [0.5] * K, [0.7] * K], np.float32)
    keep = nearby_joints_nms(kps, scores, dist_thr=0.05)
    assert sorted(keep.tolist()) == [0, 2]


def test_nearby_joints_nms_keeps_poses_of_zero_extent() -> None:
    """All joints at one point (an untrained net's output): no distance is below a zero
    tolerance, yet each pose is its own group and is kept, best first."""
    kps = np.stack([np.full((K, 2), 10.0), np.full((K, 2), 10.0), np.full((K, 2), 50.0)])
    scores = np.array([[0.2] * K, [0.6] * K, [0.4] * K], np.float32)
    keep = nearby_joints_nms(kps, scores, dist_thr=0.05)
    assert keep.tolist() == [1, 2, 0]


def test_max_nms_and_bilinear_sampling() -> None:
    maps = np.zeros((1, 1, 5, 5), np.float32)
    maps[0, 0, 2, 2], maps[0, 0, 2, 3] = 1.0, 0.5
    out = max_nms(maps, 3)
    assert out[0, 0, 2, 2] == 1.0 and out.sum() == 1.0
    v = bilinear_sample(maps[0], np.array([[[2.5, 2.0]]], np.float32))
    assert v[0, 0] == pytest.approx(0.75)


def test_input_to_image_is_mmpose_mapping() -> None:
    kp = np.array([[[256.0, 256.0], [0.0, 0.0]]], np.float32)
    out = input_to_image(kp, (512, 512), (320, 240), (640, 640))
    np.testing.assert_allclose(out[0], [[320, 240], [0, -80]])


def test_associative_embedding_loss_values() -> None:
    tags = torch.zeros(1, K, H, W)
    ind = torch.zeros(2, K, 2, dtype=torch.long)
    # instance 0: tags 0, 0, 2 (mean 2/3); instance 1: all 3 → pull = mean of per-instance MSE
    for k, (y, x, t) in enumerate([(1, 1, 0.0), (1, 2, 0.0), (1, 3, 2.0)]):
        tags[0, k, y, x] = t
        ind[0, k] = torch.tensor([y * W + x, 1])
    for k in range(K):
        tags[0, k, 10, 10 + k] = 3.0
        ind[1, k] = torch.tensor([10 * W + 10 + k, 1])
    pull, push = AssociativeEmbeddingLoss(loss_weight=1.0)(tags, [ind])
    m = 2 / 3
    expected_pull = ((m**2 * 2 + (2 - m) ** 2) / 3 + 0.0) / 2
    assert float(pull) == pytest.approx(expected_pull, rel=1e-5)
    d2 = (3 - m) ** 2
    assert float(push) == pytest.approx(2 * np.exp(-d2) / 2 * 0.5, rel=1e-5)


def test_focal_smooth_l1_and_info_nce() -> None:
    target = torch.zeros(1, 1, 4, 4)
    target[0, 0, 1, 1] = 1.0
    out = torch.full((1, 1, 4, 4), 0.5)
    loss = FocalHeatmapLoss()(out, target)
    pos = -np.log(0.5) * 0.25
    neg = -np.log(0.5) * 0.25 * 15
    assert float(loss) == pytest.approx(pos + neg, rel=1e-5)
    l1 = SoftWeightSmoothL1Loss(use_target_weight=True, supervise_empty=False, beta=1.0)
    w = torch.zeros(1, 2, 2)
    w[0, 0, 0] = 1.0
    val = l1(torch.full((1, 2, 2), 3.0), torch.zeros(1, 2, 2), w)
    assert float(val) == pytest.approx(2.5)  # |3| - 0.5 over the one weighted element
    f = torch.eye(3)
    nce = InfoNCELoss()(f)
    logit = torch.eye(3)
    assert float(nce) == pytest.approx(
        float(torch.nn.functional.cross_entropy(logit, torch.arange(3), reduction="sum"))
    )
