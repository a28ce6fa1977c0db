from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from posecli.data.converters import convert_dataset, get_format, split_annotations
from posecli.data.converters.coco import read_coco
from posecli.data.converters.dlc import read_dlc
from posecli.data.converters.mpii import read_mpii
from posecli.data.converters.sleap import read_sleap
from posecli.data.converters.yolo import read_yolo
from posecli.errors import DataError

from .conftest import COCO_MINI, MMPOSE, MOUSE_CSV, SLP


def _csv_rows() -> list[list[str]]:
    with open(MOUSE_CSV, newline="") as fh:
        return list(csv.reader(fh))[3:]


def test_mirror_mouse_csv_to_coco(tmp_path: Path) -> None:
    out = tmp_path / "mm.json"
    summary = convert_dataset(MOUSE_CSV, "dlc", "coco", out, skeleton="mirror_mouse")
    data = json.loads(out.read_text())
    assert len(data["images"]) == 90 and len(data["annotations"]) == 90
    assert summary["images"] == {"all": 90}
    rows = {r[0]: r[1:] for r in _csv_rows()}
    by_img = {im["id"]: im for im in data["images"]}
    unlabelled = 0
    for ann in data["annotations"]:
        name = Path(by_img[ann["image_id"]]["file_name"]).as_posix().split("mirror-mouse/")[-1]
        cells = rows[name]
        kp = np.array(ann["keypoints"], float).reshape(17, 3)
        for j in range(17):
            x, y = cells[2 * j], cells[2 * j + 1]
            if x == "":
                unlabelled += 1
                assert kp[j, 2] == 0
            else:
                assert kp[j, 2] == 2 and kp[j, 0] == float(x) and kp[j, 1] == float(y)
        assert ann["num_keypoints"] == int((kp[:, 2] > 0).sum())
        assert ann["area"] > 0
    assert unlabelled == 134
    back = read_coco(out, skeleton="mirror_mouse")
    assert back.image_path(0).exists()


def test_sleap_clip_to_coco_keeps_tracks(tmp_path: Path) -> None:
    out = tmp_path / "flies.json"
    convert_dataset(SLP, "sleap", "coco", out)
    data = json.loads(out.read_text())
    assert len(data["images"]) == 1500 and len(data["annotations"]) == 3000
    per_image: dict[int, list[int]] = {}
    for a in data["annotations"]:
        per_image.setdefault(a["image_id"], []).append(a["track_id"])
    assert all(sorted(t) == [0, 1] for t in per_image.values())
    assert [t["name"] for t in data["tracks"]] == ["female", "male"]
    assert data["images"][3]["frame_idx"] == 3 and data["images"][3]["video"].endswith("clip.mp4")
    ann = read_sleap(SLP)
    assert ann.skeleton.keypoint_names[:3] == ("head", "thorax", "abdomen")
    np.testing.assert_allclose(
        np.array(data["annotations"][0]["keypoints"]).reshape(13, 3)[:, :2], ann.keypoints[0]
    )


def test_mpii_centre_scale_rule() -> None:
    ann = read_mpii(MMPOSE / "test_mpii.json")
    raw = json.loads((MMPOSE / "test_mpii.json").read_text())[0]
    side = raw["scale"] * 200
    cx, cy = raw["center"][0] - 1, raw["center"][1] + 15 * raw["scale"] - 1
    np.testing.assert_allclose(ann.bbox[0], [cx - side / 2, cy - side / 2, side, side], rtol=1e-9)
    np.testing.assert_allclose(ann.keypoints[0], raw["joints"])
    assert ann.skeleton.name == "mpii"


def test_mpii_to_coco(tmp_path: Path) -> None:
    out = tmp_path / "mpii.json"
    convert_dataset(MMPOSE / "test_mpii.json", "mpii", "coco", out)
    data = json.loads(out.read_text())
    assert len(data["annotations"]) == 5 and data["categories"][0]["keypoints"][0] == "right_ankle"


