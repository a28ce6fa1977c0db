"""Dataset factories for every catalogued MMPose format (:mod:`posecli.data.converters.catalog`).

``posecli.data.datasets.catalog:<name>`` is a factory with the arguments of the ``coco`` dataset
(plus ``strip_prefix``, a leading part of the file names to drop); ``interhand2d`` takes the
camera and joint files too. Recipe example (WFLW faces, validation on every 10th image)::

    [data.train.dataset]
    name = "wflw"
    ann_file = "annotations/face_landmarks_wflw_train.json"
    images = "images"
    split = "train"
    val_every = 10
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from posecli.data.converters.catalog import CATALOG
from posecli.data.datasets.base import PoseDataset
from posecli.data.datasets.formats import _finish, _path


def _detections(det_file: str | None, thr: float, root: str | None) -> dict | None:
    if det_file is None:
        return None
    from posecli.data.converters.coco import read_detections

    raw = read_detections(_path(det_file, root) or det_file)
    return {k: [(b, s) for b, s in v if s >= thr] for k, v in raw.items()}


def _factory(name: str) -> Callable[..., PoseDataset]:
    entry = CATALOG[name]

    def dataset(
        ann_file: str,
        images: str | None = None,
        skeleton: str | None = None,
        strip_prefix: str | None = None,
        split: str = "all",
        val_every: int | None = None,
        val_fraction: float | None = None,
        val_list: str | None = None,
        seed: int = 0,
        mode: str = "topdown",
        test_mode: bool = False,
        det_file: str | None = None,
        det_score_thr: float = 0.0,
        root: str | None = None,
    ) -> PoseDataset:
        from posecli.data.converters.catalog import read

        ann = read(
            name,
            _path(ann_file, root) or ann_file,
            skeleton=skeleton,
            images=_path(images, root),
            strip_prefix=strip_prefix,
        )
        dets = _detections(det_file, det_score_thr, root)
        test_mode = test_mode or dets is not None
        return _finish(
            ann, split, val_every, val_fraction, val_list, seed, mode, test_mode, root, dets
        )

    dataset.__name__ = name
    dataset.__qualname__ = name
    dataset.__doc__ = f"{entry.help} (MMPose {entry.mmpose})."
    return dataset


def interhand2d(
    ann_file: str,
    images: str | None = None,
    camera_file: str | None = None,
    joint_file: str | None = None,
    skeleton: str | None = None,
    split: str = "all",
    val_every: int | None = None,
    val_fraction: float | None = None,
    val_list: str | None = None,
    seed: int = 0,
    test_mode: bool = False,
    root: str | None = None,
) -> PoseDataset:
    """InterHand2.6M 2D, both hands (42 keypoints) projected from the 3D joints."""
    from posecli.data.converters.interhand import read_interhand2d

    ann = read_interhand2d(
        _path(ann_file, root) or ann_file,
        skeleton=skeleton,
        images=_path(images, root),
        camera_file=_path(camera_file, root),
        joint_file=_path(joint_file, root),
    )
    return _finish(ann, split, val_every, val_fraction, val_list, seed, "topdown", test_mode, root)


def __getattr__(attr: str) -> Any:
    """The factory of catalogued format ``attr`` (for the lazy dataset registrations)."""
    if attr in CATALOG:
        return _factory(attr)
    raise AttributeError(attr)


__all__ = ["interhand2d"]
