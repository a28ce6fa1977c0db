"""Fixtures of the bottom-up tests: the COCO layout built from MMPose's fixture."""

from tests.recipes.conftest import coco_root  # noqa: F401