@pytest.mark.parametrize(("fmt", "k"), [("crowdpose", 14), ("aic", 14)])
def test_crowdpose_aic_to_coco(fmt: str, k: int, tmp_path: Path) -> None:
    src = MMPOSE / f"test_{fmt}.json"
    out = tmp_path / f"{fmt}.json"
    convert_dataset(src, fmt, "coco", out)
    raw = json.loads(src.read_text())
    data = json.loads(out.read_text())
    assert len(data["annotations"]) == len(raw["annotations"])
    assert data["categories"][0]["keypoints"] == list(
        get_format(fmt).read(src).skeleton.keypoint_names
    )
    for a, b in zip(raw["annotations"], data["annotations"], strict=True):
        np.testing.assert_allclose(a["keypoints"], b["keypoints"])
        assert b["num_keypoints"] == sum(v > 0 for v in a["keypoints"][2::3])
        assert len(b["keypoints"]) == 3 * k and b["area"] > 0


def test_coco_yolo_coco_round_trip(tmp_path: Path) -> None:
    yolo_dir = tmp_path / "yolo"
    convert_dataset(COCO_MINI, "coco", "yolo", yolo_dir)
    back = tmp_path / "back.json"
    convert_dataset(yolo_dir / "data.yaml", "yolo", "coco", back, skeleton="coco")
    a = read_coco(COCO_MINI)
    b = read_coco(back)
    assert b.num_instances == a.num_instances
    np.testing.assert_allclose(b.keypoints, a.keypoints, atol=1e-4)
    np.testing.assert_array_equal(b.visibility, a.visibility)
    np.testing.assert_allclose(b.bbox, a.bbox, atol=1e-4)
    assert read_yolo(yolo_dir / "data.yaml").skeleton.flip_indices == a.skeleton.flip_indices


def test_dlc_csv_write_read_round_trip(tmp_path: Path) -> None:
    ann = read_dlc(MOUSE_CSV)
    out = tmp_path / "labels" / "CollectedData.csv"
    convert_dataset(MOUSE_CSV, "dlc", "dlc", out)
    back = read_dlc(out)
    np.testing.assert_array_equal(back.keypoints, ann.keypoints)
    np.testing.assert_array_equal(back.visibility, ann.visibility)


def test_dlc_h5_fixed_layout(tmp_path: Path) -> None:
    import h5py

    ann = read_dlc(MOUSE_CSV)
    names = list(ann.skeleton.keypoint_names)
    values = np.where(ann.visibility[..., None] > 0, ann.keypoints, np.nan).reshape(90, -1)
    path = tmp_path / "CollectedData_rick.h5"
    with h5py.File(path, "w") as f:
        g = f.create_group("df_with_missing")
        g["block0_values"] = values
        g["axis0_level0"] = np.array([b"rick"])
        g["axis0_label0"] = np.zeros(34, np.int16)
        g["axis0_level1"] = np.array([n.encode() for n in names])
        g["axis0_label1"] = np.repeat(np.arange(17), 2).astype(np.int16)
        g["axis0_level2"] = np.array([b"x", b"y"])
        g["axis0_label2"] = np.tile([0, 1], 17).astype(np.int16)
        g["axis1"] = np.array([r.file_name.encode() for r in ann.images])
    back = read_dlc(path, images=MOUSE_CSV.parent)
    np.testing.assert_array_equal(back.keypoints, ann.keypoints)


def test_seeded_split_is_disjoint_and_reproducible() -> None:
    ann = read_dlc(MOUSE_CSV)
    a = split_annotations(ann, 0.2, seed=1)
    b = split_annotations(ann, 0.2, seed=1)
    names = lambda x: {r.file_name for r in x.images}  # noqa: E731
    assert names(a["val"]) == names(b["val"]) and len(a["val"].images) == 18
    assert not names(a["val"]) & names(a["train"])


def test_split_writes_two_files_and_never_overwrites(tmp_path: Path) -> None:
    out = tmp_path / "mm.json"
    convert_dataset(MOUSE_CSV, "dlc", "coco", out, split="val=0.1", seed=3)
    assert (tmp_path / "mm_train.json").exists() and (tmp_path / "mm_val.json").exists()
    with pytest.raises(DataError, match="exists; pass --force"):
        convert_dataset(MOUSE_CSV, "dlc", "coco", out, split="val=0.1", seed=3)
    convert_dataset(MOUSE_CSV, "dlc", "coco", out, split="val=0.1", seed=3, force=True)


def test_unwritable_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="cannot write format 'sleap'"):
        convert_dataset(MOUSE_CSV, "dlc", "sleap", tmp_path / "x.slp")
