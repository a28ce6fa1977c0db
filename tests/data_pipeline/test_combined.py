"""The ``combined`` dataset (KeypointConverter semantics, ratios) and per-dataset metrics."""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from posecli.cli.app import create_app
from posecli.data.datasets.combined import KeypointMapping, combined
from posecli.data.metainfo import load_skeleton
from posecli.errors import DataError
from posecli.evaluation import build_metric

from .mmpose_fixtures import ROOT

REPO = Path(__file__).resolve().parents[2]
RECIPE = Path(__file__).parent / "data" / "combined-coco-aic.toml"
#: AI Challenger → COCO (shoulders, elbows, wrists, hips, knees, ankles; AIC's head top and
#: neck have no COCO counterpart, COCO's face points none in AIC).
AIC_TO_COCO = [[0, 6], [1, 8], [2, 10], [3, 5], [4, 7], [5, 9], [6, 12], [7, 14], [8, 16]]
AIC_TO_COCO += [[9, 11], [10, 13], [11, 15]]


def _build(**kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return combined(
            [
                {"name": "coco", "ann_file": "coco/test_coco.json", "images": "coco"},
                {"name": "aic", "ann_file": "aic/test_aic.json", "images": "aic", **kw},
            ],
            skeleton="coco",
            root=str(ROOT),
        )


def test_unmapped_target_keypoints_are_invisible_not_zero_guesses() -> None:
    ds = _build(mapping=AIC_TO_COCO)
    assert ds.lengths() == {"coco": 12, "aic": 9}
    s = ds[12]  # the first AIC sample
    raw = ds.datasets[1][0]
    assert s["dataset_name"] == "aic" and s["keypoints"].shape == (1, 17, 2)
    assert (s["keypoints_visible"][0, :5] == 0).all()  # nose, eyes, ears: no AIC source
    for src, tgt in AIC_TO_COCO:
        np.testing.assert_array_equal(s["keypoints"][0, tgt], raw["keypoints"][0, src])
        assert s["keypoints_visible"][0, tgt] == raw["keypoints_visible"][0, src]
    assert s["flip_indices"] == list(load_skeleton("coco").flip_indices)
    coco = ds[0]
    np.testing.assert_array_equal(coco["keypoints"], ds.datasets[0][0]["keypoints"])


def test_midpoint_sources_and_name_mapping() -> None:
    m = KeypointMapping(3, [((0, 1), 0), (2, 2)])
    kp = np.array([[[0.0, 0.0], [4.0, 2.0], [9.0, 9.0]]])
    np.testing.assert_allclose(m.keypoints(kp)[0], [[2.0, 1.0], [0.0, 0.0], [9.0, 9.0]])
    np.testing.assert_array_equal(m.visibility(np.array([[1.0, 0.0, 1.0]])), [[0.0, 0.0, 1.0]])
    by_name = KeypointMapping.by_names(load_skeleton("crowdpose"), load_skeleton("coco"))
    assert by_name.target.tolist() == list(range(5, 17))  # shoulders … ankles


def test_ratio_resamples_each_source_reproducibly() -> None:
    a, b = _build(mapping=AIC_TO_COCO, ratio=2.5), _build(mapping=AIC_TO_COCO, ratio=2.5)
    assert a.lengths() == {"coco": 12, "aic": 22} and len(a) == 34
    assert [a[i]["id"] for i in range(12, 34)] == [b[i]["id"] for i in range(12, 34)]
    half = _build(mapping=AIC_TO_COCO, ratio=0.34)
    assert half.lengths()["aic"] == 3


def test_bad_mappings_are_one_line_errors() -> None:
    with pytest.raises(DataError, match="sources must lie in 0..13"):
        _build(mapping=[[14, 0]])
    with pytest.raises(DataError, match="given twice"):
        _build(mapping=[[0, 1], [2, 1]])
    with pytest.raises(DataError, match="share no keypoint name"):
        combined([{"name": "wflw", "ann_file": str(ROOT / "wflw" / "test_wflw.json")}], "coco")


def test_per_dataset_metric_splits_the_batch() -> None:
    metric = build_metric(
        {"name": "per_dataset", "metric": {"name": "epe"}, "datasets": ["coco", "aic"]}
    )
    assert metric.reported_names() == ["coco/EPE", "aic/EPE"]
    gt = np.zeros((3, 2, 2))
    pred = gt + np.array([1.0, 3.0, 5.0])[:, None, None] * [1.0, 0.0]
    metric.process(
        {"keypoints": pred, "scores": np.ones((3, 2))},
        {
            "keypoints": gt,
            "keypoints_visible": np.ones((3, 2)),
            "dataset_name": ["coco", "aic", "aic"],
        },
    )
    assert metric.compute() == {"coco/EPE": 1.0, "aic/EPE": 4.0}


@pytest.mark.slow
def test_training_on_two_fixtures_with_different_skeletons(tmp_path: Path) -> None:
    os.chdir(REPO)
    work = tmp_path / "run"
    result = CliRunner().invoke(create_app(), ["-q", "train", str(RECIPE), "--work-dir", str(work)])
    assert result.exit_code == 0, result.output
    records = [json.loads(ln) for ln in (work / "metrics.jsonl").read_text().splitlines()]
    val = [r for r in records if r["type"] == "val"][-1]
    assert {"coco/PCK", "aic/PCK", "coco/EPE", "aic/EPE"} <= set(val)
    epoch = [r for r in records if r["type"] == "epoch"]
    assert len(epoch) == 1


def test_per_dataset_sources_are_checked_before_training(tmp_path: Path) -> None:
    """A misspelt source would otherwise fail at the end of the first validation, an epoch
    into training; the recipe check refuses it in one line, naming the key and the sources."""
    text = RECIPE.read_text()
    bad = tmp_path / "bad.toml"
    bad.write_text(
        text.replace('datasets = ["coco", "aic"] },\n]', 'datasets = ["coco", "aicx"] },\n]')
    )
    assert bad.read_text() != text
    os.chdir(REPO)
    work = tmp_path / "run"
    result = CliRunner().invoke(create_app(), ["train", str(bad), "--work-dir", str(work)])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.output, result.output
    assert "eval.metrics.1.datasets: 'aicx' is not a source of the validation dataset" in lines[0]
    assert "its sources: coco, aic" in lines[0] and not (work / "metrics.jsonl").exists()
    plain = tmp_path / "plain.toml"
    val = text[text.index("[data.val]") : text.index("[train]")]
    plain.write_text(
        text.replace(
            val,
            val.split("dataset = ")[0] + 'dataset = { name = "coco", ann_file = '
            '"coco/test_coco.json", images = "coco" }\npipeline = [{ name = "load_image" }, '
            '{ name = "get_bbox_center_scale" }, { name = "topdown_affine" }]\n\n',
        )
    )
    result = CliRunner().invoke(create_app(), ["recipe", "show", str(plain)])
    assert result.exit_code == 1
    assert "per_dataset needs a combined validation dataset" in result.output, result.output


def test_per_dataset_refuses_a_dataset_without_its_sources() -> None:
    metric = build_metric(
        {"name": "per_dataset", "metric": {"name": "epe"}, "datasets": ["coco", "mpii"]},
        load_skeleton("coco"),
    )
    ds = _build(mapping=AIC_TO_COCO)
    with pytest.raises(DataError, match=r"'mpii' is not a source .* \(its sources: coco, aic\)"):
        metric.bind_dataset(ds)
