"""Registered dataset formats: ``coco``, ``dlc``, ``sleap``, ``yolo`` (and ``mpii``,
``crowdpose``, ``aic``), each a factory returning a :class:`PoseDataset`.

Recipe example (the bundled mirror-mouse data, validation = every 5th frame by file name)::

    [data.train.dataset]
    name = "dlc"
    ann_file = "examples/mirror-mouse/CollectedData.csv"
    split = "train"
    val_every = 5

Every format names its annotation file ``ann_file`` (MMPose's key); the old keys ``labels``
(dlc, sleap) and ``data`` (yolo) still work in recipes, with a deprecation warning.
Relative paths start from ``root`` (the recipe's ``data.root``), else the current directory.
"""

from __future__ import annotations

from pathlib import Path

from posecli.data.annotations import PoseAnnotations
from posecli.data.datasets.base import PoseDataset, split_images


def _path(p: str | Path | None, root: str | Path | None) -> Path | None:
    if p is None:
        return None
    p = Path(p).expanduser()
    return p if p.is_absolute() or root is None else Path(root) / p


def _finish(
    ann: PoseAnnotations,
    split: str,
    val_every: int | None,
    val_fraction: float | None,
    val_list: str | None,
    seed: int,
    mode: str,
    test_mode: bool,
    root: str | None,
    detections: dict | None = None,
    val_last: int | None = None,
) -> PoseDataset:
    images = split_images(
        ann,
        split,
        val_every=val_every,
        val_fraction=val_fraction,
        val_list=str(_path(val_list, root)) if val_list else None,
        val_last=val_last,
        seed=seed,
    )
    return PoseDataset(ann, images, mode=mode, test_mode=test_mode, detections=detections)


def coco(
    ann_file: str,
    images: str | None = None,
    skeleton: str | None = None,
    split: str = "all",
    val_every: int | None = None,
    val_fraction: float | None = None,
    val_list: str | None = None,
    val_last: int | None = None,
    seed: int = 0,
    mode: str = "topdown",
    test_mode: bool = False,
    det_file: str | None = None,
    det_score_thr: float = 0.0,
    root: str | None = None,
) -> PoseDataset:
    """COCO keypoint JSON (top-down or bottom-up; optional detection-results file)."""
    from posecli.data.converters.coco import read_coco, read_detections

    ann = read_coco(_path(ann_file, root), skeleton=skeleton, images=_path(images, root))
    dets = None
    if det_file is not None:
        raw = read_detections(_path(det_file, root))
        dets = {k: [(b, s) for b, s in v if s >= det_score_thr] for k, v in raw.items()}
        test_mode = True
    return _finish(
        ann, split, val_every, val_fraction, val_list, seed, mode, test_mode, root, dets, val_last
    )


def dlc(
    ann_file: str,
    images: str | None = None,
    skeleton: str | None = None,
    bbox: str = "image",
    split: str = "all",
    val_every: int | None = None,
    val_fraction: float | None = None,
    val_list: str | None = None,
    val_last: int | None = None,
    seed: int = 0,
    mode: str = "topdown",
    test_mode: bool = False,
    root: str | None = None,
) -> PoseDataset:
    """DeepLabCut CSV/H5 labels; ``bbox = "image"`` (whole frame) or ``"keypoints"`` (extent)."""
    from posecli.data.converters.dlc import read_dlc

    ann = read_dlc(_path(ann_file, root), skeleton=skeleton, images=_path(images, root), bbox=bbox)
    return _finish(
        ann, split, val_every, val_fraction, val_list, seed, mode, test_mode, root, None, val_last
    )


def sleap(
    ann_file: str,
    images: str | None = None,
    skeleton: str | None = None,
    predicted: bool = False,
    split: str = "all",
    val_every: int | None = None,
    val_fraction: float | None = None,
    val_list: str | None = None,
    val_last: int | None = None,
    seed: int = 0,
    mode: str = "topdown",
    test_mode: bool = False,
    root: str | None = None,
) -> PoseDataset:
    """SLEAP ``.slp`` labels; frames are decoded from the videos the file names
    (``val_last = 300``: the clip's last 300 labelled frames validate)."""
    from posecli.data.converters.sleap import read_sleap

    ann = read_sleap(
        _path(ann_file, root), skeleton=skeleton, images=_path(images, root), predicted=predicted
    )
    return _finish(
        ann, split, val_every, val_fraction, val_list, seed, mode, test_mode, root, None, val_last
    )


def yolo(
    ann_file: str,
    split: str = "train",
    skeleton: str | None = None,
    mode: str = "topdown",
    test_mode: bool = False,
    root: str | None = None,
) -> PoseDataset:
    """YOLO-pose dataset YAML; ``split`` names the YAML's own split (train/val/test)."""
    from posecli.data.converters.yolo import read_yolo

    ann = read_yolo(_path(ann_file, root), skeleton=skeleton, split=split)
    return PoseDataset(ann, None, mode=mode, test_mode=test_mode)


def mpii(
    ann_file: str,
    images: str | None = None,
    skeleton: str | None = None,
    split: str = "all",
    val_every: int | None = None,
    val_fraction: float | None = None,
    val_list: str | None = None,
    seed: int = 0,
    test_mode: bool = False,
    headbox_file: str | None = None,
    root: str | None = None,
) -> PoseDataset:
    """MPII JSON list (square boxes from centre/scale, reference §7); ``headbox_file``
    (``mpii_gt_val.mat``, one head box per person of ``ann_file``) gives each instance the
    ``head_size`` that PCKh (``mpii_pck``) normalises by."""
    from posecli.data.converters.mpii import read_mpii

    ann = read_mpii(
        _path(ann_file, root),
        skeleton=skeleton,
        images=_path(images, root),
        headbox_file=_path(headbox_file, root),
    )
    return _finish(ann, split, val_every, val_fraction, val_list, seed, "topdown", test_mode, root)


def crowdpose(
    ann_file: str,
    images: str | None = None,
    split: str = "all",
    test_mode: bool = False,
    mode: str = "topdown",
    root: str | None = None,
) -> PoseDataset:
    """CrowdPose JSON (COCO layout, skeleton ``crowdpose``)."""
    return coco(
        ann_file, images, "crowdpose", split=split, test_mode=test_mode, mode=mode, root=root
    )


def aic(
    ann_file: str,
    images: str | None = None,
    split: str = "all",
    test_mode: bool = False,
    mode: str = "topdown",
    root: str | None = None,
) -> PoseDataset:
    """AI Challenger JSON in COCO layout (skeleton ``aic``)."""
    return coco(ann_file, images, "aic", split=split, test_mode=test_mode, mode=mode, root=root)


__all__ = ["aic", "coco", "crowdpose", "dlc", "mpii", "sleap", "yolo"]
