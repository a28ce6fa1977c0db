from __future__ import annotations

import cv2
import numpy as np
import pytest

from posecli.data.transforms import (
    GetBBoxCenterScale,
    RandomFlip,
    TopdownAffine,
    apply_flip,
    build_pipeline,
    get_udp_warp_matrix,
    get_warp_matrix,
)
from posecli.data.transforms.geometry import invert_affine, warp_points
from posecli.plugins import registry

SIMCC = {"name": "simcc", "input_size": [192, 256], "sigma": [4.9, 5.66], "simcc_split_ratio": 2.0}
MSRA = {"name": "msra_heatmap", "input_size": [192, 256], "heatmap_size": [48, 64], "sigma": 2.0}

#: One table per registered transform; a new transform must add its entry here.
TABLES = {
    "load_image": {},
    "get_bbox_center_scale": {},
    "random_flip": {"prob": 1.0},
    "random_flip_around_root": {"flip_prob": 1.0},  # lifting: tests/lifting/test_data.py
    "random_half_body": {"prob": 1.0, "min_total_keypoints": 1},
    "random_bbox_transform": {},
    "topdown_affine": {"input_size": [192, 256]},
    "yolox_hsv_random_aug": {},
    "blur": {"p": 1.0},
    "median_blur": {"p": 1.0},
    "coarse_dropout": {"p": 1.0},
    "albumentation": {
        "transforms": [{"type": "Blur", "p": 1.0}, {"type": "CoarseDropout", "p": 1.0}]
    },
    "generate_target": {"encoder": SIMCC},
    "pack_pose_inputs": {},
    "bottomup_random_affine": {"input_size": [128, 128]},  # bottom-up: tests/bottomup
    "bottomup_resize": {"input_size": [128, 128], "resize_mode": "expand"},
    "bottomup_get_heatmap_mask": {},
    "filter_annotations": {},
    "mosaic": {"img_scale": [64, 64]},  # one-stage: tests/bottomup/test_rtmo.py
    "yolox_mixup": {"img_scale": [64, 64]},
}
BEFORE = ["load_image", "get_bbox_center_scale"]
AFTER_AFFINE = {
    "yolox_hsv_random_aug",
    "blur",
    "median_blur",
    "coarse_dropout",
    "albumentation",
    "generate_target",
    "pack_pose_inputs",
    "bottomup_get_heatmap_mask",
}


def test_warp_matrix_reference_values() -> None:
    c, s = np.array([100.0, 100.0]), np.array([50.0, 50.0])
    np.testing.assert_allclose(
        get_warp_matrix(c, s, 0, (200, 200)), [[4, 0, -300], [0, 4, -300]], atol=1e-5
    )
    np.testing.assert_allclose(
        get_warp_matrix(c, s, 45, (200, 200)),
        [[2.828427, 2.828427, -465.685303], [-2.828427, 2.828427, 100]],
        atol=1e-4,
    )
    np.testing.assert_allclose(
        get_warp_matrix(c, s, 0, (200, 200), inv=True), [[0.25, 0, 75], [0, 0.25, 75]], atol=1e-6
    )


def test_warp_matrix_equals_three_point_construction() -> None:
    rng = np.random.default_rng(0)
    for _ in range(20):
        c, s, rot = rng.uniform(50, 300, 2), rng.uniform(20, 200, 2), rng.uniform(-90, 90)
        w, h = 192, 256
        t = np.deg2rad(rot)
        src_dir = np.array([0.5 * s[0] * np.sin(t), -0.5 * s[0] * np.cos(t)])  # (0, -sw/2) rotated
        dst = np.array([[w / 2, h / 2], [w / 2, h / 2 - w / 2]], np.float32)
        src = np.array([c, c + src_dir], np.float32)
        third = lambda a, b: b + np.array([-(a - b)[1], (a - b)[0]])  # noqa: E731
        m = cv2.getAffineTransform(
            np.vstack([src, third(*src)]).astype(np.float32),
            np.vstack([dst, third(*dst)]).astype(np.float32),
        )
        np.testing.assert_allclose(get_warp_matrix(c, s, rot, (w, h)), m, rtol=1e-4, atol=1e-3)


def test_udp_matrix_maps_centre_to_pixel_centre_and_rotates_the_other_way() -> None:
    m = get_udp_warp_matrix((100, 80), (50, 60), 0, (192, 256))
    np.testing.assert_allclose(
        warp_points(np.array([[100.0, 80.0]]), m), [[95.5, 127.5]], atol=1e-5
    )
    a = get_warp_matrix((0, 0), (10, 10), 30, (10, 10))[:, :2]
    b = get_udp_warp_matrix((0, 0), (10, 10), 30, (11, 11))[:, :2]
    np.testing.assert_allclose(a, b.T, atol=1e-6)


def _sample() -> dict:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 255, (120, 160, 3), dtype=np.uint8)
    kps = rng.uniform(20, 100, (1, 4, 2)).astype(np.float32)
    return {
        "img": img,
        "img_shape": (120, 160),
        "ori_shape": (120, 160),
        "bbox": np.array([[10, 15, 130, 110]], np.float32),
        "bbox_score": np.ones(1, np.float32),
        "keypoints": kps,
        "keypoints_visible": np.ones((1, 4), np.float32),
        "flip_indices": [1, 0, 2, 3],
        "upper_body_ids": [0, 1],
        "lower_body_ids": [2, 3],
    }


def test_flip_twice_is_identity() -> None:
    s = GetBBoxCenterScale()(_sample(), np.random.default_rng(0))
    ref = {k: np.copy(v) for k, v in s.items() if isinstance(v, np.ndarray)}
    s = apply_flip(apply_flip(s))
    for k in ("keypoints", "keypoints_visible", "bbox", "bbox_center"):
        np.testing.assert_allclose(s[k], ref[k], atol=1e-4)
    np.testing.assert_allclose(s["img_pending"], [[1, 0, 0], [0, 1, 0]], atol=1e-9)
    assert s["flip"] is False


