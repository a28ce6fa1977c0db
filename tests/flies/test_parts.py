"""The parts of the two-fly pipeline: split by frame range, fixed-size crops, the matched
instance metric, the fly skeleton, the detector section of recipes."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from posecli.data.converters.sleap import read_sleap
from posecli.data.datasets.base import split_images
from posecli.data.transforms.bbox import GetBBoxCenterScale
from posecli.errors import DataError, RecipeError
from posecli.evaluation.instance_match import InstanceMatch, match_instances
from posecli.recipe import load_recipe, validate_recipe
from posecli.runtime.geometry import bbox_center_scale, box_crops
from posecli.runtime.spec import TopDownSpec

REPO = Path(__file__).resolve().parents[2]
SLP = REPO / "examples" / "sleap-flies" / "clip.slp"
SIGMAS = np.full(13, 0.025)


def test_val_last_holds_out_the_end_of_the_clip() -> None:
    ann = read_sleap(SLP, skeleton="sleap_fly13")
    val = split_images(ann, "val", val_last=300)
    train = split_images(ann, "train", val_last=300)
    frames = np.array([ann.images[i].frame_idx for i in val])
    assert len(val) == 300 and len(train) == 1200
    assert frames.min() == 1200 and frames.max() == 1499
    assert max(ann.images[i].frame_idx for i in train) == 1199
    with pytest.raises(DataError, match="val_last must be between 1 and 1499"):
        split_images(ann, "val", val_last=1500)
    with pytest.raises(
        DataError, match="exactly one of val_every, val_fraction, val_list, val_last"
    ):
        split_images(ann, "val", val_last=3, val_every=5)


def test_fly_skeleton_pairs_left_and_right_with_sleaps_sigma() -> None:
    ann = read_sleap(SLP, skeleton="sleap_fly13")
    names = ann.skeleton.keypoint_names
    flip = ann.skeleton.flip_indices
    assert names[flip[names.index("wingL")]] == "wingR"
    assert names[flip[names.index("hindlegR4")]] == "hindlegL4"
    assert flip[names.index("thorax")] == names.index("thorax")
    np.testing.assert_allclose(ann.skeleton.sigmas, SIGMAS)
    # the file's own node order and coordinates are kept
    plain = read_sleap(SLP)
    np.testing.assert_array_equal(plain.keypoints, ann.keypoints)


def test_fixed_size_crops_ignore_the_box_extent() -> None:
    boxes = np.array([[10, 20, 110, 100], [300, 300, 320, 310]], np.float32)
    centers, scales = bbox_center_scale(boxes, 1.25, fixed_size=(160, 160))
    np.testing.assert_allclose(centers, [[60, 60], [310, 305]])
    np.testing.assert_allclose(scales, [[160, 160], [160, 160]])
    sample = GetBBoxCenterScale(fixed_size=[160, 160])({"bbox": boxes}, np.random.default_rng(0))
    np.testing.assert_allclose(sample["bbox_scale"], scales)
    with pytest.raises(ValueError, match="two positive numbers"):
        GetBBoxCenterScale(fixed_size=[160])
    # the runtime cuts the same crop: a pixel at the box centre lands at the crop centre
    image = np.zeros((400, 400, 3), np.uint8)
    image[60, 60] = 255
    crops, _, crop_scales = box_crops(image, boxes[:1], (128, 128), fixed_size=(160, 160))
    np.testing.assert_allclose(crop_scales, [[160, 160]])
    y, x = np.unravel_index(np.argmax(crops[0, :, :, 0]), (128, 128))
    assert abs(x - 63.5) <= 1 and abs(y - 63.5) <= 1


def test_fixed_size_goes_into_the_spec_and_its_metadata() -> None:
    recipe = load_recipe(REPO / "recipes" / "flies.toml")
    spec = TopDownSpec.from_recipe(recipe, output_kind="simcc", num_keypoints=13, flip_indices=None)
    assert spec.fixed_size == (128.0, 128.0)
    assert "fixed 128×128 px crops" in spec.test_time_summary()
    again = TopDownSpec.from_metadata(spec.to_metadata())
    assert again.fixed_size == (128.0, 128.0)
    plain = load_recipe(REPO / "recipes" / "rtmpose.toml")
    assert (
        TopDownSpec.from_recipe(
            plain, output_kind="simcc", num_keypoints=17, flip_indices=None
        ).fixed_size
        is None
    )


def _fly(dx: float = 0.0) -> np.ndarray:
    """A 13-point fly spanning 100×60 px, shifted ``dx`` px."""
    xs = np.linspace(0, 100, 13) + dx
    ys = np.tile([0.0, 60.0], 7)[:13]
    return np.stack([xs, ys], axis=1)


def test_match_instances_greedy_by_score_and_oks_threshold() -> None:
    gt = np.stack([_fly(), _fly(500)])
    vis = np.ones((2, 13), bool)
    area = np.full(2, 100.0 * 60.0)
    pred = np.stack([_fly(503), _fly(2), _fly(250)])  # 3 px, 2 px off; one far from both
    pairs = match_instances(pred, np.array([0.9, 0.8, 0.99]), gt, vis, area, SIGMAS, 0.1)
    assert [(i, j) for i, j, _ in pairs] == [(0, 1), (1, 0)]
    # OKS of a 3 px error with σ = 0.025 and area 6000: exp(-9 / (2 · 6000 · 0.05²))
    assert pairs[0][2] == pytest.approx(np.exp(-9 / (2 * 6000 * 0.05**2)))


def test_instance_match_metric_recall_precision_error() -> None:
    metric = InstanceMatch(sigmas=SIGMAS)
    gt = np.stack([_fly(), _fly(500)])
    boxes = np.array([[0, 0, 100, 60], [500, 0, 600, 60]], np.float32)
    # top-down batches: one prediction per labelled instance (the second is off by 20 px)
    metric.process(
        {"keypoints": np.stack([_fly(2), _fly(520)]), "scores": np.ones((2, 13))},
        {
            "keypoints": gt,
            "keypoints_visible": np.ones((2, 13)),
            "bbox": boxes,
            "img_id": np.array([7, 7]),
            "id": np.array([1, 2]),
        },
    )
    values = metric.compute()
    # 20 px with σ = 0.025: OKS exp(-400 / 30) ≈ 1.6e-6 < 0.1, not a match
    assert values["match/recall"] == pytest.approx(0.5)
    assert values["match/precision"] == pytest.approx(0.5)
    assert values["match/error"] == pytest.approx(2.0)
    assert set(values) == set(metric.reported_names())


def test_detector_section_is_checked_when_the_recipe_loads(tmp_path: Path) -> None:
    recipe = load_recipe(REPO / "recipes" / "flies.toml")
    assert recipe.detector is not None and recipe.detector.name == "bottomup"
    assert Path(recipe.detector.recipe).name == "flies-centroid.toml"
    assert Path(recipe.detector.recipe).is_absolute()
    table = recipe.model_dump(mode="json", exclude_none=True)
    table["detector"] = {"recipe": "a.toml", "weights": "b.pt"}
    with pytest.raises(RecipeError, match="give recipe .* or weights, not both"):
        validate_recipe(table, "flies")
    bottomup = load_recipe(REPO / "recipes" / "flies-centroid.toml").model_dump(
        mode="json", exclude_none=True
    )
    bottomup["detector"] = {"weights": "b.pt"}
    with pytest.raises(RecipeError, match="only a top-down recipe takes a detector"):
        validate_recipe(bottomup, "flies-centroid")
    bad = tmp_path / "bad.toml"
    bad.write_text(
        (REPO / "recipes" / "flies.toml").read_text().replace("flies-centroid.toml", "nope.toml")
    )
    with pytest.raises(RecipeError, match="detector.recipe = 'nope.toml': base recipe not found"):
        load_recipe(bad)


def test_anchor_centres_labelled_crops_and_leaves_detections_alone() -> None:
    step = GetBBoxCenterScale(fixed_size=[128, 128], anchor=1)
    box = np.array([[0, 0, 100, 60]], np.float32)
    kps = np.array([[[10, 10], [70, 20], [90, 50]]], np.float32)
    rng = np.random.default_rng(0)
    out = step({"bbox": box, "keypoints": kps, "keypoints_visible": np.ones((1, 3))}, rng)
    np.testing.assert_allclose(out["bbox_center"], [[70, 20]])
    hidden = step({"bbox": box, "keypoints": kps, "keypoints_visible": np.array([[1, 0, 1]])}, rng)
    np.testing.assert_allclose(hidden["bbox_center"], [[50, 30]])  # unlabelled: the midpoint
    detected = {"bbox": box, "keypoints": np.zeros((1, 3, 2)), "keypoints_visible": np.ones((1, 3))}
    detected["num_keypoints"] = 0  # a detected box carries no labels
    np.testing.assert_allclose(step(detected, rng)["bbox_center"], [[50, 30]])


def test_anchor_skeleton_takes_the_thorax_by_name_and_keeps_the_flys_box() -> None:
    full = read_sleap(SLP, skeleton="sleap_fly13")
    anchor = read_sleap(SLP, skeleton="sleap_fly_anchor")
    thorax = full.skeleton.keypoint_names.index("thorax")
    np.testing.assert_array_equal(anchor.keypoints[:, 0], full.keypoints[:, thorax])
    np.testing.assert_array_equal(anchor.bbox, full.bbox)  # all 13 points' extent
    with pytest.raises(DataError, match="names nodes the file lacks: paw1LH_top"):
        read_sleap(SLP, skeleton="mirror_mouse")
