"""The rotation test's geometry: quarter turns of crops and SimCC vectors turned back exactly."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from posecli.codecs.flip import simcc_flip_shift
from posecli.codecs.rotation import QUARTER_TURNS, rotate_crops, unrotate_simcc
from posecli.codecs.simcc import SimCCLabel

N = 32  # a square 32×32 crop


def _turned(xy: np.ndarray, k: int) -> np.ndarray:
    """Where pixel-centre points ``(…, 2)`` of the plain crop land after ``k`` quarter turns."""
    x, y = xy[..., 0], xy[..., 1]
    m = N - 1
    out = {0: (x, y), 1: (y, m - x), 2: (m - x, m - y), 3: (m - y, x)}[k]
    return np.stack(out, -1)


def test_a_turned_pixel_lands_where_the_docstring_says() -> None:
    crop = np.zeros((1, N, N, 3), np.uint8)
    crop[0, 5, 20] = 255  # x = 20, y = 5
    for k in QUARTER_TURNS:
        turned = rotate_crops(crop, k)
        ys, xs = np.nonzero(turned[0, :, :, 0])
        np.testing.assert_array_equal([xs[0], ys[0]], _turned(np.array([20, 5]), k))


def test_numpy_nhwc_and_torch_nchw_turn_alike() -> None:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 255, (2, N, N, 3), dtype=np.uint8)
    for k in QUARTER_TURNS:
        a = rotate_crops(crops, k)
        b = rotate_crops(torch.from_numpy(crops).permute(0, 3, 1, 2), k).permute(0, 2, 3, 1)
        np.testing.assert_array_equal(a, b.numpy())


@pytest.mark.parametrize("ratio", [1.0, 2.0, 3.0])
@pytest.mark.parametrize("as_tensor", [False, True])
def test_simcc_turned_back_decodes_to_the_plain_keypoints(ratio: float, as_tensor: bool) -> None:
    """Labels encoded at the turned positions, turned back, decode to the plain positions
    (sub-pixel keypoints: the reversal is exact with the ``ratio - 1`` bin shift)."""
    codec = SimCCLabel(input_size=(N, N), sigma=2.0, simcc_split_ratio=ratio)
    kp = np.array([[[3.3, 7.4], [20.0, 11.7], [15.2, 15.6], [28.0, 2.0]]], np.float32)
    shift = simcc_flip_shift(ratio)
    for k in QUARTER_TURNS:
        labels = codec.encode(_turned(kp, k).astype(np.float32))
        x, y = labels["keypoint_x_labels"], labels["keypoint_y_labels"]  # (1, K, W)
        if as_tensor:
            x, y = torch.from_numpy(x), torch.from_numpy(y)
        bx, by = unrotate_simcc(x, y, k, shift)
        if as_tensor:
            bx, by = bx.numpy(), by.numpy()
        back = codec.decode(bx, by)[0]
        np.testing.assert_allclose(back, kp, atol=0.5 / ratio + 1e-4)
        # the argmax bins land on the plain keypoint's own bins
        plain = codec.encode(kp)
        np.testing.assert_array_equal(np.argmax(bx, -1), np.argmax(plain["keypoint_x_labels"], -1))
        np.testing.assert_array_equal(np.argmax(by, -1), np.argmax(plain["keypoint_y_labels"], -1))


def test_a_non_square_input_is_refused() -> None:
    with pytest.raises(ValueError, match="square input"):
        unrotate_simcc(np.zeros((1, 2, 64)), np.zeros((1, 2, 48)), 1, 1.0)
