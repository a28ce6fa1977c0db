"""Dataset formats yielding sample dicts (see :mod:`posecli.data.sample`)."""

from posecli.data.datasets.base import PoseDataset, split_images
from posecli.data.datasets.formats import aic, coco, crowdpose, dlc, mpii, sleap, yolo

__all__ = [
    "PoseDataset",
    "aic",
    "coco",
    "crowdpose",
    "dlc",
    "mpii",
    "sleap",
    "split_images",
    "yolo",
]
