"""Human3.6M / MPI-INF-3DHP readers, the restricted camera unpickler, sequence sampling,
the lifting transforms and collation, on MMPose's fixture files."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from posecli.data.collate import collate
from posecli.data.datasets.h36m_io import load_camera_params, load_object_npz
from posecli.data.datasets.sequences import build_sequences, clip_indices, window_indices
from posecli.data.transforms.compose import build_pipeline
from posecli.data.transforms.lifting import flip_around_center
from posecli.errors import DataError, PoseCliError
from posecli.plugins import registry

from .conftest import H3WB


def _h36m(h36m_dir: Path, **kw):
    return registry("datasets").build(
        "h36m",
        ann_file="test_h36m_body3d.npz",
        camera_param_file="cameras.pkl",
        root=str(h36m_dir),
        **kw,
    )


def test_h36m_reader_agrees_with_the_files(h36m_dir: Path) -> None:
    raw = np.load(h36m_dir / "test_h36m_body3d.npz")
    ds = _h36m(h36m_dir)
    assert len(ds) == 4  # four single-frame videos (S1, S5, S7, S8)
    names = [ds[i]["target_img_path"] for i in range(4)]
    assert sorted(names) == sorted(raw["imgname"].tolist())
    i = names.index(str(raw["imgname"][1]))
    s = ds[i]
    np.testing.assert_allclose(s["keypoints"][0], raw["part"][1, :, :2], rtol=1e-6)
    np.testing.assert_allclose(s["lifting_target"], raw["S"][1, :, :3], rtol=1e-6)
    np.testing.assert_array_equal(s["lifting_target_visible"], raw["S"][1, :, 3])
    assert (s["subject"], s["action"]) == ("S5", "SittingDown")
    cams = pickle.loads((h36m_dir / "cameras.pkl").read_bytes())  # trusted test file
    ref = cams[("S5", "54138969")]
    np.testing.assert_allclose(s["camera_param"]["f"], ref["f"].reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(s["camera_param"]["c"], ref["c"].reshape(-1), rtol=1e-6)
    np.testing.assert_allclose(s["camera_param"]["R"], ref["R"], rtol=1e-6)
    assert (s["camera_param"]["w"], s["camera_param"]["h"]) == (1000, 1002)
    # the 2D ground truth is the 3D target projected by that camera (pinhole + distortion-free
    # approximation: a few pixels at most)
    x = s["lifting_target"]
    proj = x[:, :2] / x[:, 2:] * s["camera_param"]["f"] + s["camera_param"]["c"]
    assert np.abs(proj - s["keypoints"][0]).max() < 15


def test_h36m_detections_replace_the_2d_ground_truth(h36m_dir: Path) -> None:
    det = np.load(h36m_dir / "test_h36m_2d_detection.npy")
    ds = _h36m(
        h36m_dir, keypoint_2d_src="detection", keypoint_2d_det_file="test_h36m_2d_detection.npy"
    )
    s = ds[0]
    np.testing.assert_allclose(s["keypoints"][0], det[s["img_id"], :, :2], rtol=1e-6)
    np.testing.assert_allclose(s["keypoints_visible"][0], det[s["img_id"], :, 2], rtol=1e-6)
    with pytest.raises(PoseCliError, match="keypoint_2d_det_file"):
        _h36m(h36m_dir, keypoint_2d_src="detection")


def test_sequences_pad_at_video_edges_like_mmpose(h36m_dir: Path) -> None:
    # centred window of 5 frames, step 1, a 4-frame video: edge frames repeated
    np.testing.assert_array_equal(
        window_indices(4, 5, 1),
        [[0, 0, 0, 1, 2], [0, 0, 1, 2, 3], [0, 1, 2, 3, 3], [1, 2, 3, 3, 3]],
    )
    np.testing.assert_array_equal(
        window_indices(3, 3, 1, causal=True), [[0, 0, 0], [0, 0, 1], [0, 1, 2]]
    )
    # step 2, centred, 3 frames over 6: MMPose's start = max(i % step, i - step) etc.
    np.testing.assert_array_equal(
        window_indices(6, 3, 2)[[0, 1, 4, 5]], [[0, 0, 2], [0, 1, 3], [2, 4, 5], [3, 5, 5]]
    )
    # no padding: only full windows
    np.testing.assert_array_equal(
        window_indices(5, 3, 1, pad=False), [[0, 1, 2], [1, 2, 3], [2, 3, 4]]
    )
    assert window_indices(2, 3, 1, pad=False).shape == (0, 3)
    np.testing.assert_array_equal(clip_indices(7, 3), [[0, 1, 2], [3, 4, 5]])
    np.testing.assert_array_equal(clip_indices(7, 3, pad_last=True)[-1], [6, 6, 6])
    seqs = build_sequences([np.array([10, 11, 12]), np.array([20])], 3, pad_video_seq=True)
    np.testing.assert_array_equal(seqs, [[10, 10, 11], [10, 11, 12], [11, 12, 12], [20, 20, 20]])
    ds = _h36m(h36m_dir, seq_len=27, causal=False, pad_video_seq=True)
    s = ds[0]
    assert s["keypoints"].shape == (27, 17, 2) and s["lifting_target"].shape == (17, 3)
    assert (s["keypoints"] == s["keypoints"][:1]).all()  # one-frame videos: all padding


def test_multiple_target_clips_hold_every_frame_target(h36m_dir: Path) -> None:
    train = _h36m(h36m_dir, multiple_target=3)
    assert len(train) == 0  # one-frame videos hold no whole 3-frame clip
    test = _h36m(h36m_dir, multiple_target=3, test_mode=True)
    assert len(test) == 4 and test[0]["lifting_target"].shape == (3, 17, 3)


def test_restricted_unpickler_refuses_code(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "cameras.pkl"
    bad.write_bytes(pickle.dumps({"S1": Evil()}))
    with pytest.raises(DataError, match=r"builtins\.print refused"):
        load_camera_params(bad)
    obj = tmp_path / "objects.pkl"
    obj.write_bytes(pickle.dumps({"S1": {"f": np.array([object()], dtype=object)}}))
    with pytest.raises(DataError, match="refused"):
        load_camera_params(obj)


def test_mpi_inf_3dhp_reader(mpi_dir: Path) -> None:
    raw = np.load(mpi_dir / "test_3dhp_train.npz")
    ds = registry("datasets").build(
        "mpi_inf_3dhp",
        ann_file="test_3dhp_train.npz",
        camera_param_file="cameras_train.pkl",
        root=str(mpi_dir),
    )
    assert len(ds) == 2
    s = ds[0]
    j = list(raw["imgname"]).index(s["target_img_path"])
    np.testing.assert_allclose(s["lifting_target"], raw["S"][j, :, :3], rtol=1e-6)
    cams = pickle.loads((mpi_dir / "cameras_train.pkl").read_bytes())
    key = "_".join(s["target_img_path"].split("_")[:3])
    np.testing.assert_allclose(s["camera_param"]["f"], cams[key]["f"].reshape(-1), rtol=1e-6)
    test = registry("datasets").build(
        "mpi_inf_3dhp",
        ann_file="test_3dhp_test.npz",
        camera_param_file="cameras_test.pkl",
        root=str(mpi_dir),
    )
    assert {test[i]["action"] for i in range(2)} == {"TS1", "TS2"}
    assert test[0]["camera_param"]["w"] == 2048


def test_random_flip_around_root_mirrors_about_the_root() -> None:
    kp = np.array([[[10.0, 5.0], [12.0, 6.0], [7.0, 1.0]]], np.float32)
    flipped, vis = flip_around_center(kp, np.array([[1.0, 0.5, 0.0]]), [0, 2, 1])
    np.testing.assert_allclose(flipped, [[[10.0, 5.0], [13.0, 1.0], [8.0, 6.0]]])
    np.testing.assert_allclose(vis, [[1.0, 0.0, 0.5]])
    static, _ = flip_around_center(kp, None, [0, 1, 2], center_mode="static", center_x=0.0)
    np.testing.assert_allclose(static[..., 0], -kp[..., 0])


def test_pipeline_and_collate_give_the_lifting_batch(h36m_dir: Path) -> None:
    ds = _h36m(h36m_dir, seq_len=27, causal=False, pad_video_seq=True)
    codec = {"name": "video_pose_lifting", "num_keypoints": 17}
    pipe = build_pipeline(
        [
            {"name": "random_flip_around_root", "flip_prob": 1.0},
            {"name": "generate_target", "encoder": codec},
        ]
    )
    samples = [pipe(ds[i], np.random.default_rng(i)) for i in range(3)]
    batch = collate(samples)
    assert batch["inputs"].shape == (3, 34, 27)
    assert batch["lifting_target_label"].shape == (3, 17, 3)
    assert batch["target_root"].shape == (3, 3)
    assert batch["camera_wh"].tolist()[0] == [1000.0, 1002.0]
    assert batch["meta"][0]["action"] == ds[0]["action"]
    # flipped about the root: the target's root is kept, its x mirrored for the other joints
    raw = ds[0]["lifting_target"]
    np.testing.assert_allclose(samples[0]["target_root"], raw[0], rtol=1e-6)
    np.testing.assert_allclose(
        samples[0]["lifting_target"][4, 0], 2 * raw[0, 0] - raw[1, 0], rtol=1e-5
    )


def test_h3wb_reader_agrees_with_the_file() -> None:
    raw = np.load(H3WB, allow_pickle=True)  # the test may trust its own fixture
    entry = raw["train_data"].item()["S5"]["Directions 1"]
    meta = raw["metadata"].item()["S5"]["60457274"]
    ds = registry("datasets").build("H36MWholeBodyDataset", ann_file=str(H3WB))
    assert len(ds) == 1 and ds.skeleton.num_keypoints == 133
    s = ds[0]
    assert (s["subject"], s["action"]) == ("S5", "Directions 1")
    assert s["target_img_path"] == "original/S5/Images/Directions 1.60457274/frame_2190.jpg"
    np.testing.assert_allclose(s["keypoints"][0], entry["60457274"]["pose_2d"][0], rtol=1e-6)
    np.testing.assert_allclose(
        s["lifting_target"], entry["60457274"]["camera_3d"][0] / 1000, rtol=1e-5
    )
    cam = s["camera_param"]
    np.testing.assert_allclose(cam["f"], meta["K"][0, [0, 1], [0, 1]] * 1000, rtol=1e-6)
    np.testing.assert_allclose(cam["c"], meta["K"][0, [0, 1], [2, 2]] * 1000, rtol=1e-6)
    assert cam["T"].shape == (3, 1) and cam["R"].shape == (3, 3)
    with pytest.raises(PoseCliError, match="no frames of subjects S7"):
        registry("datasets").build("h3wb", ann_file=str(H3WB), test_mode=True)


def test_object_npz_reader_refuses_code_and_names_missing_keys(tmp_path: Path) -> None:
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    bad = tmp_path / "evil.npz"
    np.savez(bad, train_data=np.array({"S5": Evil()}, dtype=object))
    with pytest.raises(DataError, match=r"evil.npz: .*builtins\.print refused"):
        load_object_npz(bad, ("train_data",))
    with pytest.raises(DataError, match=r"missing 'bbox' \(have: bbox_x, train_data\)"):
        np.savez(bad, train_data=np.zeros(3), bbox_x=np.ones(2))
        load_object_npz(bad, ("train_data", "bbox"))
