"""Drawing: poses with skeleton/track colours and boxes; heatmap grid, SimCC profiles, sigmas."""

from __future__ import annotations

import numpy as np
import pytest

from posecli.visualization.draw import draw_pose, palette, skeleton_style, track_color
from posecli.visualization.heatmaps import heatmap_grid, regression_points, simcc_profiles

LINKS = np.array([[0, 1], [1, 2]])


def _image() -> np.ndarray:
    return np.full((120, 160, 3), 40, np.uint8)


def _changed(a: np.ndarray, b: np.ndarray) -> int:
    return int((np.abs(a.astype(int) - b.astype(int)).sum(-1) > 0).sum())


def test_draw_pose_skeleton_colours_threshold_and_copy() -> None:
    img = _image()
    kpts = np.array([[[20.3, 30.7], [60.5, 30.2], [60.0, 90.0]]], np.float32)
    colours = np.array([[0, 0, 255], [0, 255, 0], [255, 0, 0]], np.uint8)
    out = draw_pose(
        img,
        kpts,
        np.array([[0.9, 0.9, 0.9]]),
        links=LINKS,
        keypoint_colors=colours,
        radius=4,
        thickness=2,
    )
    assert out.shape == img.shape and out.dtype == np.uint8
    assert np.array_equal(img, _image())  # drawn on a copy
    assert out[31, 20].tolist() == [0, 0, 255] and out[90, 60].tolist() == [255, 0, 0]
    assert out[30, 40, 2] > 150 and out[30, 40, 1] < 100  # link coloured as its first keypoint
    assert _changed(out, img) > 150
    low = draw_pose(img, kpts, np.array([[0.9, 0.9, 0.1]]), links=LINKS, kpt_thr=0.3)
    assert _changed(low, img) < _changed(out, img)
    assert _changed(low[70:, :], img[70:, :]) == 0  # keypoint 2 and its link skipped


def test_draw_pose_tracks_and_boxes() -> None:
    img = _image()
    kpts = np.array([[[20, 30], [40, 30], [40, 60]], [[100, 30], [120, 30], [120, 60]]], np.float32)
    out = draw_pose(
        img,
        kpts,
        links=LINKS,
        track_ids=np.array([3, 8]),
        color_by="track",
        bboxes=np.array([[10, 20, 50, 70], [90, 20, 130, 70]]),
        bbox_scores=np.array([0.9, 0.8]),
        show_bbox=True,
    )
    assert out[30, 20].tolist() == list(track_color(3)) and out[30, 100].tolist() == list(
        track_color(8)
    )
    assert track_color(3) != track_color(8) and track_color(3) == track_color(3)
    assert (
        np.abs(out[45, 10].astype(int) - track_color(3)).max() < 40
    )  # left box edge (anti-aliased)
    empty = draw_pose(img, np.zeros((0, 3, 2)), links=LINKS)
    assert np.array_equal(empty, img)


def _painted_disc(out: np.ndarray, centre: tuple[int, int], reach: int = 20) -> int:
    """Pixels changed within ``reach`` of ``centre`` (x, y) on a blank 40-grey canvas."""
    x, y = centre
    patch = out[y - reach : y + reach + 1, x - reach : x + reach + 1].astype(int)
    return int((np.abs(patch - 40).sum(-1) > 0).sum())


def test_whole_body_face_and_hands_are_drawn_finer() -> None:
    from posecli.data.metainfo import load_skeleton

    style = skeleton_style(load_skeleton("coco_wholebody"))
    assert style["detail_ids"] is not None and style["detail_ids"].tolist() == list(range(23, 133))
    kpts = np.full((1, 133, 2), np.nan, np.float32)
    kpts[0, 0] = (60, 60)  # nose (body)
    kpts[0, 23] = (200, 60)  # face-0
    kpts[0, 100] = (60, 200)  # a left-hand point
    img = np.full((300, 300, 3), 40, np.uint8)
    out = draw_pose(img, kpts, np.ones((1, 133)), radius=10, thickness=3, **style)
    body, face, hand = (_painted_disc(out, c) for c in ((60, 60), (200, 60), (60, 200)))
    assert body > 250  # π·10² ≈ 314
    assert 25 < face < 0.25 * body and 25 < hand < 0.25 * body  # radius 4: π·4² ≈ 50
    plain = draw_pose(img, kpts, np.ones((1, 133)), radius=10, thickness=3)
    assert _painted_disc(plain, (200, 60)) > 250  # without the skeleton's detail: full size


