"""PCK, AUC, EPE and NME on hand-computed cases, as functions and as accumulating metrics."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from posecli.errors import BuildError, DataError
from posecli.evaluation import AUC, EPE, NME, PCK, auc, build_metrics, epe, nme, pck
from posecli.evaluation.keypoints import distances, torso_size

# two instances, three keypoints; errors are 3-4-5 triangles and exact offsets
GT = np.zeros((2, 3, 2))
PRED = np.array(
    [
        [[3.0, 4.0], [0.0, 1.0], [0.0, 20.0]],  # errors 5, 1, 20
        [[0.0, 0.0], [6.0, 8.0], [0.0, 3.0]],  # errors 0, 10, 3
    ]
)
VIS = np.array([[1, 1, 1], [1, 1, 0]], dtype=bool)  # last keypoint of instance 2 unlabelled
BBOX = np.array([[0, 0, 100, 50], [10, 10, 60, 210]], dtype=float)  # max sides 100 and 200


def test_epe_is_mean_over_visible_pairs() -> None:
    assert epe(PRED, GT, VIS) == pytest.approx((5 + 1 + 20 + 0 + 10) / 5)
    assert epe(PRED, GT, np.zeros_like(VIS)) == 0.0


def test_pck_bbox_normaliser_by_hand() -> None:
    # normalised errors: inst1 (100): .05 .01 .20; inst2 (200): 0 .05 (masked)
    norm = np.array([100.0, 200.0])
    # thr 0.05 is strict: kp0 1/2, kp1 1/2 (0.01 yes, 0.05 no), kp2 0/1
    assert pck(PRED, GT, VIS, norm, 0.05) == pytest.approx((0.5 + 0.5 + 0.0) / 3)
    # thr 0.06: kp0 2/2, kp1 2/2, kp2 0/1
    assert pck(PRED, GT, VIS, norm, 0.06) == pytest.approx(2 / 3)
    # a keypoint visible nowhere is left out of the mean
    vis = VIS.copy()
    vis[:, 2] = False
    assert pck(PRED, GT, vis, norm, 0.06) == pytest.approx(1.0)


def test_zero_normaliser_drops_the_instance() -> None:
    d = distances(PRED, GT, VIS, np.array([0.0, 200.0]))
    assert (d[0] == -1).all() and d[1, 0] == 0.0


def test_auc_by_hand() -> None:
    # errors / 30: 1/6, 1/30, 2/3, 0, 1/3 ; thresholds i/20, strict
    thrs = np.arange(20) / 20
    per = []
    for t in thrs.tolist():
        k0 = int(t > 5 / 30) + int(t > 0)
        k1 = int(t > 1 / 30) + int(t > 10 / 30)
        k2 = int(t > 20 / 30)
        per.append((k0 / 2 + k1 / 2 + k2 / 1) / 3)
    assert auc(PRED, GT, VIS, 30.0, 20) == pytest.approx(np.mean(per))


def test_nme_with_interocular_and_given_normaliser() -> None:
    gt = np.zeros((1, 4, 2))
    gt[0, 2] = [0.0, 0.0]
    gt[0, 3] = [40.0, 0.0]  # eyes 40 px apart
    pred = gt.copy()
    pred[0, 0] += [4.0, 0.0]
    pred[0, 1] += [0.0, 8.0]
    vis = np.ones((1, 4), bool)
    metric = NME(keypoint_indices=(2, 3))
    metric.process(
        {"keypoints": pred, "scores": np.ones((1, 4))}, {"keypoints": gt, "keypoints_visible": vis}
    )
    assert metric.compute() == {"NME": pytest.approx((0.1 + 0.2) / 4)}
    assert nme(pred, gt, vis, np.array([80.0])) == pytest.approx((0.05 + 0.1) / 4)
    aflw = NME(norm_mode="use_norm_item", norm_item="box_size")
    aflw.process(
        {"keypoints": pred, "scores": np.ones((1, 4))},
        {"keypoints": gt, "keypoints_visible": vis, "box_size": np.array([20.0])},
    )
    assert aflw.compute()["NME"] == pytest.approx((0.2 + 0.4) / 4)


def test_nme_presets_and_errors() -> None:
    assert NME(dataset="wflw").keypoint_indices == (60, 72)
    assert NME(dataset="300W").keypoint_indices == (36, 45)
    assert NME(dataset="cofw").keypoint_indices == (8, 9)
    with pytest.raises(ValueError, match="keypoint_indices"):
        NME(dataset="mouse")
    (metric,) = build_metrics([{"name": "nme"}], skeleton={"name": "wflw"})
    assert isinstance(metric, NME) and metric.keypoint_indices == (60, 72)


def _meta() -> dict[str, np.ndarray]:
    return {"keypoints": GT, "keypoints_visible": VIS.astype(np.float32), "bbox": BBOX}


def test_metric_objects_accumulate_batches_like_one_call() -> None:
    metrics = build_metrics(
        [
            {"name": "PCKAccuracy", "thr": 0.05},
            {"name": "auc"},
            {"name": "EPE"},
            {"name": "pck", "thr": [0.05, 0.06], "norm": ["bbox", "head"]},
        ]
    )
    meta = _meta()
    meta["head_size"] = np.array([50.0, 100.0])
    for i in range(2):  # one instance per batch
        batch = {k: v[i : i + 1] for k, v in meta.items()}
        for m in metrics:
            m.process({"keypoints": PRED[i : i + 1], "scores": np.ones((1, 3))}, batch)
    values = {}
    for m in metrics:
        values.update(m.compute())
    assert values["PCK"] == pytest.approx(1 / 3)
    assert values["AUC"] == pytest.approx(auc(PRED, GT, VIS))
    assert values["EPE"] == pytest.approx(36 / 5)
    assert values["PCK@0.06"] == pytest.approx(2 / 3)
    assert values["PCKh@0.05"] == pytest.approx(pck(PRED, GT, VIS, np.array([50.0, 100.0]), 0.05))
    for m in metrics:
        m.reset()
    with pytest.raises(DataError, match="nothing"):
        metrics[0].compute()


def test_pck_image_and_torso_normalisers() -> None:
    m = PCK(thr=0.05, norm=["image", "torso"], torso_indices=(1, 2))
    meta = _meta() | {"image_size": np.array([[400, 300], [100, 50]])}
    m.process({"keypoints": PRED, "scores": np.ones((2, 3))}, meta)
    values = m.compute()
    assert values["PCK_img"] == pytest.approx(pck(PRED, GT, VIS, np.array([400.0, 100.0]), 0.05))
    torso = torso_size(GT, PRED, (1, 2))  # GT torso is 0 px: taken from the prediction
    np.testing.assert_allclose(torso, [19.0, np.sqrt(6**2 + 5**2)])
    assert values["tPCK"] == pytest.approx(pck(PRED, GT, VIS, torso, 0.05))


def test_missing_batch_key_and_bad_tables() -> None:
    m = EPE()
    with pytest.raises(DataError, match="keypoints_visible"):
        m.process({"keypoints": PRED}, {"keypoints": GT})
    with pytest.raises(BuildError, match="unknown metric"):
        build_metrics([{"name": "mAP"}])
    with pytest.raises(BuildError, match=r"eval\.metrics\[0\]\.thrs.*did you mean thr"):
        build_metrics([{"name": "pck", "thrs": 0.1}])
    with pytest.raises(BuildError, match="norm"):
        build_metrics([{"name": "pck", "norm": "elbow"}])
    assert isinstance(build_metrics([{"name": "auc", "norm_factor": 10}])[0], AUC)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.floats(0.01, 0.5), st.integers(0, 2**31 - 1))
def test_pck_matches_a_plain_loop(n: int, k: int, thr: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    gt = rng.uniform(0, 100, (n, k, 2))
    pred = gt + rng.normal(0, 8, (n, k, 2))
    vis = rng.uniform(size=(n, k)) > 0.3
    norm = rng.uniform(20, 120, n)
    accs = []
    for j in range(k):
        hits = [
            np.linalg.norm(pred[i, j] - gt[i, j]) / norm[i] < thr for i in range(n) if vis[i, j]
        ]
        if hits:
            accs.append(np.mean(hits))
    expected = float(np.mean(accs)) if accs else 0.0
    assert pck(pred, gt, vis, norm, thr) == pytest.approx(expected)
