"""Every MMPose dataset format on MMPose's own fixture files (``tests/data/mmpose-tests``)."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from posecli.data.check import check_dataset
from posecli.data.converters import convert_dataset, get_format
from posecli.data.converters.catalog import CATALOG
from posecli.data.converters.coco_style import Layout, read_coco_style
from posecli.errors import DataError
from posecli.plugins import PluginManager

from .mmpose_fixtures import BY_FORMAT, FIXTURES, ROOT, Fixture

MANAGER = PluginManager(autoload=False)
IDS = [f.id for f in FIXTURES]
SKELETONS = {"interhand2d": "interhand2d_double"}


def _read(f: Fixture):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return get_format(f.fmt).read(f.ann_path, images=str(f.image_dir))


def _json(path: Path) -> dict:
    return json.loads(path.read_text())


@pytest.mark.parametrize("f", FIXTURES, ids=IDS)
def test_check_dataset_passes_on_fixture(f: Fixture) -> None:
    report = check_dataset(f.ann_path, f.fmt, images=f.image_dir)
    assert report["ok"], report["errors"]
    assert report["counts"]["instances"] == f.instances
    assert report["counts"]["keypoints"] == f.keypoints
    layout = CATALOG[f.fmt].layout if f.fmt in CATALOG else None
    assert report["skeleton"] == (layout.skeleton if layout else SKELETONS.get(f.fmt, f.fmt))


def test_check_dataset_keeps_posetrack18_head_top_above_the_frame() -> None:
    # PoseTrack18 labels a head top at y = -24.9, inside the person's own annotated box (which
    # starts at y = -54.6): a real label, reported as a warning, not an error.
    f = BY_FORMAT["posetrack18"]
    report = check_dataset(f.ann_path, f.fmt, images=f.image_dir)
    assert report["ok"] and report["counts"]["tracks"] > 1
    kept = [w for w in report["warnings"] if "inside their box" in w]
    assert len(kept) == 1 and "head_top at (424.0, -24.9)" in kept[0]


def test_keypoints_outside_the_image_and_a_derived_box_stay_errors(tmp_path: Path) -> None:
    data = _json(BY_FORMAT["wflw"].ann_path)
    for a in data["annotations"]:
        a.pop("bbox")
    data["annotations"][0]["keypoints"][0] = -40.0  # x of the first point, left of the image
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    report = check_dataset(bad, "cofw", images=BY_FORMAT["wflw"].image_dir, skeleton="wflw")
    assert not report["ok"] and "outside their image" in report["errors"][0]


@pytest.mark.parametrize("f", FIXTURES, ids=IDS)
def test_registered_dataset_yields_samples(f: Fixture) -> None:
    reg = MANAGER.registry("datasets")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train = reg.build(f.fmt, ann_file=str(f.ann_path), images=str(f.image_dir))
        test = reg.build(f.fmt, ann_file=str(f.ann_path), images=str(f.image_dir), test_mode=True)
    assert len(train) == f.train and len(test) == f.instances
    sample = train[0]
    assert sample["keypoints"].shape == (1, f.keypoints, 2)
    assert sample["keypoints_visible"].shape == (1, f.keypoints)
    assert Path(sample["img_path"]).is_file()
    assert len(sample["flip_indices"]) == f.keypoints


def test_every_catalogued_format_has_a_fixture_and_a_skeleton() -> None:
    assert set(CATALOG) <= set(BY_FORMAT)
    for name, entry in CATALOG.items():
        assert MANAGER.registry("datasets").get(entry.mmpose).name == name
        if entry.layout is not None:
            MANAGER.registry("skeletons").get(entry.layout.skeleton)


def test_wholebody_concatenates_body_feet_face_hands_in_order() -> None:
    f = BY_FORMAT["coco_wholebody"]
    ann, raw = _read(f), _json(f.ann_path)["annotations"]
    a = raw[0]
    for field, lo, hi in (
        ("keypoints", 0, 17),
        ("foot_kpts", 17, 23),
        ("face_kpts", 23, 91),
        ("lefthand_kpts", 91, 112),
        ("righthand_kpts", 112, 133),
    ):
        flat = np.asarray(a[field], np.float64).reshape(-1, 3)
        lab = flat[:, 2] > 0
        np.testing.assert_allclose(ann.keypoints[0, lo:hi][lab], flat[lab, :2])
        np.testing.assert_array_equal(ann.visibility[0, lo:hi] > 0, lab)
    assert ann.skeleton.name == "coco_wholebody" and len(ann.skeleton.sigmas) == 133


def test_wholebody_hands_one_instance_per_valid_hand() -> None:
    f = BY_FORMAT["coco_wholebody_hand"]
    ann, raw = _read(f), _json(f.ann_path)["annotations"]
    want = [
        (a[f"{s}hand_box"], a[f"{s}hand_kpts"])
        for a in raw
        for s in ("left", "right")
        if a[f"{s}hand_valid"] and max(a[f"{s}hand_kpts"]) > 0
    ]
    assert ann.num_instances == len(want) == 10
    np.testing.assert_allclose(ann.bbox, [w[0] for w in want])
    kp = np.asarray([w[1] for w in want]).reshape(-1, 21, 3)
    np.testing.assert_allclose(ann.keypoints[kp[..., 2] > 0], kp[kp[..., 2] > 0][:, :2])


def test_jhmdb_coordinates_start_at_one() -> None:
    f = BY_FORMAT["jhmdb"]
    ann, raw = _read(f), _json(f.ann_path)["annotations"][0]
    kp = np.asarray(raw["keypoints"]).reshape(-1, 3)
    np.testing.assert_allclose(ann.keypoints[0], kp[:, :2] - 1)
    np.testing.assert_allclose(
        ann.bbox[0], [raw["bbox"][0] - 1, raw["bbox"][1] - 1, *raw["bbox"][2:]]
    )


def test_center_scale_boxes_are_squares_of_scale_200_unclipped() -> None:
    f = BY_FORMAT["face_300w"]
    raw = _json(f.ann_path)["annotations"]
    ds = MANAGER.registry("datasets").build(
        "face_300w", ann_file=str(f.ann_path), images=str(f.image_dir)
    )
    for i, a in enumerate(raw):
        cx, cy = a["center"]
        half = a["scale"] * 100.0
        np.testing.assert_allclose(
            ds.xyxy[i], [cx - half, cy - half, cx + half, cy + half], rtol=1e-6
        )


def test_whole_image_boxes_for_freihand_locust_zebra() -> None:
    for name in ("freihand", "locust", "zebra"):
        f = BY_FORMAT[name]
        ann = _read(f)
        wh = np.array([[r.width, r.height] for r in ann.images])[ann.image_index]
        np.testing.assert_array_equal(ann.bbox, np.concatenate([np.zeros_like(wh), wh], axis=1))


def test_normalisers_reach_the_samples() -> None:
    aflw, pan = BY_FORMAT["aflw"], BY_FORMAT["panoptic_hand2d"]
    reg = MANAGER.registry("datasets")
    a = reg.build("aflw", ann_file=str(aflw.ann_path), images=str(aflw.image_dir))
    p = reg.build("panoptic_hand2d", ann_file=str(pan.ann_path), images=str(pan.image_dir))
    assert a[0]["box_size"] == _json(aflw.ann_path)["annotations"][0]["box_size"]
    assert p[0]["head_size"] == _json(pan.ann_path)["annotations"][0]["head_size"]


def test_interhand_projects_world_joints_through_the_camera() -> None:
    f = BY_FORMAT["interhand2d"]
    ann = _read(f)
    data = _json(f.ann_path)
    cams = _json(ROOT / "interhand2.6m" / "test_interhand2.6m_camera.json")
    joints = _json(ROOT / "interhand2.6m" / "test_interhand2.6m_joint_3d.json")
    im, a = data["images"][0], data["annotations"][0]
    c = cams[str(im["capture"])]
    cam = im["camera"]
    world = np.asarray(joints[str(im["capture"])][str(im["frame_idx"])]["world_coord"])
    r, t = np.asarray(c["camrot"][cam]), np.asarray(c["campos"][cam])
    for j in (0, 20, 21, 41):  # one joint at a time: the plain formula
        x, y, z = r @ (world[j] - t)
        u = x / z * c["focal"][cam][0] + c["princpt"][cam][0]
        v = y / z * c["focal"][cam][1] + c["princpt"][cam][1]
        if ann.visibility[0, j]:
            np.testing.assert_allclose(ann.keypoints[0, j], [u, v], atol=1e-3)
    x, y, w, h = a["bbox"]
    inside = ann.keypoints[0][ann.visibility[0] > 0]
    assert ((inside >= [x - 5, y - 5]) & (inside <= [x + w + 5, y + h + 5])).all()
    assert ann.extras["hand_type"].tolist() == [2, 2, 1, 0]


def test_ap10k_reads_every_category() -> None:
    f = BY_FORMAT["ap10k"]
    ann, raw = _read(f), _json(f.ann_path)
    assert sorted(ann.category_id.tolist()) == sorted(a["category_id"] for a in raw["annotations"])
    assert len({a["category_id"] for a in raw["annotations"]}) == 2


def test_posetrack18_per_video_folder_equals_the_merged_file() -> None:
    merged = _read(BY_FORMAT["posetrack18"])
    folder = _read(FIXTURES[[f.ann for f in FIXTURES].index("posetrack18/annotations/val")])
    a, b = np.argsort(merged.ids), np.argsort(folder.ids)
    np.testing.assert_array_equal(merged.ids[a], folder.ids[b])
    np.testing.assert_allclose(merged.keypoints[a], folder.keypoints[b])
    np.testing.assert_array_equal(merged.track_id[a], folder.track_id[b])


def test_humanart21_reads_keypoints_21() -> None:
    f = BY_FORMAT["humanart21"]
    ann, raw = _read(f), _json(f.ann_path)["annotations"][0]
    kp = np.asarray(raw["keypoints_21"]).reshape(21, 3)
    np.testing.assert_allclose(ann.keypoints[0][kp[:, 2] > 0], kp[kp[:, 2] > 0, :2])


WRITABLE = [n for n, e in CATALOG.items() if e.layout is not None and e.layout.writable]


@pytest.mark.parametrize("name", WRITABLE)
def test_round_trip_through_own_format_and_coco(name: str, tmp_path: Path) -> None:
    f = BY_FORMAT[name]
    ann = _read(f)
    again = convert_dataset(f.ann_path, name, name, tmp_path / "same.json")
    assert again["instances"] == {"all": f.instances}
    back = get_format(name).read(tmp_path / "same.json")
    np.testing.assert_allclose(back.keypoints, ann.keypoints, atol=1e-4)
    np.testing.assert_array_equal(back.visibility, ann.visibility)
    np.testing.assert_allclose(back.bbox, ann.bbox, atol=1e-4)
    for key, col in ann.extras.items():
        np.testing.assert_allclose(back.extras[key], col)
    convert_dataset(f.ann_path, name, "coco", tmp_path / "coco.json")
    coco = get_format("coco").read(tmp_path / "coco.json", skeleton=ann.skeleton.name)
    np.testing.assert_allclose(coco.keypoints, ann.keypoints, atol=1e-4)
    np.testing.assert_array_equal(coco.visibility > 0, ann.visibility > 0)


def test_derived_instance_sets_convert_to_coco(tmp_path: Path) -> None:
    for name in ("coco_wholebody_hand", "coco_wholebody_face", "interhand2d"):
        f = BY_FORMAT[name]
        out = tmp_path / f"{name}.json"
        convert_dataset(f.ann_path, name, "coco", out)
        ann = get_format("coco").read(
            out,
            skeleton=CATALOG[name].layout.skeleton
            if CATALOG[name].layout
            else "interhand2d_double",
        )
        assert ann.num_instances == f.instances
        with pytest.raises(DataError, match="cannot write"):
            convert_dataset(out, "coco", name, tmp_path / "back.json")


def test_wrong_keypoint_count_names_the_annotation(tmp_path: Path) -> None:
    data = _json(BY_FORMAT["wflw"].ann_path)
    data["annotations"][1]["keypoints"] = data["annotations"][1]["keypoints"][:-3]
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(
        DataError, match=r"annotation id=\d+: 'keypoints' has 291 values, expected 3×98"
    ):
        read_coco_style(bad, Layout("wflw", box="center_scale"))