def test_lazy_flip_equals_flipping_the_image() -> None:
    s = GetBBoxCenterScale()(_sample(), np.random.default_rng(0))
    eager = {k: (np.copy(v) if isinstance(v, np.ndarray) else v) for k, v in s.items()}
    eager = apply_flip(eager)
    eager["img"] = cv2.flip(eager.pop("img"), 1)
    eager.pop("img_pending")
    lazy = apply_flip(s)
    a = TopdownAffine((64, 48))(eager, np.random.default_rng(0))
    b = TopdownAffine((64, 48))(lazy, np.random.default_rng(0))
    assert np.abs(a["img"].astype(int) - b["img"].astype(int)).max() <= 1
    np.testing.assert_allclose(a["transformed_keypoints"], b["transformed_keypoints"], atol=1e-4)


@pytest.mark.parametrize("udp", [False, True])
@pytest.mark.parametrize("flip", [False, True])
def test_dot_lands_where_the_keypoint_lands(udp: bool, flip: bool) -> None:
    img = np.zeros((300, 400, 3), np.uint8)
    x, y = 250, 120
    img[y - 1 : y + 2, x - 1 : x + 2] = 255
    s = {
        "img": img,
        "img_shape": (300, 400),
        "bbox": np.array([[150, 40, 330, 260]], np.float32),
        "keypoints": np.array([[[x, y]]], np.float32),
        "keypoints_visible": np.ones((1, 1), np.float32),
        "flip_indices": [0],
        "bbox_rotation": np.array([25.0], np.float32),
    }
    s = GetBBoxCenterScale()(s, None)
    if flip:
        s = apply_flip(s)
    s = TopdownAffine((192, 256), use_udp=udp)(s, None)
    out = s["img"][..., 0].astype(np.float64)
    yy, xx = np.mgrid[: out.shape[0], : out.shape[1]]
    found = np.array([(out * xx).sum(), (out * yy).sum()]) / out.sum()
    np.testing.assert_allclose(found, s["transformed_keypoints"][0, 0], atol=0.3)


def test_inverse_affine_round_trips_to_image_space() -> None:
    m = get_warp_matrix((120, 90), (100, 150), 17, (192, 256))
    pts = np.random.default_rng(0).uniform(0, 200, (5, 2))
    np.testing.assert_allclose(warp_points(warp_points(pts, m), invert_affine(m)), pts, atol=1e-3)


def _pipeline_for(name: str):
    steps = [{"name": n, **TABLES[n]} for n in BEFORE if n != name]
    if name in AFTER_AFFINE:
        steps.append({"name": "topdown_affine", **TABLES["topdown_affine"]})
    steps.append({"name": name, **TABLES[name]})
    return build_pipeline(steps)


@pytest.mark.parametrize("name", registry("transforms").names())
def test_every_registered_transform_runs_and_reproduces(name: str, mouse_dataset) -> None:
    assert name in TABLES, f"add a test table for transform {name!r}"
    pipe = _pipeline_for(name)
    a = pipe(mouse_dataset[3], np.random.default_rng(7))
    b = pipe(mouse_dataset[3], np.random.default_rng(7))
    assert a.keys() == b.keys()
    for key, value in a.items():
        if isinstance(value, np.ndarray):
            np.testing.assert_array_equal(value, b[key], err_msg=key)
    assert a["img"].dtype == np.uint8


def test_random_flip_uses_the_generator(mouse_dataset) -> None:
    flips = [
        RandomFlip(prob=0.5)(
            GetBBoxCenterScale()(mouse_dataset[0], None), np.random.default_rng(i)
        )["flip"]
        for i in range(40)
    ]
    assert 5 < sum(flips) < 35


def _full_pipeline():
    return build_pipeline(
        [
            {"name": "LoadImage"},
            {"name": "GetBBoxCenterScale"},
            {"name": "RandomFlip"},
            {"name": "RandomHalfBody"},
            {"name": "RandomBBoxTransform"},
            {"name": "TopdownAffine", "input_size": [192, 256]},
            {"name": "YOLOXHSVRandomAug"},
            {
                "name": "Albumentation",
                "transforms": [
                    {"type": "Blur", "p": 0.1},
                    {"type": "MedianBlur", "p": 0.1},
                    {
                        "type": "CoarseDropout",
                        "max_holes": 1,
                        "max_height": 0.4,
                        "max_width": 0.4,
                        "min_holes": 1,
                        "min_height": 0.2,
                        "min_width": 0.2,
                        "p": 1.0,
                    },
                ],
            },
            {
                "name": "GenerateTarget",
                "encoder": [SIMCC, MSRA],
                "use_dataset_keypoint_weights": True,
            },
        ]
    )


def test_seeded_pipeline_reproduces_and_seeds_differ(mouse_dataset) -> None:
    pipe = _full_pipeline()
    a = pipe(mouse_dataset[5], np.random.default_rng(11))
    b = pipe(mouse_dataset[5], np.random.default_rng(11))
    c = pipe(mouse_dataset[5], np.random.default_rng(12))
    np.testing.assert_array_equal(a["img"], b["img"])
    np.testing.assert_array_equal(a["keypoint_x_labels"], b["keypoint_x_labels"])
    assert not np.array_equal(a["img"], c["img"])
    assert a["heatmaps"].shape == (17, 64, 48) and a["keypoint_x_labels"].shape == (1, 17, 384)
    assert isinstance(a["keypoint_weights"], list) and len(a["keypoint_weights"]) == 2
