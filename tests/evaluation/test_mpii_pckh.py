"""MPII PCKh: head sizes from a head-box .mat, and the ``mpii_pck`` metric on hand-computed cases.

The fixture's five people get hand-chosen head boxes whose sides are 3-4-5 triangles, so the
head sizes (0.6 × diagonal) are round numbers.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.io import savemat

from posecli.data.converters import get_format
from posecli.data.converters.mpii import read_mpii
from posecli.errors import BuildError, DataError, one_line
from posecli.evaluation import build_metric
from posecli.evaluation.mpii import MpiiPCK, mpii_pckh
from posecli.plugins import PluginManager

MPII = Path(__file__).resolve().parents[1] / "data" / "mmpose-tests" / "mpii"
ANN = MPII / "test_mpii.json"
#: One head box ``(x1, y1, x2, y2)`` per person of the fixture.
BOXES = np.array(
    [
        [900.0, 60.0, 930.0, 100.0],  # 30 × 40 → diagonal 50 → head size 30
        [300.0, 100.0, 360.0, 180.0],  # 60 × 80 → 100 → 60
        [1000.0, 200.0, 1012.0, 216.0],  # 12 × 16 → 20 → 12
        [800.0, 150.0, 824.0, 182.0],  # 24 × 32 → 40 → 24
        [700.0, 100.0, 709.0, 112.0],  # 9 × 12 → 15 → 9
    ]
)
HEAD_SIZES = np.array([30.0, 60.0, 12.0, 24.0, 9.0])
MMPOSE_NAMES = [
    "Head PCK",
    "Shoulder PCK",
    "Elbow PCK",
    "Wrist PCK",
    "Hip PCK",
    "Knee PCK",
    "Ankle PCK",
    "PCK",
    "PCK@0.1",
]


def write_headboxes(path: Path, boxes: np.ndarray) -> Path:
    """``boxes (N, 4)`` as MPII's ``mpii_gt_val.mat`` stores them: ``headboxes_src (2, 2, N)``."""
    corners = boxes.reshape(-1, 2, 2)  # (N, corner, x/y)
    savemat(path, {"headboxes_src": corners.transpose(1, 2, 0), "jnt_missing": np.zeros((16, 5))})
    return path


@pytest.fixture
def headbox_file(tmp_path: Path) -> Path:
    return write_headboxes(tmp_path / "mpii_gt_val.mat", BOXES)


@pytest.fixture
def truth(headbox_file: Path) -> dict[str, np.ndarray]:
    """The batch meta of the whole fixture as the ``mpii`` dataset yields it (one batch)."""
    dataset = (
        PluginManager(autoload=False)
        .registry("datasets")
        .build_from(
            {"name": "mpii", "ann_file": ANN.name, "headbox_file": str(headbox_file)},
            path="data.val.dataset",
            root=str(ANN.parent),
            test_mode=True,
        )
    )
    samples = [dataset[i] for i in range(len(dataset))]
    return {
        "keypoints": np.concatenate([s["keypoints"] for s in samples]),
        "keypoints_visible": np.concatenate([s["keypoints_visible"] for s in samples]),
        "head_size": np.array([s["head_size"] for s in samples]),
    }


def evaluate(pred: np.ndarray, truth: dict[str, np.ndarray]) -> dict[str, float]:
    metric = build_metric({"name": "MpiiPCKAccuracy"})
    metric.process({"keypoints": pred, "scores": np.ones(pred.shape[:2])}, truth)
    return metric.compute()


def test_head_sizes_are_0_6_of_the_head_box_diagonal(headbox_file: Path) -> None:
    ann = read_mpii(ANN, headbox_file=headbox_file)
    np.testing.assert_allclose(ann.extras["head_size"], HEAD_SIZES, rtol=1e-12)
    assert "head_size" not in read_mpii(ANN).extras  # without the file: as before


def test_dataset_samples_carry_the_head_size(truth: dict[str, np.ndarray]) -> None:
    np.testing.assert_allclose(truth["head_size"], HEAD_SIZES)
    assert truth["keypoints"].shape == (5, 16, 2)


def test_predictions_equal_to_the_truth(truth: dict[str, np.ndarray]) -> None:
    gt = truth["keypoints"].astype(np.float64)
    # a 0-based prediction of MPII's 1-based truth: exact after the +1 shift
    assert evaluate(gt - 1.0, truth) == {name: pytest.approx(100.0) for name in MMPOSE_NAMES}
    # the raw truth is √2 px off after the shift: within 0.5 head everywhere, but within 0.1
    # head only for heads over 14.1 px (30, 60, 24; not 12, 9). Ankles (0, 5) are labelled in
    # people 0, 1, 4 (2/3 right), the 12 other scored joints in all 5 (3/5 right); pelvis and
    # thorax are left out: PCK@0.1 = (2·3·200/3 + 12·5·60) / (2·3 + 12·5) %
    values = evaluate(gt, truth)
    assert values["PCK"] == pytest.approx(100.0)
    assert values["PCK@0.1"] == pytest.approx((400 + 3600) / 66, rel=1e-6)


