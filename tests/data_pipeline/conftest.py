"""Fixtures of the data-layer tests: paths to the bundled data, a mirror-mouse sample."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
MOUSE_CSV = ROOT / "examples" / "mirror-mouse" / "CollectedData.csv"
COCO_MINI = DATA / "coco-mini" / "person_keypoints_mini.json"
SLP = ROOT / "examples" / "sleap-flies" / "clip.slp"
MMPOSE = DATA / "mmpose-annotations"

RECIPE = """
name = "test"
seed = 3
[codec]
name = "simcc"
input_size = [192, 256]
sigma = [4.9, 5.66]
simcc_split_ratio = 2.0
[model]
backbone = {{ name = "cspnext" }}
head = {{ name = "rtmcc_head" }}
[data]
skeleton = "mirror_mouse"
[data.train]
batch_size = 4
cache_images = {cache}
dataset = {{ name = "dlc", ann_file = "{csv}", split = "train", val_every = 5 }}
pipeline = [
  {{ name = "LoadImage" }},
  {{ name = "GetBBoxCenterScale" }},
  {{ name = "RandomFlip" }},
  {{ name = "RandomHalfBody" }},
  {{ name = "RandomBBoxTransform" }},
  {{ name = "TopdownAffine" }},
  {{ name = "YOLOXHSVRandomAug" }},
  {{ name = "GenerateTarget" }},
]
[data.val]
batch_size = 8
dataset = {{ name = "dlc", ann_file = "{csv}", split = "val", val_every = 5 }}
pipeline = [{{ name = "LoadImage" }}, {{ name = "GetBBoxCenterScale" }}, {{ name = "TopdownAffine" }}]
"""


@pytest.fixture
def recipe_file(tmp_path: Path) -> Path:
    path = tmp_path / "recipe.toml"
    path.write_text(RECIPE.format(csv=MOUSE_CSV.as_posix(), cache="false"))
    return path


@pytest.fixture
def mouse_dataset():
    from posecli.data.datasets.formats import dlc

    return dlc(str(MOUSE_CSV), skeleton="mirror_mouse")
