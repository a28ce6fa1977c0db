"""Bad constructor arguments and bad inputs give precise one-line errors."""

from __future__ import annotations

import numpy as np
import pytest

from posecli.codecs import MSRAHeatmap, RegressionLabel, SimCCLabel, UDPHeatmap, build
from posecli.errors import BuildError

INP, HM = (192, 256), (48, 64)


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        ("simcc", {"smoothing_type": "laplace"}, "invalid smoothing_type 'laplace'"),
        ("simcc", {"label_smooth_weight": 0.1}, "only used with smoothing_type='standard'"),
        (
            "simcc",
            {"smoothing_type": "standard", "label_smooth_weight": 1.5},
            "label_smooth_weight must be in [0, 1]",
        ),
        ("udp_heatmap", {"heatmap_size": HM, "heatmap_type": "offsets"}, "invalid heatmap_type"),
        ("msra_heatmap", {"heatmap_size": HM, "sigma": 2, "blur_kernel_size": 10}, "odd integer"),
        ("msra_heatmap", {"heatmap_size": (48,), "sigma": 2}, "heatmap_size must be a (w, h)"),
    ],
)
def test_constructor_errors(name, kwargs, message):
    with pytest.raises(BuildError) as info:
        build(name, input_size=INP, **kwargs)
    text = str(info.value)
    assert message in text and text.startswith("codecs: ") and "\n" not in text


def test_unknown_argument_is_reported_with_suggestion():
    with pytest.raises(BuildError, match="did you mean sigma"):
        build("msra_heatmap", input_size=INP, heatmap_size=HM, sigmaa=2)


def test_single_instance_codec_rejects_two_instances():
    with pytest.raises(ValueError, match=r"MSRAHeatmap encodes a single instance \(N=1\), got N=2"):
        MSRAHeatmap(INP, HM, 2).encode(np.zeros((2, 3, 2), np.float32))


@pytest.mark.parametrize(
    ("kp", "vis", "message"),
    [
        (np.zeros((3, 2)), None, r"keypoints must have shape \(N, K, 2\), got \(3, 2\)"),
        (np.zeros((1, 3, 2)), np.ones((1, 4)), r"keypoints_visible must have shape \(1, 3\)"),
        (np.array([[[np.nan, 1.0]]]), None, r"keypoint \[0, 0\] is NaN but marked visible"),
    ],
)
def test_bad_encode_inputs(kp, vis, message):
    with pytest.raises(ValueError, match=message):
        UDPHeatmap(INP, HM).encode(kp, vis)


def test_nan_invisible_keypoints_are_ignored():
    kp = np.array([[[np.nan, np.nan], [50.0, 60.0]]], np.float32)
    enc = SimCCLabel(INP).encode(kp, np.array([[0, 1]], np.float32))
    np.testing.assert_array_equal(enc["keypoint_weights"], [[0, 1]])
    assert not np.isnan(enc["keypoint_x_labels"]).any()


def test_bad_decode_inputs():
    with pytest.raises(ValueError, match=r"heatmaps must have shape \(B, K, H, W\)"):
        MSRAHeatmap(INP, HM, 2).batch_decode(np.zeros((3, 64, 48), np.float32))
    with pytest.raises(ValueError, match="last dimension must be 2 .* or 4"):
        RegressionLabel(INP).batch_decode(np.zeros((1, 3, 3), np.float32))
    with pytest.raises(ValueError, match="leading shapes differ"):
        SimCCLabel(INP).batch_decode(np.zeros((1, 3, 384)), np.zeros((1, 4, 512)))
