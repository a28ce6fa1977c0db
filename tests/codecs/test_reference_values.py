"""Reference values of MMPose 1.3.2 (reference §1 "Reference values")."""

from __future__ import annotations

import numpy as np

from posecli.codecs import MSRAHeatmap, RegressionLabel, SimCCLabel

from .codecs_testdata import HEATMAP, INPUT


def test_msra_sigma2_encode_matches_mmpose(ref_keypoints):
    kp, vis = ref_keypoints
    enc = MSRAHeatmap(INPUT, HEATMAP, sigma=2).encode(kp, vis)
    assert enc["heatmaps"].shape == (6, 64, 48)
    assert enc["heatmaps"].dtype == np.float32
    np.testing.assert_array_equal(enc["keypoint_weights"], [[1, 1, 1, 1, 1, 0]])
    np.testing.assert_allclose(
        enc["heatmaps"].sum(axis=(1, 2)),
        [24.0743, 25.0813, 25.0813, 6.0203, 6.0203, 0],
        atol=1e-4,
    )


def test_msra_sigma2_decode_matches_mmpose(ref_keypoints):
    kp, vis = ref_keypoints
    codec = MSRAHeatmap(INPUT, HEATMAP, sigma=2)
    keypoints, scores = codec.decode(codec.encode(kp, vis)["heatmaps"])
    np.testing.assert_allclose(
        keypoints[0], [[12, 20], [96, 132], [152, 32], [0, 252], [188, 0], [-4, -4]], atol=1e-5
    )
    np.testing.assert_allclose(scores[0], [1, 1, 1, 0.882497, 0.882497, 0], atol=1e-6)


def test_simcc_decode_of_own_labels_matches_mmpose(ref_keypoints):
    kp, vis = ref_keypoints
    codec = SimCCLabel(INPUT, sigma=6.0, simcc_split_ratio=2.0)
    enc = codec.encode(kp, vis)
    keypoints, _ = codec.decode(enc["keypoint_x_labels"][0], enc["keypoint_y_labels"][0])
    np.testing.assert_allclose(
        keypoints[0],
        [[10, 20], [95.5, 130.5], [150, 34], [0.5, 255.5], [191, 0], [-0.5, -0.5]],
        atol=1e-5,
    )
    # normalised peak 1/(σ√(2π)) = 0.06649 at σ=6
    np.testing.assert_allclose(enc["keypoint_x_labels"].max(), 0.06649, atol=1e-5)


def test_regression_weights_match_mmpose(ref_keypoints):
    kp, vis = ref_keypoints
    enc = RegressionLabel(INPUT).encode(kp, vis)
    np.testing.assert_array_equal(enc["keypoint_weights"], [[1, 1, 1, 0, 1, 0]])
    np.testing.assert_allclose(enc["keypoint_labels"], kp / np.array(INPUT), rtol=1e-6)
