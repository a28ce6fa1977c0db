"""Property tests: shapes and weights for any keypoints, visibility and sizes."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from posecli.codecs import MSRAHeatmap, RegressionLabel, SimCCLabel, UDPHeatmap

INP, HM = (48, 64), (12, 16)
coords = st.floats(-80, 140, allow_nan=False, width=32)
SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def keypoints(draw, n=1):
    k = draw(st.integers(1, 5))
    kp = draw(arrays(np.float32, (n, k, 2), elements=coords))
    vis = draw(arrays(np.float32, (n, k), elements=st.sampled_from([0.0, 0.3, 1.0])))
    return kp, vis


def _far_outside(kp, margin, size):
    x, y = kp[..., 0], kp[..., 1]
    return (x < -margin) | (y < -margin) | (x > size[0] - 1 + margin) | (y > size[1] - 1 + margin)


@SETTINGS
@given(
    keypoints(),
    st.sampled_from([MSRAHeatmap(INP, HM, 2), MSRAHeatmap(INP, HM, 2, True), UDPHeatmap(INP, HM)]),
)
def test_heatmap_shapes_and_weights(data, codec):
    kp, vis = data
    enc = codec.encode(kp, vis)
    k = kp.shape[1]
    assert enc["heatmaps"].shape == (k, 16, 12) and enc["heatmaps"].dtype == np.float32
    w = enc["keypoint_weights"]
    assert w.shape == (1, k)
    assert (w <= vis).all()
    assert (w[vis < 0.5] == vis[vis < 0.5]).all()  # invisible: weight = visibility, not drawn
    # window radius 6 hm px; int() truncates toward zero, so left of the map a keypoint is
    # dropped only beyond 8.5 hm px = 34 px: 40 px is safely outside on every side
    far = _far_outside(kp, 10 * 4, INP) & (vis >= 0.5)
    assert (w[far] == 0).all()
    inside = (kp >= 0).all(-1) & (kp[..., 0] <= INP[0] - 1) & (kp[..., 1] <= INP[1] - 1)
    assert (w[inside] == vis[inside]).all()
    assert (enc["heatmaps"][~(w[0] >= 0.5)] == 0).all()
    assert enc["heatmaps"].max(initial=0) <= 1.0


@SETTINGS
@given(keypoints(n=2), st.sampled_from(["gaussian", "standard"]))
def test_simcc_shapes_and_weights(data, smoothing):
    kp, vis = data
    codec = SimCCLabel(INP, smoothing_type=smoothing)
    enc = codec.encode(kp, vis)
    k = kp.shape[1]
    assert enc["keypoint_x_labels"].shape == (2, k, 96)
    assert enc["keypoint_y_labels"].shape == (2, k, 128)
    w = enc["keypoint_weights"]
    assert (w[vis < 0.5] == vis[vis < 0.5]).all()
    assert (w[_far_outside(kp, 20, INP) & (vis >= 0.5)] == 0).all()
    zero = w == 0
    assert (enc["keypoint_x_labels"][zero] == 0).all()


@SETTINGS
@given(keypoints(n=3))
def test_regression_weights(data):
    kp, vis = data
    enc = RegressionLabel(INP).encode(kp, vis)
    inside = (kp >= 0).all(-1) & (kp[..., 0] <= INP[0] - 1) & (kp[..., 1] <= INP[1] - 1)
    np.testing.assert_array_equal(
        enc["keypoint_weights"], (inside & (vis > 0.5)).astype(np.float32)
    )
    kps, scores = RegressionLabel(INP).batch_decode(enc["keypoint_labels"])
    np.testing.assert_allclose(kps, kp, atol=1e-3)
    assert (scores == 1).all()
