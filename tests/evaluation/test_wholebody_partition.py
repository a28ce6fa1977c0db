"""COCO-WholeBody AP, the keypoint-partition metric and the NME normalisers on MMPose's fixtures."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from posecli.data.metainfo import load_skeleton
from posecli.evaluation import build_metric
from posecli.plugins import registry
from tests.data_pipeline.mmpose_fixtures import BY_FORMAT, ROOT

WB = ROOT / "coco" / "test_coco_wholebody.json"
PARTS = {
    "body": list(range(17)),
    "foot": list(range(17, 23)),
    "face": list(range(23, 91)),
    "hands": list(range(91, 133)),
}


def _dataset(name: str):
    f = BY_FORMAT[name]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return registry("datasets").build(name, ann_file=str(f.ann_path), test_mode=True)


def _feed(metric, ds, keypoints: np.ndarray) -> dict[str, float]:
    ann = ds.ann
    n = ann.num_instances
    wh = ds.xyxy[:, 2:] - ds.xyxy[:, :2]
    metric.process(
        {"keypoints": keypoints, "scores": np.ones(keypoints.shape[:2])},
        {
            "img_id": np.array([ann.images[i].id for i in ann.image_index]),
            "id": ann.ids,
            "bbox_score": np.ones(n),
            "category_id": ann.category_id,
            "input_scale": wh * 1.25,
            "keypoints": ann.keypoints,
            "keypoints_visible": np.minimum(ann.visibility, 1).astype(float),
            "bbox": ds.xyxy,
            "area": ds.area,
            **{k: v for k, v in ann.extras.items() if k in ("box_size", "head_size")},
        },
    )
    return metric.compute()


def _perfect(ds) -> np.ndarray:
    """GT where labelled, the box centre elsewhere (inside the box, as a model would be)."""
    centre = (ds.xyxy[:, None, :2] + ds.xyxy[:, None, 2:]) / 2
    lab = ds.ann.visibility[..., None] > 0
    return np.where(lab, ds.ann.keypoints, centre)


def _noisy(ds, sd: float = 3.0) -> np.ndarray:
    return _perfect(ds) + np.random.default_rng(0).normal(0, sd, ds.ann.keypoints.shape)


def test_wholebody_perfect_predictions_score_one_in_every_part() -> None:
    ds = _dataset("coco_wholebody")
    metric = build_metric(
        {"name": "coco_wholebody", "ann_file": str(WB)}, load_skeleton("coco_wholebody")
    )
    values = _feed(metric, ds, _perfect(ds))
    assert set(values) == set(metric.reported_names()) and len(values) == 60
    for part in ("", "body/"):
        assert values[f"coco-wholebody/{part}AP"] == pytest.approx(1.0)
        assert values[f"coco-wholebody/{part}AR"] == pytest.approx(1.0)
    # A person with a part left unlabelled (feet hidden, no hands) still counts in that part
    # (COCO ignores only num_keypoints = 0): OKS then falls back to the doubled box, where
    # every prediction inside scores 1, so greedy matching can pair predictions with the wrong
    # people and the parts stay below 1. Values measured on this fixture:
    measured = {"foot": 0.849, "face": 0.869, "lefthand": 0.769, "righthand": 0.890}
    for part, ap in measured.items():
        assert values[f"coco-wholebody/{part}/AP"] == pytest.approx(ap, abs=1e-3)


def test_wholebody_body_part_equals_coco_ap_on_the_body_keypoints() -> None:
    ds = _dataset("coco_wholebody")
    kp = _noisy(ds)
    wb = build_metric(
        {"name": "CocoWholeBodyMetric", "ann_file": str(WB)}, load_skeleton("coco_wholebody")
    )
    values = _feed(wb, ds, kp)
    coco = build_metric(
        {"name": "coco_ap", "ann_file": str(ROOT / "coco" / "test_coco.json")},
        load_skeleton("coco"),
    )
    n = ds.ann.num_instances
    coco.process(
        {"keypoints": kp[:, :17], "scores": np.ones((n, 17))},
        {
            "img_id": np.array([ds.ann.images[i].id for i in ds.ann.image_index]),
            "id": ds.ann.ids,
            "bbox_score": np.ones(n),
            "category_id": ds.ann.category_id,
            "input_scale": (ds.xyxy[:, 2:] - ds.xyxy[:, :2]) * 1.25,
        },
    )
    body = coco.compute()
    assert values["coco-wholebody/body/AP"] == pytest.approx(body["coco/AP"])
    assert values["coco-wholebody/body/AR"] == pytest.approx(body["coco/AR"])
    # measured on this fixture with N(0, 3 px) noise (seed 0)
    assert values["coco-wholebody/AP"] == pytest.approx(0.4150, abs=1e-4)
    assert values["coco-wholebody/face/AP"] < values["coco-wholebody/body/AP"]


def test_partition_metric_names_and_values() -> None:
    ds = _dataset("coco_wholebody")
    kp = _noisy(ds)
    metric = build_metric(
        {"name": "KeypointPartitionMetric", "metric": {"name": "coco_ap"}, "partitions": PARTS},
        load_skeleton("coco_wholebody"),
    )
    assert metric.reported_names()[:2] == ["body/coco/AP", "body/coco/AP .5"]
    values = _feed(metric, ds, kp)
    assert len(values) == 40
    perfect = build_metric(
        {"name": "keypoint_partition", "metric": {"name": "coco_ap"}, "partitions": PARTS},
        load_skeleton("coco_wholebody"),
    )
    assert _feed(perfect, ds, _perfect(ds))["body/coco/AP"] == pytest.approx(1.0)
    epe = build_metric(
        {"name": "keypoint_partition", "metric": {"name": "epe"}, "partitions": PARTS},
        load_skeleton("coco_wholebody"),
    )
    res = _feed(epe, ds, kp)
    lab = ds.ann.visibility > 0
    dist = np.linalg.norm(kp - ds.ann.keypoints, axis=-1)
    for part, ids in PARTS.items():
        assert res[f"{part}/EPE"] == pytest.approx(dist[:, ids][lab[:, ids]].mean())


def test_partition_refuses_what_mmpose_refuses() -> None:
    with pytest.raises(Exception, match="ground truth from the batches"):
        build_metric(
            {
                "name": "keypoint_partition",
                "metric": {"name": "coco_ap", "ann_file": str(WB)},
                "partitions": PARTS,
            },
        )
    with pytest.raises(Exception, match="use_norm_item"):
        build_metric(
            {
                "name": "keypoint_partition",
                "metric": {"name": "nme", "dataset": "wflw"},
                "partitions": PARTS,
            },
        )


@pytest.mark.parametrize(
    ("name", "norm"),
    [
        ("wflw", (60, 72)),
        ("face_300w", (36, 45)),
        ("face_300wlp", (36, 45)),
        ("face_300vw", (36, 45)),
        ("cofw", (8, 9)),
        ("lapa", (66, 79)),
        ("coco_wholebody_face", (36, 45)),
        ("horse10", (0, 1)),
        ("aflw", "box_size"),
    ],
)
def test_nme_normaliser_of_each_dataset(name: str, norm: object) -> None:
    ds = _dataset(name)
    kp = _noisy(ds, 2.0)
    metric = build_metric({"name": "nme"}, ds.skeleton)
    value = _feed(metric, ds, kp)["NME"]
    gt, lab = ds.ann.keypoints, ds.ann.visibility > 0
    if norm == "box_size":
        scale = ds.ann.extras["box_size"]
    else:
        scale = np.linalg.norm(gt[:, norm[0]] - gt[:, norm[1]], axis=-1)
    lab &= (scale > 0)[:, None]  # an instance whose two reference points coincide is left out
    err = np.linalg.norm(kp - gt, axis=-1) / np.where(scale > 0, scale, 1.0)[:, None]
    assert value == pytest.approx(err[lab].mean(), rel=1e-6)


def test_pckh_of_panoptic_hands_and_torso_pck_of_jhmdb() -> None:
    pan = _dataset("panoptic_hand2d")
    kp = _noisy(pan, 8.0)
    head = pan.ann.extras["head_size"]
    value = _feed(build_metric({"name": "pck", "thr": 0.1, "norm": "head"}), pan, kp)["PCKh"]
    d = np.linalg.norm(kp - pan.ann.keypoints, axis=-1) / head[:, None]
    lab = pan.ann.visibility > 0
    per_kp = [(d[:, j][lab[:, j]] < 0.1).mean() for j in range(21) if lab[:, j].any()]
    assert value == pytest.approx(np.mean(per_kp))
    jh = _dataset("jhmdb")
    kp = _noisy(jh, 4.0)
    torso = _feed(build_metric({"name": "pck", "thr": 0.2, "norm": "torso"}), jh, kp)
    assert 0.0 < torso["tPCK"] <= 1.0
    auc = _feed(build_metric({"name": "auc"}), jh, kp)["AUC"]
    epe = _feed(build_metric({"name": "epe"}), jh, kp)["EPE"]
    assert 0.5 < auc < 1.0 and 3.0 < epe < 7.0


def test_wholebody_with_detected_boxes_takes_the_dataset_ground_truth() -> None:
    f = BY_FORMAT["coco_wholebody"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gt_ds = registry("datasets").build(
            "coco_wholebody", ann_file=str(f.ann_path), test_mode=True
        )
        det_ds = registry("datasets").build(
            "coco_wholebody",
            ann_file=str(f.ann_path),
            det_file=str(ROOT / "coco" / "test_coco_det_AP_H_56.json"),
        )
    from_file = build_metric(
        {"name": "coco_wholebody", "ann_file": str(WB)}, load_skeleton("coco_wholebody")
    )
    bound = build_metric({"name": "coco_wholebody"}, load_skeleton("coco_wholebody"))
    bound.bind_dataset(det_ds)
    kp = _noisy(gt_ds)
    a, b = _feed(from_file, gt_ds, kp), _feed(bound, gt_ds, kp)
    assert a == pytest.approx(b)


def test_partition_and_per_dataset_results_gather_like_any_metric() -> None:
    """Two 'ranks' each see half the batches; joining their ``results`` (what the
    distributed gather does) gives the single-process values."""
    ds = _dataset("coco_wholebody")
    kp = _noisy(ds)
    table = {"name": "keypoint_partition", "metric": {"name": "epe"}, "partitions": PARTS}
    whole = _feed(build_metric(table), ds, kp)
    a, b = build_metric(table), build_metric(table)
    n = ds.ann.num_instances
    for m, rows in ((a, slice(0, n // 2)), (b, slice(n // 2, n))):
        m.process(
            {"keypoints": kp[rows], "scores": np.ones(kp[rows].shape[:2])},
            {
                "keypoints": ds.ann.keypoints[rows],
                "keypoints_visible": np.minimum(ds.ann.visibility[rows], 1).astype(float),
            },
        )
    a.results += b.results
    assert a.compute() == pytest.approx(whole)
    per = build_metric({"name": "per_dataset", "metric": {"name": "epe"}, "datasets": ["x", "y"]})
    gt = np.zeros((4, 1, 2))
    for names, dx in ((["x", "x"], 1.0), (["y", "x"], 3.0)):
        per.process(
            {"keypoints": gt[:2] + dx, "scores": np.ones((2, 1))},
            {"keypoints": gt[:2], "keypoints_visible": np.ones((2, 1)), "dataset_name": names},
        )
    assert per.compute() == pytest.approx({"x/EPE": np.sqrt(2) * 5 / 3, "y/EPE": 3 * np.sqrt(2)})
