"""Encode → decode round trips; batch_decode equals looping decode; numpy equals torch.

Tolerances are the tightest that hold over the sampled keypoints (input pixels), stated in
each test name; "interior" means at least ``margin`` px from the input border.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecli.codecs import (
    MegviiHeatmap,
    MSRAHeatmap,
    RegressionLabel,
    SimCCLabel,
    UDPHeatmap,
)

from .codecs_testdata import HEATMAP, INPUT, random_keypoints

N_SAMPLES = 24


def _decode_own(codec, kp):
    enc = codec.encode(kp)
    if isinstance(codec, SimCCLabel):
        return codec.decode(enc["keypoint_x_labels"][0], enc["keypoint_y_labels"][0])[0]
    if isinstance(codec, RegressionLabel):
        return codec.decode(enc["keypoint_labels"])[0]
    return codec.decode(enc["heatmaps"])[0]


CASES = [
    # (id, codec, margin px, tolerance px)
    ("msra_2px_anywhere", MSRAHeatmap(INPUT, HEATMAP, 2), 0, 3.0),
    ("msra_2px_interior", MSRAHeatmap(INPUT, HEATMAP, 2), 8, 2.0),
    ("dark_0.15px_interior", MSRAHeatmap(INPUT, HEATMAP, 2, unbiased=True), 16, 0.15),
    ("dark_3px_anywhere", MSRAHeatmap(INPUT, HEATMAP, 2, unbiased=True), 0, 3.0),
    ("udp_mmpose_scale_1px_interior", UDPHeatmap(INPUT, HEATMAP), 16, 1.0),
    ("udp_exact_0.05px_interior", UDPHeatmap(INPUT, HEATMAP, udp_exact_scale=True), 16, 0.05),
    ("udp_exact_5px_anywhere", UDPHeatmap(INPUT, HEATMAP, udp_exact_scale=True), 0, 5.0),
    ("udp_combined_mmpose_1px", UDPHeatmap(INPUT, HEATMAP, "combined"), 0, 1.0),
    (
        "udp_combined_exact_1e-3px",
        UDPHeatmap(INPUT, HEATMAP, "combined", udp_exact_scale=True),
        0,
        1e-3,
    ),
    ("megvii_3px_interior", MegviiHeatmap(INPUT, HEATMAP, 11), 8, 3.0),
    ("simcc_0.25px_anywhere", SimCCLabel(INPUT), 0, 0.25 + 1e-4),
    ("simcc_dark_0.25px_interior", SimCCLabel(INPUT, use_dark=True), 8, 0.25 + 1e-4),
    (
        "simcc_soft_argmax_0.25px_interior",
        SimCCLabel(INPUT, normalize=False, soft_argmax_beta=10.0),
        16,
        0.25 + 1e-4,
    ),
    ("simcc_standard_0.25px", SimCCLabel(INPUT, "standard", label_smooth_weight=0.1), 0, 0.2501),
    ("regression_1e-4px", RegressionLabel(INPUT), 0, 1e-4),
]


@pytest.mark.parametrize(
    ("codec", "margin", "tol"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_round_trip(codec, margin, tol):
    rng = np.random.default_rng(7)
    for kp in random_keypoints(rng, N_SAMPLES, margin=margin):
        err = np.abs(_decode_own(codec, kp) - kp).max()
        assert err <= tol, f"round-trip error {err:.4f} px > {tol}"


def test_udp_exact_scale_removes_the_stretch():
    """MMPose's UDP decode stretches x by w/(w-1): +0.92 px at x=175; the option removes it."""
    kp = np.array([[[175.0, 128.0], [95.5, 40.0]]], np.float32)
    biased = UDPHeatmap(INPUT, HEATMAP)
    exact = UDPHeatmap(INPUT, HEATMAP, udp_exact_scale=True)
    hm = biased.encode(kp)["heatmaps"]
    err_biased = biased.decode(hm)[0][0, 0, 0] - 175.0
    err_exact = exact.decode(hm)[0][0, 0, 0] - 175.0
    assert 0.85 < err_biased < 1.0
    assert abs(err_exact) < 0.05


