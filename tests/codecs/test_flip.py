"""Flip test: decode(flip_back(output on flipped input)) ≈ decode(output), within the bias."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecli.codecs import (
    MSRAHeatmap,
    RegressionLabel,
    SimCCLabel,
    UDPHeatmap,
    flip_coordinates,
    flip_heatmaps,
    flip_simcc,
    simcc_flip_shift,
)

from .codecs_testdata import HEATMAP, INPUT, random_keypoints

FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]


def _flip_kp(kp):
    out = kp[:, FLIP].copy()
    out[..., 0] = INPUT[0] - 1 - out[..., 0]
    return out


def _pairs(rng, n=8, margin=24):
    return random_keypoints(rng, n, margin=margin)


@pytest.mark.parametrize(
    ("codec", "shift", "tol"),
    [
        (MSRAHeatmap(INPUT, HEATMAP, 2, unbiased=True), True, 1.0 + 0.15),  # 0.25 hm px = 1 px
        (UDPHeatmap(INPUT, HEATMAP), False, 0.05),  # exact
    ],
    ids=["dark_shift_1px", "udp_exact_0.05px"],
)
def test_flip_heatmaps_decode_within_bias(codec, shift, tol):
    rng = np.random.default_rng(11)
    for kp in _pairs(rng):
        direct = codec.decode(codec.encode(kp)["heatmaps"])[0]
        flipped = codec.encode(_flip_kp(kp))["heatmaps"][None]
        back = flip_heatmaps(flipped, FLIP, "heatmap", shift_heatmap=shift)
        err = np.abs(codec.decode(back[0])[0] - direct)
        assert err.max() <= tol


def test_flip_heatmap_shift_leaves_quarter_pixel_bias():
    """Without the shift the MSRA flip is off by 0.75 hm px (3 px); with it by 0.25 (1 px)."""
    codec = MSRAHeatmap(INPUT, HEATMAP, 2, unbiased=True)
    kp = np.array([[[96.0, 128.0]] * 17], np.float32)
    direct = codec.decode(codec.encode(kp)["heatmaps"])[0][0, 0, 0]
    flipped = codec.encode(_flip_kp(kp))["heatmaps"][None]
    no_shift = codec.decode(flip_heatmaps(flipped, FLIP, shift_heatmap=False)[0])[0][0, 0, 0]
    shifted = codec.decode(flip_heatmaps(flipped, FLIP, shift_heatmap=True)[0])[0][0, 0, 0]
    assert no_shift - direct == pytest.approx(-3.0, abs=0.2)
    assert shifted - direct == pytest.approx(1.0, abs=0.2)


def test_flip_udp_combined_exact():
    codec = UDPHeatmap(INPUT, HEATMAP, "combined", udp_exact_scale=True)
    rng = np.random.default_rng(12)
    for kp in _pairs(rng, 4):
        direct = codec.decode(codec.encode(kp)["heatmaps"])[0]
        back = flip_heatmaps(codec.encode(_flip_kp(kp))["heatmaps"][None], FLIP, "udp_combined")
        np.testing.assert_allclose(codec.decode(back[0])[0], direct, atol=1e-3)


def test_flip_offset_mode_negates_x_and_reorders():
    maps = np.random.default_rng(0).random((1, 2 * 17, 4, 5)).astype(np.float32)
    out = flip_heatmaps(maps, FLIP, "offset")
    np.testing.assert_allclose(out[0, 2], -maps[0, 4][:, ::-1])  # kp1 x ← -flip(kp2 x)
    np.testing.assert_allclose(out[0, 3], maps[0, 5][:, ::-1])


@pytest.mark.parametrize(
    ("shift", "tol"), [(0.0, 0.5 + 1e-4), (1.0, 1e-4)], ids=["mmpose_0.5px", "unbiased_1e-4px"]
)
def test_flip_simcc_bias(shift, tol):
    """MMPose's SimCC flip is 0.5 px off at ratio 2; ``shift_bins=ratio-1`` removes it."""
    codec = SimCCLabel(INPUT)
    assert simcc_flip_shift(codec.simcc_split_ratio) == 1.0
    rng = np.random.default_rng(13)
    kp = np.round(_pairs(rng, 1)[0] * 2) / 2  # on bin centres
    enc = codec.encode(kp)
    direct = codec.decode(enc["keypoint_x_labels"][0], enc["keypoint_y_labels"][0])[0]
    encf = codec.encode(_flip_kp(kp))
    bx, by = flip_simcc(encf["keypoint_x_labels"], encf["keypoint_y_labels"], FLIP, shift)
    got = codec.decode(bx[0], by[0])[0]
    err = np.abs(got - direct)[..., 0]
    assert err.max() <= tol
    if shift == 0.0:
        np.testing.assert_allclose(got[..., 0] - direct[..., 0], 0.5, atol=1e-4)


def test_flip_coordinates_exact_and_torch():
    codec = RegressionLabel(INPUT)
    rng = np.random.default_rng(14)
    kp = _pairs(rng, 1)[0]
    direct = codec.encode(kp)["keypoint_labels"]
    flipped = codec.encode(_flip_kp(kp))["keypoint_labels"]
    np.testing.assert_allclose(flip_coordinates(flipped, FLIP, INPUT), direct, atol=1e-6)
    t = flip_coordinates(torch.from_numpy(flipped), FLIP, INPUT)
    assert isinstance(t, torch.Tensor)
    np.testing.assert_allclose(t.numpy(), direct, atol=1e-6)


def test_flip_helpers_torch_equals_numpy():
    rng = np.random.default_rng(15)
    maps = rng.random((2, 17 * 3, 6, 5)).astype(np.float32)
    for mode, c in (("heatmap", 17), ("udp_combined", 51)):
        m = maps[:, :c]
        np.testing.assert_allclose(
            flip_heatmaps(torch.from_numpy(m), FLIP, mode, True).numpy(),
            flip_heatmaps(m, FLIP, mode, True),
        )
    x, y = rng.random((2, 17, 10)).astype(np.float32), rng.random((2, 17, 12)).astype(np.float32)
    tx, ty = flip_simcc(torch.from_numpy(x), torch.from_numpy(y), FLIP, 1.0)
    nx, ny = flip_simcc(x, y, FLIP, 1.0)
    np.testing.assert_allclose(tx.numpy(), nx, atol=1e-6)
    np.testing.assert_allclose(ty.numpy(), ny)
