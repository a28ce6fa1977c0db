"""The pipeline's fast paths give the same values as the plain computations they replace:
grayscale PNGs kept as one plane, table-driven SimCC / MSRA targets and HSV look-up tables."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from posecli.codecs.simcc import SimCCLabel
from posecli.codecs.utils.gaussian import msra_gaussian_heatmaps
from posecli.data.io import gray_plane, read_image
from posecli.data.loader import ImageCache
from posecli.data.transforms import YOLOXHSVRandomAug, build_pipeline

FRAMES = Path(__file__).resolve().parents[2] / "examples" / "mirror-mouse"

RTMPOSE = [
    {"name": "GetBBoxCenterScale"},
    {"name": "RandomFlip", "prob": 0.5},
    {"name": "RandomHalfBody", "prob": 0.5, "min_total_keypoints": 1},
    {"name": "RandomBBoxTransform", "scale_factor": [0.6, 1.4], "rotate_factor": 80},
    {"name": "TopdownAffine", "input_size": [192, 256]},
    {"name": "YOLOXHSVRandomAug"},
    {"name": "Blur", "p": 0.3},
    {"name": "MedianBlur", "p": 0.3},
    {"name": "CoarseDropout", "p": 0.5},
    {
        "name": "GenerateTarget",
        "encoder": {"name": "simcc", "input_size": [192, 256], "sigma": [4.9, 5.66]},
    },
]


def _first_frame() -> Path:
    return sorted(FRAMES.rglob("*.png"))[0]


def test_gray_png_is_read_as_a_view_with_the_bgr_values(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    gray = rng.integers(0, 256, (37, 53), dtype=np.uint8)
    colour = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    cv2.imwrite(str(tmp_path / "g.png"), gray)
    cv2.imwrite(str(tmp_path / "c.png"), colour)
    cv2.imwrite(str(tmp_path / "g16.png"), gray.astype(np.uint16) * 257)
    for name, is_view in [("g.png", True), ("c.png", False), ("g16.png", False)]:
        plain = read_image(tmp_path / name)
        fast = read_image(tmp_path / name, gray_view=True)
        assert fast.shape == plain.shape == (37, 53, 3) and fast.dtype == np.uint8
        np.testing.assert_array_equal(fast, plain)
        assert (gray_plane(fast) is not None) is is_view
        assert gray_plane(plain) is None
    view = read_image(tmp_path / "g.png", gray_view=True)
    np.testing.assert_array_equal(gray_plane(view), gray)
    assert not view.flags.writeable


def test_image_cache_keeps_gray_frames_as_one_plane() -> None:
    path = str(_first_frame())
    cache = ImageCache()
    img = cache.get(path, None)
    np.testing.assert_array_equal(img, read_image(path))
    assert gray_plane(img) is not None
    assert cache.nbytes == img.shape[0] * img.shape[1]  # one plane, not three


@pytest.mark.parametrize("seed", range(12))
def test_pipeline_on_a_gray_view_equals_the_pipeline_on_bgr(mouse_dataset, seed: int) -> None:
    pipe = build_pipeline(RTMPOSE)
    raw = mouse_dataset[seed % len(mouse_dataset)]
    bgr = read_image(raw["img_path"])
    view = read_image(raw["img_path"], gray_view=True)
    assert gray_plane(view) is not None
    out = [
        pipe({**raw, "img": img, "img_shape": img.shape[:2]}, np.random.default_rng(seed))
        for img in (np.ascontiguousarray(bgr), view)
    ]
    assert out[1]["img"].shape == (256, 192, 3) and out[1]["img"].flags.c_contiguous
    assert out[1]["img"].flags.writeable
    for key in ("img", "transformed_keypoints", "keypoint_x_labels", "keypoint_y_labels"):
        np.testing.assert_array_equal(out[0][key], out[1][key])
    assert out[0]["flip"] == out[1]["flip"]


def _dense_msra(size, kp, vis, sigma):
    """Every pixel of the map evaluated (the textbook MSRA construction)."""
    w, h = size
    n, k, _ = kp.shape
    out = np.zeros((k, h, w), np.float32)
    weights = vis.astype(np.float32).copy()
    radius = sigma * 3
    length = int(np.ceil(2 * radius + 1))
    centre = (2 * radius + 1) // 2
    for i in range(n):
        for j in range(k):
            mu = np.trunc(kp[i, j].astype(np.float64) + 0.5)
            low, high = np.trunc(mu - radius), np.trunc(mu + radius + 1)
            if low[0] >= w or low[1] >= h or high[0] < 0 or high[1] < 0:
                weights[i, j] = 0 if vis[i, j] >= 0.5 else vis[i, j]
                continue
            if vis[i, j] < 0.5:
                continue
            for y in range(h):
                for x in range(w):
                    gx, gy = x - low[0], y - low[1]
                    if 0 <= gx < min(length, high[0] - low[0]) and 0 <= gy < min(
                        length, high[1] - low[1]
                    ):
                        e = (gx - centre) ** 2 + (gy - centre) ** 2
                        g = np.float32(np.exp(-e / (2 * sigma**2)))
                        out[j, y, x] = max(out[j, y, x], g)
    return out, weights


@pytest.mark.parametrize("sigma", [2.0, 1.5, 2.5, 0.7])
def test_msra_targets_equal_a_dense_evaluation(sigma: float) -> None:
    rng = np.random.default_rng(int(sigma * 10))
    for n in (0, 1, 3):
        kp = rng.uniform(-12, 30, (n, 4, 2)).astype(np.float32)
        vis = rng.choice([0.0, 0.3, 1.0], (n, 4)).astype(np.float32)
        heatmaps, weights = msra_gaussian_heatmaps((12, 16), kp, vis, sigma)
        want_h, want_w = _dense_msra((12, 16), kp, vis, sigma)
        assert heatmaps.dtype == np.float32 and heatmaps.shape == (4, 16, 12)
        np.testing.assert_array_equal(heatmaps, want_h)
        np.testing.assert_array_equal(weights, want_w)


@pytest.mark.parametrize("normalize", [False, True])
def test_simcc_labels_equal_a_direct_evaluation(normalize: bool) -> None:
    rng = np.random.default_rng(3)
    codec = SimCCLabel((192, 256), sigma=(4.9, 5.66), normalize=normalize)
    kp = rng.uniform(-60, 320, (3, 17, 2)).astype(np.float32)
    kp[0, :3] = [[-1e6, 5.0], [5.0, 1e6], [191.0, 255.0]]
    vis = rng.choice([0.0, 1.0], (3, 17)).astype(np.float32)
    enc = codec.encode(kp, vis)
    mu = np.around(kp * 2.0).astype(np.int64)
    for axis, key, bins, sigma in [
        (0, "keypoint_x_labels", 384, 4.9),
        (1, "keypoint_y_labels", 512, 5.66),
    ]:
        want = np.exp(-((np.arange(bins) - mu[..., axis, None]) ** 2) / (2 * sigma**2))
        if normalize:
            want = want / (sigma * np.sqrt(np.pi * 2))
        keep = (vis >= 0.5) & (enc["keypoint_weights"] > 0)
        want = np.where(keep[..., None], want, 0.0).astype(np.float32)
        np.testing.assert_array_equal(enc[key], want)
    assert enc["keypoint_weights"][0, 0] == 0 and enc["keypoint_weights"][0, 2] == vis[0, 2]


def test_hsv_tables_equal_the_per_pixel_formula() -> None:
    rng = np.random.default_rng(5)
    img = rng.integers(0, 256, (16, 16, 3), dtype=np.uint8)
    aug = YOLOXHSVRandomAug(hue_delta=90, saturation_delta=200, value_delta=200)
    changed = 0
    for seed in range(40):
        out = aug({"img": img}, np.random.default_rng(seed))["img"]
        draw = np.random.default_rng(seed)
        gains = (draw.uniform(-1, 1, 3) * [90, 200, 200] * draw.integers(0, 2, 3)).astype(int)
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV).astype(np.int64)
        hsv[..., 0] = (hsv[..., 0] + gains[0]) % 180
        hsv[..., 1:] = np.clip(hsv[..., 1:] + gains[1:], 0, 255)
        want = cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2BGR) if gains.any() else img
        np.testing.assert_array_equal(out, want)
        changed += bool(gains.any())
    assert changed > 20


def test_pending_flip_on_a_gray_view_keeps_the_view_and_the_values() -> None:
    from posecli.data.transforms import apply_flip, ensure_image

    path = str(_first_frame())
    out = []
    for img in (read_image(path), read_image(path, gray_view=True)):
        sample = {"img": img, "img_shape": img.shape[:2], "bbox": np.array([[1, 2, 30, 40.0]])}
        out.append(ensure_image(apply_flip(sample, "diagonal")))
    np.testing.assert_array_equal(out[0], out[1])
    np.testing.assert_array_equal(out[0], read_image(path)[::-1, ::-1])
    assert gray_plane(out[1]) is not None