def test_refine_x_at_1_removes_the_edge_bias():
    """A maximum in heatmap column 1 leaning right is not refined by MMPose; the option does."""
    codec = MSRAHeatmap(INPUT, HEATMAP, 2)
    fixed = MSRAHeatmap(INPUT, HEATMAP, 2, refine_x_at_1=True)
    kp = np.array([[[5.6, 100.0]]], np.float32)  # heatmap x = 1.4 → peak column 1
    hm = MSRAHeatmap(INPUT, HEATMAP, 2, unbiased=True).encode(kp)["heatmaps"]  # sub-pixel peak
    x_mmpose = codec.decode(hm)[0][0, 0, 0]
    x_fixed = fixed.decode(hm)[0][0, 0, 0]
    assert x_mmpose == pytest.approx(4.0)  # column 1 · 4, no quarter step
    assert x_fixed == pytest.approx(5.0)  # (1 + 0.25) · 4
    assert abs(x_fixed - 5.6) < abs(x_mmpose - 5.6)


HEATMAP_CODECS = [
    MSRAHeatmap(INPUT, HEATMAP, 2),
    MSRAHeatmap(INPUT, HEATMAP, 2, unbiased=True),
    UDPHeatmap(INPUT, HEATMAP),
    UDPHeatmap(INPUT, HEATMAP, "combined"),
    MegviiHeatmap(INPUT, HEATMAP, 11),
]


def _noisy_batch(codec, rng, n=6):
    kps = random_keypoints(rng, n)
    maps = np.stack([codec.encode(kp)["heatmaps"] for kp in kps])
    return (maps + rng.normal(0, 0.02, maps.shape)).astype(np.float32)


@pytest.mark.parametrize("codec", HEATMAP_CODECS, ids=repr)
def test_batch_decode_equals_loop_and_torch(codec):
    rng = np.random.default_rng(3)
    maps = _noisy_batch(codec, rng)
    maps[0, 0] = 0.0  # an empty map
    kb, sb = codec.batch_decode(maps)
    loop = [codec.decode(m) for m in maps]
    np.testing.assert_allclose(kb, np.concatenate([k for k, _ in loop]), atol=1e-4)
    np.testing.assert_allclose(sb, np.concatenate([s for _, s in loop]), atol=1e-6)
    kt, st = codec.batch_decode(torch.from_numpy(maps))
    assert isinstance(kt, torch.Tensor) and isinstance(st, torch.Tensor)
    np.testing.assert_allclose(kt.numpy(), kb, atol=1e-6)
    np.testing.assert_allclose(st.numpy(), sb, atol=1e-6)


@pytest.mark.parametrize(
    "refine", [{}, {"use_dark": True}, {"soft_argmax_beta": 10.0}], ids=["argmax", "dark", "soft"]
)
def test_simcc_batch_equals_loop_and_torch(refine):
    codec = SimCCLabel(INPUT, sigma=(4.9, 5.66), normalize=False, **refine)
    rng = np.random.default_rng(4)
    kps = random_keypoints(rng, 6)
    sx = np.concatenate([codec.encode(k)["keypoint_x_labels"] for k in kps])
    sy = np.concatenate([codec.encode(k)["keypoint_y_labels"] for k in kps])
    sx += rng.normal(0, 0.01, sx.shape).astype(np.float32)
    kb, _ = codec.batch_decode(sx, sy)
    loop = [codec.decode(a, b) for a, b in zip(sx, sy, strict=True)]
    np.testing.assert_allclose(kb, np.concatenate([k for k, _ in loop]), atol=1e-5)
    kt, _ = codec.batch_decode(torch.from_numpy(sx), torch.from_numpy(sy))
    np.testing.assert_allclose(kt.numpy(), kb, atol=1e-6)


def test_simcc_decode_visibility_returns_softmax_maximum():
    codec = SimCCLabel(INPUT, decode_visibility=True)
    enc = codec.encode(np.array([[[50.0, 60.0]]], np.float32))
    kps, scores, vis = codec.batch_decode(enc["keypoint_x_labels"], enc["keypoint_y_labels"])
    assert kps.shape == (1, 1, 2) and scores.shape == vis.shape == (1, 1)
    assert 0 < vis[0, 0] <= 1


def test_regression_rle_scores():
    codec = RegressionLabel(INPUT)
    out = np.array([[[0.5, 0.5, 0.2, 0.4]]], np.float32)
    kps, scores = codec.batch_decode(out)
    np.testing.assert_allclose(kps, [[[96, 128]]])
    np.testing.assert_allclose(scores, [[0.7]], rtol=1e-6)
