"""MPJPE / P-MPJPE / N-MPJPE and 3D PCK / AUC on hand-computed cases; the registered metrics."""

from __future__ import annotations

import numpy as np
import pytest

from posecli.evaluation.mpjpe import keypoint_3d_auc, keypoint_3d_pck, keypoint_mpjpe
from posecli.plugins import registry


def _rot_z(deg: float) -> np.ndarray:
    t = np.deg2rad(deg)
    return np.array([[np.cos(t), -np.sin(t), 0], [np.sin(t), np.cos(t), 0], [0, 0, 1]])


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((1, 3, 3))
    pred = np.array([[[3.0, 4.0, 0.0], [0.0, 0.0, 2.0], [1.0, 0.0, 0.0]]])
    assert keypoint_mpjpe(pred, gt) == pytest.approx((5 + 2 + 1) / 3)
    mask = np.array([[True, False, True]])
    assert keypoint_mpjpe(pred, gt, mask) == pytest.approx(3.0)


def test_p_mpjpe_removes_similarity_and_n_mpjpe_only_scale() -> None:
    rng = np.random.default_rng(0)
    gt = rng.normal(size=(4, 17, 3))
    moved = 1.7 * np.einsum("ij,nkj->nki", _rot_z(30), gt) + np.array([0.3, -2.0, 5.0])
    assert keypoint_mpjpe(moved, gt, alignment="procrustes") == pytest.approx(0.0, abs=1e-9)
    assert keypoint_mpjpe(moved, gt) > 1.0
    assert keypoint_mpjpe(0.5 * gt, gt, alignment="scale") == pytest.approx(0.0, abs=1e-12)
    # a reflection is not a rotation: Procrustes must not undo it
    mirrored = gt * np.array([-1.0, 1.0, 1.0])
    assert keypoint_mpjpe(mirrored, gt, alignment="procrustes") > 0.1
    # hand case for the scale alignment: pred = (1,0,0),(0,1,0); gt = (2,0,0),(0,0,0)
    pred = np.array([[[1.0, 0, 0], [0, 1.0, 0]]])
    g = np.array([[[2.0, 0, 0], [0, 0, 0]]])
    # s = <p,g>/<p,p> = 2/2 = 1 → errors 1 and 1
    assert keypoint_mpjpe(pred, g, alignment="scale") == pytest.approx(1.0)


def test_3d_pck_and_auc() -> None:
    gt = np.zeros((1, 4, 3))
    pred = np.zeros((1, 4, 3))
    pred[0, :, 0] = [0.0, 0.1, 0.2, 0.05]
    assert keypoint_3d_pck(pred, gt, thr=0.15) == pytest.approx(75.0)
    # thresholds 0, 0.005, ..., 0.15: share of (error < thr) averaged
    thrs = np.linspace(0, 0.15, 31)
    expected = np.mean([(pred[0, :, 0] < t).mean() for t in thrs]) * 100
    assert keypoint_3d_auc(pred, gt) == pytest.approx(expected)


def test_registered_mpjpe_metric_names_units_skip_list_and_actions() -> None:
    metric = registry("metrics").build(
        "MPJPE", mode="mpjpe", unit_scale=1000.0, per_action=True, skip_list=["S9_Greet"]
    )
    assert metric.reported_names() == ["MPJPE"]
    gt = np.zeros((3, 2, 3), np.float32)
    pred = gt.copy()
    pred[:, :, 0] = [[0.01], [0.02], [0.5]]
    metric.process(
        {"keypoints": pred, "scores": np.ones((3, 2))},
        {
            "lifting_target": gt,
            "lifting_target_visible": np.ones((3, 2)),
            "action": np.array(["Directions_1", "Eating", "Greet"]),
            "subject": np.array(["S9", "S9", "S9"]),
        },
    )
    values = metric.compute()
    assert values["MPJPE"] == pytest.approx(15.0)  # mm; the skipped S9_Greet left out
    assert values["MPJPE_Directions"] == pytest.approx(10.0)
    assert values["MPJPE_Eating"] == pytest.approx(20.0)
    assert "MPJPE_Greet" not in values
    pck = registry("metrics").build("3DPCK")
    assert pck.reported_names() == ["3DPCK", "3DAUC"]
    pck.process({"keypoints": pred}, {"lifting_target": gt})
    assert pck.compute()["3DPCK"] == pytest.approx(200 / 3)


def test_sequence_predictions_are_flattened_to_poses() -> None:
    metric = registry("metrics").build("mpjpe", mode="n-mpjpe")
    gt = np.random.default_rng(1).normal(size=(2, 5, 17, 3))
    metric.process({"keypoints": 3 * gt}, {"lifting_target": gt})
    assert metric.compute()["N-MPJPE"] == pytest.approx(0.0, abs=1e-9)
