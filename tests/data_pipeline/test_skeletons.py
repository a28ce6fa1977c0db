from __future__ import annotations

import sys

import numpy as np
import pytest

from posecli.data.metainfo import (
    infer_skeleton,
    load_skeleton,
    skeleton_from_dict,
    skeleton_to_toml,
)
from posecli.errors import DataError
from posecli.plugins import registry

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

COUNTS = {
    "coco": 17,
    "coco_wholebody": 133,
    "halpe": 136,
    "mpii": 16,
    "crowdpose": 14,
    "aic": 14,
    "ochuman": 17,
    "ap10k": 17,
    "animalpose": 20,
    "macaque": 17,
    "onehand10k": 21,
    "wflw": 98,
    "face_300w": 68,
    "mirror_mouse": 17,
}


@pytest.mark.parametrize("name", registry("skeletons").names())
def test_every_skeleton_is_consistent(name: str) -> None:
    s = load_skeleton(name)
    k = s.num_keypoints
    assert k == COUNTS.get(name, k)
    flip = np.array(s.flip_indices)
    assert (flip[flip] == np.arange(k)).all()
    assert all(0 <= a < k and 0 <= b < k for a, b in s.links)
    assert s.keypoint_colors.shape == (k, 3) and s.link_colors.shape == (len(s.links), 3)
    assert s.joint_weights.shape == (k,) and s.sigmas.shape in ((k,), (0,))
    assert not set(s.upper_body_ids) & set(s.lower_body_ids)
    again = skeleton_from_dict(tomllib.loads(skeleton_to_toml(s)))
    assert again.flip_indices == s.flip_indices and again.links == s.links


def test_coco_metainfo_matches_reference() -> None:
    s = load_skeleton("coco")
    assert list(s.flip_indices) == [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
    assert list(s.upper_body_ids) == list(range(11)) and list(s.lower_body_ids) == list(
        range(11, 17)
    )
    np.testing.assert_allclose(
        s.joint_weights, [1, 1, 1, 1, 1, 1, 1, 1.2, 1.2, 1.5, 1.5, 1, 1, 1.2, 1.2, 1.5, 1.5]
    )
    np.testing.assert_allclose(s.sigmas[:7], [0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079])


def test_mirror_mouse_swaps_within_each_view() -> None:
    s = load_skeleton("mirror_mouse")
    pairs = {
        (s.keypoint_names[i], s.keypoint_names[j]) for i, j in enumerate(s.flip_indices) if i != j
    }
    assert ("paw1LH_top", "paw4RH_top") in pairs and ("paw2LF_bot", "paw3RF_bot") in pairs
    assert len(pairs) == 8


def test_aliases_and_files(tmp_path) -> None:
    assert load_skeleton("300w").name == "face_300w"
    path = tmp_path / "mine.toml"
    path.write_text(
        'name = "mine"\nkeypoints = [{ name = "a", swap = "b" }, { name = "b", swap = "a" }, "c"]\n'
    )
    s = load_skeleton(path)
    assert s.flip_indices == (1, 0, 2)


def test_unknown_skeleton_is_a_one_line_error() -> None:
    with pytest.raises(DataError, match="unknown skeleton 'cocoo'.*did you mean 'coco'"):
        load_skeleton("cocoo")


def test_bad_swap_names_the_file(tmp_path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('keypoints = [{ name = "a", swap = "zz" }]\n')
    with pytest.raises(DataError, match=r"bad\.toml: keypoint 'a': swap partner 'zz' unknown"):
        load_skeleton(path)


def test_detail_ranges_round_trip_and_bad_names(tmp_path) -> None:
    from posecli.data.metainfo import skeleton_from_dict

    wb = load_skeleton("coco_wholebody")
    assert wb.detail_ids == tuple(range(23, 133))  # face 68 + hands 2×21
    assert wb.to_metainfo()["detail"] == [["face-0", "right_pinky_finger4"]]
    assert skeleton_from_dict(wb.to_metainfo()).detail_ids == wb.detail_ids
    assert (
        load_skeleton("coco").detail_ids == ()
        and "detail" not in load_skeleton("coco").to_metainfo()
    )
    path = tmp_path / "bad.toml"
    path.write_text('keypoints = ["a", "b", "c"]\ndetail = [["b", "zz"]]\n')
    with pytest.raises(DataError, match=r"bad\.toml: detail\[0\]: unknown keypoint 'zz'"):
        load_skeleton(path)
    path.write_text('keypoints = ["a", "b", "c"]\ndetail = [["c", "a"]]\n')
    with pytest.raises(DataError, match=r"detail\[0\]: 'a' comes before 'c'"):
        load_skeleton(path)
    path.write_text('keypoints = ["a", "b", "c"]\ndetail = [["a", "a"], ["c", "c"]]\n')
    assert load_skeleton(path).to_metainfo()["detail"] == [["a", "a"], ["c", "c"]]


def test_infer_skeleton_warns() -> None:
    with pytest.warns(UserWarning, match="no left/right swaps"):
        s = infer_skeleton(["a", "b"])
    assert s.flip_indices == (0, 1)
