"""Shared helpers for the models tests (small inputs, COCO-like skeleton without data files)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

DATA = Path(__file__).parent / "data"
RECIPES = Path(__file__).resolve().parents[2] / "recipes" / "coco"
COCO_FLIP = [0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]
COCO_META = {"num_keypoints": 17, "flip_indices": COCO_FLIP}


def reference_keys(name: str) -> dict[str, list[int]]:
    """State-dict key → shape list of an MMPose model (tests/models/data/mmpose-NAME.json)."""
    return json.loads((DATA / f"mmpose-{name}.json").read_text())


@pytest.fixture(autouse=True)
def _few_threads() -> None:
    torch.set_num_threads(2)
    torch.manual_seed(0)
