"""Helpers against straightforward per-map implementations of the reference §1 formulas."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from posecli.codecs.utils import (
    gaussian_blur,
    gaussian_blur1d,
    heatmap_maximum,
    refine_dark,
    refine_dark_udp,
    refine_simcc_dark,
    refine_simcc_expectation,
    simcc_maximum,
)


def _blur_loop(maps, k):
    b = (k - 1) // 2
    out = np.empty_like(maps)
    for i in np.ndindex(maps.shape[:-2]):
        pad = np.zeros((maps.shape[-2] + 2 * b, maps.shape[-1] + 2 * b), np.float32)
        pad[b:-b, b:-b] = maps[i]
        blurred = cv2.GaussianBlur(pad, (k, k), 0)[b:-b, b:-b]
        with np.errstate(invalid="ignore", divide="ignore"):
            out[i] = blurred * (maps[i].max() / blurred.max())
    return out


def _maps(rng, b=4, k=17, h=64, w=48):
    yy, xx = np.mgrid[:h, :w]
    c = rng.uniform([-2, -2], [w + 1, h + 1], size=(b, k, 2))
    amp = rng.uniform(0.2, 1, (b, k, 1, 1))
    d2 = (xx - c[..., 0, None, None]) ** 2 + (yy - c[..., 1, None, None]) ** 2
    maps = np.exp(-d2 / 8) * amp + rng.normal(0, 0.02, (b, k, h, w))
    maps[0, 0] = 0  # empty map → NaN for DARK-UDP
    maps[0, 1] = -0.1  # negative map
    maps[1, 2] *= 1e-6  # weak map: goes through the full-blur path
    return maps.astype(np.float32)


@pytest.mark.parametrize("k", [3, 11, 17])
def test_gaussian_blur_equals_cv2_per_map(k):
    maps = np.random.default_rng(0).random((3, 5, 20, 17)).astype(np.float32)
    np.testing.assert_allclose(gaussian_blur(maps, k), _blur_loop(maps, k), atol=1e-6)


def test_gaussian_blur1d_equals_cv2_per_vector():
    vec = np.random.default_rng(1).random((4, 3, 50)).astype(np.float32)
    b = 14
    ref = np.empty_like(vec)
    for i in np.ndindex(vec.shape[:-1]):
        pad = np.zeros((1, 50 + 2 * b), np.float32)
        pad[0, b:-b] = vec[i]
        out = cv2.GaussianBlur(pad, (29, 1), 0)[0, b:-b]
        ref[i] = out * (vec[i].max() / out.max())
    np.testing.assert_allclose(gaussian_blur1d(vec, 29), ref, atol=1e-6)


def _dark_loop(kp, maps, k):
    out = kp.copy()
    logm = np.log(np.maximum(_blur_loop(maps, k), 1e-10))
    h, w = maps.shape[-2:]
    for i in np.ndindex(kp.shape[:-1]):
        x, y = kp[i].astype(int)
        if 1 < x < w - 2 and 1 < y < h - 2:
            m = logm[i]
            dx = 0.5 * (m[y, x + 1] - m[y, x - 1])
            dy = 0.5 * (m[y + 1, x] - m[y - 1, x])
            dxx = 0.25 * (m[y, x + 2] - 2 * m[y, x] + m[y, x - 2])
            dyy = 0.25 * (m[y + 2, x] - 2 * m[y, x] + m[y - 2, x])
            dxy = 0.25 * (m[y + 1, x + 1] - m[y - 1, x + 1] - m[y + 1, x - 1] + m[y - 1, x - 1])
            hess = np.array([[dxx, dxy], [dxy, dyy]], np.float64)
            if dxx * dyy - dxy**2 != 0:
                out[i] += -np.linalg.inv(hess) @ np.array([dx, dy])
    return out


def _dark_udp_loop(kp, maps, k):
    out = kp.astype(np.float64).copy()
    nb, nk, h, w = maps.shape
    for b in range(nb):
        m = np.clip(_blur_loop(maps[b], k), 1e-3, 50)
        flat = np.pad(np.log(m), ((0, 0), (1, 1), (1, 1)), mode="edge").ravel()
        for j in range(nk):
            base = int(kp[b, j, 0] + 1 + (kp[b, j, 1] + 1) * (w + 2) + j * (w + 2) * (h + 2))

            def v(off, base=base, flat=flat):
                return flat[(base + off) % flat.size]

            dx, dy = 0.5 * (v(1) - v(-1)), 0.5 * (v(w + 2) - v(-w - 2))
            dxx, dyy = v(1) - 2 * v(0) + v(-1), v(w + 2) - 2 * v(0) + v(-w - 2)
            dxy = 0.5 * (v(w + 3) - v(1) - v(w + 2) + 2 * v(0) - v(-1) - v(-w - 2) + v(-w - 3))
            eps = np.finfo(np.float32).eps
            hess = np.array([[dxx, dxy], [dxy, dyy]]) + eps * np.eye(2)
            with np.errstate(invalid="ignore"):
                out[b, j] -= np.linalg.solve(hess, [dx, dy]) if np.isfinite(hess).all() else np.nan
    return out


def test_refine_dark_equals_per_map_loop():
    maps = _maps(np.random.default_rng(2))
    locs, _ = heatmap_maximum(maps)
    np.testing.assert_allclose(refine_dark(locs, maps, 11), _dark_loop(locs, maps, 11), atol=2e-5)


def test_refine_dark_udp_equals_per_map_loop_including_nan():
    maps = _maps(np.random.default_rng(3))
    locs, _ = heatmap_maximum(maps)
    got = refine_dark_udp(locs, maps, 11)
    ref = _dark_udp_loop(locs, maps, 11)
    assert np.isnan(got[0, 0]).all()  # all-zero map decodes to NaN (MMPose)
    np.testing.assert_array_equal(np.isnan(got), np.isnan(ref))
    ok = ~np.isnan(ref)
    np.testing.assert_allclose(got[ok], ref[ok], atol=2e-5)


def test_refine_simcc_dark_equals_formula():
    rng = np.random.default_rng(5)
    bins = np.arange(384)
    centres = rng.uniform(-3, 390, size=(2, 5))
    vec = np.exp(-((bins - centres[..., None]) ** 2) / (2 * 4.9**2)).astype(np.float32)
    locs, _ = simcc_maximum(vec, vec)
    got = refine_simcc_dark(locs[..., 0], vec, 29)
    s = np.pad(
        np.log(np.clip(gaussian_blur1d(vec, 29), 1e-3, 50)), ((0, 0), (0, 0), (2, 2)), "edge"
    )
    for i in np.ndindex(locs.shape[:-1]):
        p = int(locs[i][0] + 2.5)
        row = s[i]
        dx = 0.5 * (row[(p + 1) % 388] - row[(p - 1) % 388])
        dxx = 1e-9 + 0.25 * (row[(p + 2) % 388] - 2 * row[p] + row[(p - 2) % 388])
        assert got[i] == pytest.approx(locs[i][0] - dx / dxx, abs=1e-3)
    inside = (centres > 20) & (centres < 364)
    np.testing.assert_allclose(got[inside], centres[inside], atol=0.05)


def test_refine_simcc_expectation_finds_sub_bin_centres_and_ignores_far_modes():
    bins = np.arange(448, dtype=np.float64)
    centres = np.array([[100.3, 200.8, 37.5]])
    # log-Gaussian logits (σ = 5.66 bins) under the temperature beta = 10
    logits = -((bins - centres[..., None]) ** 2) / (2 * 5.66**2) / 10.0
    logits[0, 1] = np.where(np.abs(bins - 300) < 10, 1.0, logits[0, 1])  # a far, strong mode
    locs = np.array([[100.0, 201.0, 38.0]], np.float32)
    got = refine_simcc_expectation(locs, logits, beta=10.0, radius=34.0)
    np.testing.assert_allclose(got, centres, atol=1e-3)
    wide = refine_simcc_expectation(locs, logits, beta=10.0, radius=448.0)
    assert wide[0, 1] > 250  # without the window the far mode pulls the estimate
    empty = refine_simcc_expectation(np.array([-1.0], np.float32), logits[0, :1], 10.0, 34.0)
    assert empty.tolist() == [-1.0]


def test_simcc_refinements_are_exclusive_and_checked():
    from posecli.codecs import build as build_codec
    from posecli.errors import BuildError

    with pytest.raises(BuildError, match="choose one"):
        build_codec("simcc", input_size=(64, 64), use_dark=True, soft_argmax_beta=10.0)
    with pytest.raises(BuildError, match="soft_argmax_beta must be > 0"):
        build_codec("simcc", input_size=(64, 64), soft_argmax_beta=0.0)
    with pytest.raises(BuildError, match="soft_argmax_window must be > 0"):
        build_codec("simcc", input_size=(64, 64), soft_argmax_beta=10.0, soft_argmax_window=0)


def test_maxima_first_max_and_minus_one_for_empty():
    maps = np.zeros((2, 4, 5), np.float32)
    maps[0, 1, 2] = maps[0, 3, 4] = 1.0
    locs, vals = heatmap_maximum(maps)
    np.testing.assert_array_equal(locs, [[2, 1], [-1, -1]])
    np.testing.assert_array_equal(vals, [1, 0])
    x = np.array([[0.1, 0.9, 0.3]], np.float32)
    y = np.array([[0.5, 0.2, 0.0]], np.float32)
    locs, vals = simcc_maximum(x, y)
    np.testing.assert_array_equal(locs, [[1, 0]])
    np.testing.assert_allclose(vals, [0.5])