def test_joints_moved_just_past_or_within_half_a_head(truth: dict[str, np.ndarray]) -> None:
    pred = truth["keypoints"].astype(np.float64) - 1.0  # exact after the +1 shift
    pred[0, 9, 0] += 0.5 * 30 + 0.01  # head top of person 0: just past 0.5 head → wrong
    pred[1, 9, 1] += 0.5 * 60 - 0.01  # head top of person 1: just within → right
    pred[4, 15, 1] -= 0.5 * 9 + 0.01  # left wrist of person 4: just past → wrong
    pred[2, 0] += 1000.0  # right ankle of person 2: unlabelled, not scored
    pred[1, 6] += 1000.0  # pelvis: left out of every value
    values = evaluate(pred, truth)
    # head top 4/5, left wrist 4/5 (right wrist 5/5), all else right; weights 5/66 each
    expected = dict.fromkeys(MMPOSE_NAMES, 100.0)
    expected.update({"Head PCK": 80.0, "Wrist PCK": 90.0, "PCK": 100 - 200 / 66})
    # at 0.1 head the head top of person 1 (0.4998 head) is wrong too: 3/5
    expected["PCK@0.1"] = 100 - 300 / 66
    assert values == {k: pytest.approx(v, rel=1e-6) for k, v in expected.items()}


def test_plain_pckh_uses_the_same_head_sizes(truth: dict[str, np.ndarray]) -> None:
    # MMPose's PCKAccuracy(norm_item="head"): no shift, all 16 joints, a fraction
    pred = truth["keypoints"].astype(np.float64)
    pred[0, 9, 0] += 0.5 * 30 + 0.01  # wrong
    pred[1, 9, 1] += 0.5 * 60 - 0.01  # right
    pred[4, 15, 1] -= 0.5 * 9 + 0.01  # wrong
    pred[1, 6] += 1000.0  # pelvis counts here: wrong
    metric = build_metric({"name": "pck", "norm": "head", "thr": 0.5})
    metric.process({"keypoints": pred, "scores": np.ones((5, 16))}, truth)
    assert metric.compute() == {"PCKh": pytest.approx((13 + 3 * 0.8) / 16)}


def test_mpii_pck_names_and_function_agree() -> None:
    assert MpiiPCK().reported_names() == MMPOSE_NAMES
    rng = np.random.default_rng(0)
    gt = rng.uniform(0, 100, (4, 16, 2))
    mask = rng.random((4, 16)) > 0.2
    pred = gt - 1 + rng.normal(0, 3, gt.shape)
    metric = MpiiPCK(thr=0.5)
    metric.process(
        {"keypoints": pred[:2]},
        {"keypoints": gt[:2], "keypoints_visible": mask[:2], "head_size": np.full(2, 10.0)},
    )
    metric.process(
        {"keypoints": pred[2:]},
        {"keypoints": gt[2:], "keypoints_visible": mask[2:], "head_size": np.full(2, 10.0)},
    )
    assert metric.compute() == pytest.approx(mpii_pckh(pred, gt, mask, np.full(4, 10.0)))


def test_metric_without_head_size_says_where_it_comes_from(truth: dict[str, np.ndarray]) -> None:
    meta = {k: v for k, v in truth.items() if k != "head_size"}
    with pytest.raises(DataError, match=r"metric mpii_pck: the batch lacks 'head_size' .*headbox"):
        evaluate(truth["keypoints"], meta)
    with pytest.raises(DataError, match="MPII's 16 joints"):
        mpii_pckh(np.zeros((1, 17, 2)), np.zeros((1, 17, 2)), np.ones((1, 17), bool), np.ones(1))


def test_wrong_box_count_is_one_line_naming_the_file(tmp_path: Path) -> None:
    mat = write_headboxes(tmp_path / "four.mat", BOXES[:4])
    with pytest.raises(DataError) as err:
        read_mpii(ANN, headbox_file=mat)
    assert one_line(err.value) == f"{mat}: 4 head boxes for 5 people in the annotation file"
    with pytest.raises(BuildError, match=rf"^data\.val\.dataset: {tmp_path}/four\.mat: 4 head"):
        PluginManager(autoload=False).registry("datasets").build_from(
            {"name": "mpii", "ann_file": str(ANN), "headbox_file": str(mat)},
            path="data.val.dataset",
        )


def test_missing_file_or_key_is_one_line_naming_the_file(tmp_path: Path) -> None:
    missing = tmp_path / "mpii_gt_val.mat"
    with pytest.raises(DataError) as err:
        read_mpii(ANN, headbox_file=missing)
    assert one_line(err.value) == f"{missing}: headbox file not found"
    other = tmp_path / "other.mat"
    savemat(other, {"pos_gt_src": np.zeros((16, 2, 5))})
    with pytest.raises(DataError, match=rf"^{other}: no 'headboxes_src' array"):
        read_mpii(ANN, headbox_file=other)
    flat = tmp_path / "flat.mat"
    savemat(flat, {"headboxes_src": np.zeros((4, 5))})
    with pytest.raises(DataError, match=r"has shape \(4, 5\), expected \(2, 2, N\)"):
        read_mpii(ANN, headbox_file=flat)
    text = tmp_path / "text.mat"
    text.write_text("not a MATLAB file")
    with pytest.raises(DataError, match=rf"^{text}: cannot read MATLAB \.mat file"):
        read_mpii(ANN, headbox_file=text)


def test_check_and_convert_still_read_mpii_without_headboxes(tmp_path: Path) -> None:
    ann = get_format("mpii").read(ANN, headbox_file="ignored.mat")  # not a converter option
    assert ann.num_instances == 5 and "head_size" not in ann.extras


def test_centre_scale_boxes_are_not_clipped_to_the_image() -> None:
    """MMPose keeps MPII's centre/scale boxes as they are: the fixture's first person's box
    starts 62 px above the image and the crop keeps it so."""
    from posecli.plugins import registry

    root = Path(__file__).resolve().parents[1] / "data" / "mmpose-tests" / "mpii"
    ds = registry("datasets").build(
        "mpii", ann_file=str(root / "test_mpii.json"), images=str(root), test_mode=True
    )
    assert ds[0]["bbox"][0, 1] == pytest.approx(-62.07148, abs=1e-3)
