"""Fixtures for the recipe tests: a COCO-layout folder made from MMPose's COCO fixture."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
COCO_FIXTURE = REPO / "tests" / "data" / "mmpose-tests" / "coco"

#: The training split of the layout: two of the four images (3 labelled people).
TRAIN_IMAGES = (785, 40083)


@pytest.fixture(scope="session")
def coco_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``data/coco`` as the COCO recipes expect it (``annotations/``, ``train2017/``,
    ``val2017/``, ``person_detection_results/``), from MMPose's fixture: 4 val2017 images,
    14 people and the detections file ``test_coco_det_AP_H_56.json``."""
    root = tmp_path_factory.mktemp("coco")
    for folder in ("annotations", "train2017", "val2017", "person_detection_results"):
        (root / folder).mkdir()
    full = json.loads((COCO_FIXTURE / "test_coco.json").read_text())
    train = {
        **full,
        "images": [im for im in full["images"] if im["id"] in TRAIN_IMAGES],
        "annotations": [a for a in full["annotations"] if a["image_id"] in TRAIN_IMAGES],
    }
    (root / "annotations" / "person_keypoints_train2017.json").write_text(json.dumps(train))
    (root / "annotations" / "person_keypoints_val2017.json").write_text(json.dumps(full))
    for image in full["images"]:
        src = COCO_FIXTURE / image["file_name"]
        split = "train2017" if image["id"] in TRAIN_IMAGES else None
        if split:
            shutil.copyfile(src, root / split / image["file_name"])
        shutil.copyfile(src, root / "val2017" / image["file_name"])
    shutil.copyfile(
        COCO_FIXTURE / "test_coco_det_AP_H_56.json",
        root / "person_detection_results" / "COCO_val2017_detections_AP_H_56_person.json",
    )
    return root
