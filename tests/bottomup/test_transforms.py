"""Bottom-up transforms against MMPose's documented matrices and sizes."""

from __future__ import annotations

import numpy as np
import pytest

from posecli.data.transforms.bottomup import (
    BottomupGetHeatmapMask,
    BottomupRandomAffine,
    BottomupResize,
    FilterAnnotations,
    fix_aspect_ratio_bottomup,
)
from posecli.data.transforms.flip import RandomFlip


def _sample(w: int = 640, h: int = 480) -> dict:
    img = np.zeros((h, w, 3), np.uint8)
    img[100, 200] = 255  # a bright pixel that must land where its keypoint lands
    kp = np.array([[[200, 100], [300, 200]], [[10, 10], [20, 20]]], np.float32)
    return {
        "img": img,
        "img_shape": (h, w),
        "ori_shape": (h, w),
        "keypoints": kp,
        "keypoints_visible": np.array([[1, 1], [0, 1]], np.float32),
        "bbox": np.array([[190, 90, 310, 210], [5, 5, 25, 25]], np.float32),
        "area": np.array([1000.0, 0.5], np.float32),
        "flip_indices": [1, 0],
    }


def test_random_affine_identity_parameters_give_mmpose_matrix() -> None:
    t = BottomupRandomAffine(input_size=(512, 512))
    m = t.matrix((640, 480), np.zeros(2), 1.0, 0.0)
    # scale (640, 480) fitted 'short' to aspect 1 → (480, 480); centre (320, 240) → (256, 256)
    s = 512 / 480
    np.testing.assert_allclose(m, [[s, 0, 256 - s * 320], [0, s, 256 - s * 240]], atol=1e-9)
    assert fix_aspect_ratio_bottomup(np.array([640.0, 480.0]), 1.0, "long").tolist() == [640, 640]


def test_random_affine_moves_image_and_keypoints_together() -> None:
    t = BottomupRandomAffine(input_size=(256, 256), rotate_factor=0)
    out = t(_sample(), np.random.default_rng(3))
    assert out["img"].shape == (256, 256, 3) and out["input_size"] == (256, 256)
    x, y = np.rint(out["keypoints"][0, 0]).astype(int)
    if 0 <= x < 256 and 0 <= y < 256:
        patch = out["img"][max(y - 1, 0) : y + 2, max(x - 1, 0) : x + 2]
        assert patch.max() > 0
    again = t(_sample(), np.random.default_rng(3))
    np.testing.assert_array_equal(again["warp_mat"], out["warp_mat"])  # seeded


def test_flip_after_random_affine_flips_image_and_keypoints() -> None:
    t = BottomupRandomAffine(input_size=(256, 256), shift_prob=0, scale_prob=0, rotate_prob=0)
    s = t(_sample(), np.random.default_rng(0))
    before = s["keypoints"].copy()
    s = RandomFlip(prob=1.0)(s, np.random.default_rng(0))
    s = BottomupGetHeatmapMask()(s, np.random.default_rng(0))  # applies the pending flip
    assert "img_pending" not in s
    np.testing.assert_allclose(s["keypoints"][0, 1, 0], 255 - before[0, 0, 0], atol=1e-4)
    x, y = np.rint(s["keypoints"][0, 1]).astype(int)
    assert s["img"][y - 1 : y + 2, x - 1 : x + 2].max() > 0


def test_resize_expand_sizes_and_matrix_as_mmpose() -> None:
    t = BottomupResize(input_size=(512, 512), size_factor=32, resize_mode="expand")
    actual, padded = t.sizes((640, 480))
    assert actual == pytest.approx((512 * 4 / 3, 512)) and padded == (704, 512)
    out = t(_sample(), np.random.default_rng(0))
    assert out["img"].shape == (512, 704, 3) and out["input_size"] == (704, 512)
    np.testing.assert_allclose(out["input_center"], [320, 240])
    np.testing.assert_allclose(out["input_scale"], [660, 480], rtol=1e-6)
    s = 704 / 660
    np.testing.assert_allclose(out["warp_mat"], [[s, 0, 352 - 320 * s], [0, s, 0]], atol=1e-4)
    fit = BottomupResize(input_size=(512, 512), resize_mode="fit").sizes((640, 480))
    assert fit == ((512, 384), (512, 512))


def test_resize_aug_scales_add_the_scaled_images_and_keep_the_base_geometry() -> None:
    """MMPose's ``aug_scales``: the extra inputs are the image resized for ``input_size × s``
    (int-truncated); the recorded geometry is the base scale's."""
    base = BottomupResize(input_size=(512, 512), resize_mode="expand")(_sample(), None)
    multi = BottomupResize(input_size=(512, 512), resize_mode="expand", aug_scales=[0.5, 1.25])
    out = multi(_sample(), None)
    np.testing.assert_array_equal(out["img"], base["img"])
    for key in ("input_size", "input_center", "input_scale"):
        np.testing.assert_array_equal(out[key], base[key])
    assert out["aug_scales"] == [0.5, 1.25]
    for img, side in zip(out["aug_imgs"], (256, 640), strict=True):
        alone = BottomupResize(input_size=(side, side), resize_mode="expand")(_sample(), None)
        np.testing.assert_array_equal(img, alone["img"])
    assert [a.shape[:2] for a in out["aug_imgs"]] == [(256, 352), (640, 864)]
    with pytest.raises(ValueError, match="aug_scales must be positive"):
        BottomupResize(input_size=(512, 512), aug_scales=[0.0])


def test_heatmap_mask_masks_outside_the_warped_image() -> None:
    s = BottomupResize(input_size=(256, 256), resize_mode="fit")(_sample(), None)
    s["heatmaps"] = np.zeros((2, 64, 64), np.float32)
    mask = BottomupGetHeatmapMask()(s, None)["heatmap_mask"]
    assert mask.shape == (64, 64)
    assert mask[32, 32] == 1 and mask[0, 32] == 0 and mask[63, 32] == 0  # letterbox bands


def test_filter_annotations_by_keypoints_area_and_box() -> None:
    s = FilterAnnotations(min_kpt_vis=2)(_sample(), None)
    assert len(s["keypoints"]) == 1 and len(s["bbox"]) == 1
    s = FilterAnnotations(by_kpt=False, by_area=True, min_gt_area=1)(_sample(), None)
    assert len(s["keypoints"]) == 1
    with pytest.raises(ValueError, match="no instance left"):
        FilterAnnotations(min_kpt_vis=3, keep_empty=False)(_sample(), None)