def test_size_aware_radius_follows_the_instance() -> None:
    img = np.full((800, 800, 3), 40, np.uint8)
    small = np.array([[[100, 100], [130, 100], [100, 130]]], np.float32)  # ~30 px instance
    large = np.array([[[300, 300], [660, 300], [300, 660]]], np.float32)  # ~360 px instance

    def area(image: np.ndarray, kpts: np.ndarray, radius: float | None, at: tuple) -> int:
        return _painted_disc(draw_pose(image, kpts, radius=radius, thickness=None), at, 8)

    a_small = area(img, small, None, (130, 100))
    assert a_small == area(img, small, 1.5, (130, 100))  # 30 / 45 px, floored at 1.5 px
    a_large = area(img, large, None, (660, 300))
    assert a_large == area(img, large, 5, (660, 300)) > 4 * a_small  # 8 px, capped at 800/160
    mid = np.array([[[100, 100], [190, 100], [100, 190]]], np.float32)  # 90 px: 2 px
    assert area(img, mid, None, (100, 100)) == area(img, mid, 2, (100, 100)) < a_large


def test_palette_and_skeleton_style() -> None:
    pal = palette(17)
    assert pal.shape == (17, 3) and len({tuple(c) for c in pal.tolist()}) == 17
    style = skeleton_style({"links": [[0, 1]], "keypoint_colors": [[1, 2, 3], [4, 5, 6]]})
    assert style["links"].shape == (1, 2) and style["link_colors"] is None


def test_heatmap_grid_size_names_and_max_cell() -> None:
    crop = np.full((64, 48, 3), 90, np.uint8)
    heat = np.zeros((5, 16, 12), np.float32)
    for k in range(5):
        heat[k, 2 + 2 * k, 3 + k] = 1.0
    grid = heatmap_grid(crop, heat, ["nose", "l_eye", "r_eye", "l_ear", "r_ear"])
    assert grid.shape == (2 * 64, 3 * 48, 3)  # 6 cells: 3 columns x 2 rows
    cells = grid.reshape(2, 64, 3, 48, 3).transpose(0, 2, 1, 3, 4).reshape(6, 64, 48, 3)
    assert all(_changed(c, crop) > 100 for c in cells)  # every cell shows its map
    peak = np.unravel_index(np.argmax(cells[0][..., 2].astype(int) - cells[0][..., 0]), (64, 48))
    assert abs(peak[0] - 9.5) <= 4 and abs(peak[1] - 14) <= 4  # output (3, 2) ≈ input (14, 10)
    with pytest.raises(ValueError, match="names"):
        heatmap_grid(crop, heat, ["a"])


def test_simcc_profiles_and_regression_points() -> None:
    crop = np.full((64, 48, 3), 90, np.uint8)
    sx = np.exp(-0.5 * ((np.arange(96)[None] - np.array([[20], [60]])) / 3.0) ** 2)
    sy = np.exp(-0.5 * ((np.arange(128)[None] - np.array([[30], [100]])) / 3.0) ** 2)
    img = simcc_profiles(crop, sx, sy, ["a", "b"], panel=40)
    assert img.shape == (64 + 40, 48 + 40, 3)
    bottom = img[64:, :48]
    assert (bottom.reshape(-1, 3) != 32).any(axis=1).sum() > 50  # curves drawn
    assert _changed(img[:64, :48], crop) > 20  # arg-max markers on the crop
    reg = regression_points(
        crop,
        np.array([[10.0, 20.0], [30.0, 40.0]]),
        np.array([[3.0, 6.0], [2.0, 2.0]]),
        ["a", "b"],
        scores=np.array([0.9, 0.4]),
    )
    assert reg.shape == crop.shape and _changed(reg, crop) > 40
    assert reg[20, 10 + 6].tolist() != [90, 90, 90] or reg[20 + 6, 10].tolist() != [90, 90, 90]
