"""COCO AP on the coco-mini annotation: pycocotools, MMPose's rescoring and OKS-NMS."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from posecli.errors import DataError
from posecli.evaluation import CocoAP, build_metrics, coco_ap, oks, oks_nms, rescore
from posecli.evaluation.coco import COCO_METRIC_NAMES, COCO_SIGMAS, load_coco_gt, make_results

ANN = Path(__file__).parent / "data" / "person_keypoints_mini.json"
THRESHOLDS = [0.5 + 0.05 * i for i in range(10)]


@pytest.fixture(scope="module")
def gt() -> dict:
    return json.loads(ANN.read_text())


def _gt_arrays(gt: dict) -> tuple[np.ndarray, float, int]:
    ann = gt["annotations"][0]
    kps = np.asarray(ann["keypoints"], dtype=np.float64).reshape(1, 17, 3)
    return kps[..., :2], float(ann["area"]), ann["image_id"]


def _hand_oks(pred: np.ndarray, ref: np.ndarray, area: float) -> float:
    """OKS by the COCO formula, one keypoint at a time."""
    total = 0.0
    for k in range(17):
        d2 = (pred[k, 0] - ref[k, 0]) ** 2 + (pred[k, 1] - ref[k, 1]) ** 2
        var = (2 * COCO_SIGMAS[k]) ** 2
        total += math.exp(-d2 / var / (area + np.spacing(1)) / 2)
    return total / 17


def test_perfect_predictions_give_ap_one(gt: dict) -> None:
    ref, _, img = _gt_arrays(gt)
    values = coco_ap(ANN, ref, np.ones((1, 17)), [img])
    assert list(values) == list(COCO_METRIC_NAMES)
    for name in ("coco/AP", "coco/AP .5", "coco/AP .75", "coco/AP (L)", "coco/AR", "coco/AR (L)"):
        assert values[name] == pytest.approx(1.0)
    # the only person is large: pycocotools reports -1 for the empty medium range
    assert values["coco/AP (M)"] == -1.0


@pytest.mark.parametrize("shift", [(4.0, 3.0), (9.0, -7.0), (15.0, 2.0)])
def test_known_perturbation_matches_hand_oks(gt: dict, shift: tuple[float, float]) -> None:
    ref, area, img = _gt_arrays(gt)
    pred = ref.copy()
    pred[0, ::2] += np.asarray(shift)  # every other keypoint moves
    expected_oks = _hand_oks(pred[0], ref[0], area)
    assert oks(pred, ref, area, COCO_SIGMAS)[0, 0] == pytest.approx(expected_oks, rel=1e-12)
    assert all(abs(expected_oks - t) > 1e-3 for t in THRESHOLDS)  # not on a boundary
    # one detection, one person: matched (precision 1) at thresholds t <= OKS, else missed
    expected_ap = sum(t <= expected_oks for t in THRESHOLDS) / len(THRESHOLDS)
    values = coco_ap(ANN, pred, np.ones((1, 17)), [img])
    assert values["coco/AP"] == pytest.approx(expected_ap)
    assert values["coco/AR"] == pytest.approx(expected_ap)
    assert values["coco/AP .5"] == pytest.approx(float(expected_oks >= 0.5))
    assert values["coco/AP .75"] == pytest.approx(float(expected_oks >= 0.75))
    assert 0.0 < expected_ap < 1.0 or shift == (4.0, 3.0)


def test_missing_area_is_computed_with_a_warning(gt: dict) -> None:
    ref, _, img = _gt_arrays(gt)
    no_area = json.loads(json.dumps(gt))
    del no_area["annotations"][0]["area"]
    with pytest.warns(UserWarning, match="area"):
        fixed = load_coco_gt(no_area)
    bbox = gt["annotations"][0]["bbox"]
    assert fixed["annotations"][0]["area"] == pytest.approx(bbox[2] * bbox[3])
    with pytest.warns(UserWarning, match="area"):
        values = coco_ap(no_area, ref, np.ones((1, 17)), [img])
    assert values["coco/AP"] == pytest.approx(1.0)


def test_rescore_bbox_times_mean_of_confident_keypoints() -> None:
    kps = np.array([[0.1, 0.3, 0.5], [0.1, 0.2, 0.05], [0.9, 0.9, 0.9]])
    scores = rescore(np.array([0.8, 0.9, 0.5]), kps, thr=0.2)
    np.testing.assert_allclose(scores, [0.8 * 0.4, 0.0, 0.45])
    np.testing.assert_allclose(rescore(np.array([0.8]), kps[:1], mode="bbox"), [0.8])
    np.testing.assert_allclose(rescore(np.array([0.8]), kps[:1], mode="keypoint"), [0.3])
    with pytest.raises(ValueError, match="score_mode"):
        rescore(np.ones(1), kps[:1], mode="nope")


def test_oks_nms_suppresses_near_duplicates_only() -> None:
    rng = np.random.default_rng(0)
    a = rng.uniform(0, 200, size=(17, 2))
    kps = np.stack([a, a + 0.5, a + 150.0, a + 1.0])
    scores = np.array([0.7, 0.9, 0.8, 0.1])
    areas = np.full(4, 200.0 * 200.0)
    keep = oks_nms(kps, scores, areas, COCO_SIGMAS, thr=0.9)
    # 1 is best and absorbs 0 and 3 (OKS ~1); 2 is far away and survives
    assert keep.tolist() == [1, 2]
    assert oks_nms(kps, scores, areas, COCO_SIGMAS, thr=1.0).tolist() == [1, 2, 0, 3]
    assert oks_nms(kps[:0], scores[:0], areas[:0], COCO_SIGMAS).tolist() == []


def test_make_results_rescoring_nms_and_id_dedup(gt: dict) -> None:
    ref, _, img = _gt_arrays(gt)
    far = ref + 120.0
    kps = np.concatenate([ref, ref + 0.3, far, ref])
    kscores = np.array([[0.9] * 17, [0.5] * 17, [0.8] * 17, [0.9] * 17])
    results = make_results(
        kps,
        kscores,
        np.full(4, img),
        sigmas=COCO_SIGMAS,
        bbox_scores=np.array([1.0, 1.0, 0.5, 1.0]),
        areas=np.full(4, 3e4),
        ids=np.array([7, 8, 9, 7]),  # the last repeats id 7 (sampler padding)
    )
    assert [r["score"] for r in results] == pytest.approx([0.9, 0.4])
    assert len(results[0]["keypoints"]) == 51
    assert results[0]["keypoints"][2] == pytest.approx(0.9)  # x, y, score triplets


def test_coco_metric_with_ann_file_and_with_batch_ground_truth(gt: dict) -> None:
    ref, area, img = _gt_arrays(gt)
    ann = gt["annotations"][0]
    x, y, w, h = ann["bbox"]
    pred = ref.copy()
    pred[0, 5:] += 6.0
    meta = {
        "keypoints": ref,
        "keypoints_visible": np.ones((1, 17)),
        "bbox": np.array([[x, y, x + w, y + h]]),
        "img_id": np.array([img]),
        "id": np.array([ann["id"]]),
        "bbox_score": np.array([1.0]),
        "input_scale": np.array([[w * 1.25, h * 1.25]]),
        "category_id": np.array([1]),
        "area": np.array([area]),
    }
    expected = coco_ap(ANN, pred, np.full((1, 17), 0.9), [img])
    from_file = CocoAP(ann_file=ANN)
    from_batch = build_metrics([{"name": "CocoMetric"}])[0]
    for metric in (from_file, from_batch):
        metric.process({"keypoints": pred, "scores": np.full((1, 17), 0.9)}, meta)
        metric.process({"keypoints": pred, "scores": np.full((1, 17), 0.9)}, meta)  # padding
        assert metric.compute() == pytest.approx(expected)
    assert len(from_file.coco_results) == 1


def test_coco_errors(gt: dict) -> None:
    ref, _, _ = _gt_arrays(gt)
    with pytest.raises(DataError, match="image ids"):
        coco_ap(ANN, ref, np.ones((1, 17)), [12345])
    with pytest.raises(DataError, match="sigmas"):
        coco_ap(ANN, ref[:, :5], np.ones((1, 5)), [785], sigmas=COCO_SIGMAS)
    with pytest.warns(UserWarning, match="no predictions"):
        empty = coco_ap(ANN, np.zeros((0, 17, 2)), np.zeros((0, 17)), [])
    assert empty["coco/AP"] == 0.0


def test_an_annotation_id_of_zero_still_matches(gt: dict) -> None:
    """ExLPose's fixture numbers its annotations from 0: the batch ground truth is renumbered
    (pycocotools reads a match to id 0 as no match: perfect predictions scored 0.693)."""
    ref, area, img = _gt_arrays(gt)
    x, y, w, h = gt["annotations"][0]["bbox"]
    meta = {
        "keypoints": np.concatenate([ref, ref + 40.0]),
        "keypoints_visible": np.ones((2, 17)),
        "bbox": np.array([[x, y, x + w, y + h], [x + 40, y + 40, x + w + 40, y + h + 40]]),
        "img_id": np.array([img, img]),
        "id": np.array([0, 1]),
        "bbox_score": np.ones(2),
        "input_scale": np.array([[w * 1.25, h * 1.25]] * 2),
        "category_id": np.array([1, 1]),
        "area": np.array([area, area]),
    }
    metric = build_metrics([{"name": "coco_ap"}])[0]
    metric.process({"keypoints": meta["keypoints"], "scores": np.ones((2, 17))}, meta)
    values = metric.compute()
    assert values["coco/AP"] == pytest.approx(1.0)
    assert values["coco/AR"] == pytest.approx(1.0)
