"""MPII annotation lists (``image``, ``center``, ``scale``, ``joints``, ``joints_vis``).

Boxes follow MMPose (reference §7): a square of side ``s = scale·200`` px around the centre
moved down by ``15·scale`` px, then 1 subtracted from the centre (MATLAB indices start at 1).
Joints are taken as stored; ``joints_vis = 0`` becomes ``v = 0`` (coordinates zeroed).

PCKh needs each person's head size: MPII ships it as head boxes in ``mpii_gt_val.mat``
(``headboxes_src``, one box per person of the validation list, same order). As in MMPose,
``head_size = 0.6 × ‖(x2, y2) − (x1, y1)‖``, the scaled diagonal of the head box.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.converters.coco import load_json
from posecli.data.io import gc_paused, image_size
from posecli.data.metainfo import Skeleton, load_skeleton
from posecli.errors import DataError

PIXEL_STD = 200.0
#: Fraction of the head-box diagonal that is the PCKh head size (MPII's ``SC_BIAS``).
HEAD_SIZE_FACTOR = 0.6
HEADBOX_KEY = "headboxes_src"


def mpii_box(center: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """``(M, 4)`` boxes ``x, y, w, h`` from MPII ``center (M, 2)`` and ``scale (M,)``."""
    side = scale * PIXEL_STD
    c = center.astype(np.float64).copy()
    has = c[:, 0] != -1
    c[has, 1] += 15.0 * scale[has]
    c -= 1.0
    return np.stack([c[:, 0] - side / 2, c[:, 1] - side / 2, side, side], axis=1)


def head_sizes(headboxes: np.ndarray) -> np.ndarray:
    """``(M,)`` head sizes from MATLAB-ordered head boxes ``(2, 2, M)`` (corner, x/y, person)."""
    corners = np.asarray(headboxes, np.float64).transpose(2, 0, 1)  # (M, 2 corners, 2)
    return HEAD_SIZE_FACTOR * np.linalg.norm(corners[:, 1] - corners[:, 0], axis=1)


def read_headboxes(path: str | Path, count: int) -> np.ndarray:
    """``(count,)`` head sizes from an MPII head-box file (``mpii_gt_val.mat``).

    Raises :class:`DataError` naming ``path`` when the file is missing or unreadable, lacks
    ``headboxes_src``, or holds a number of boxes other than ``count``.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: headbox file not found")
    try:
        mat = loadmat(str(path))
    except (OSError, ValueError, MatReadError, NotImplementedError) as exc:
        raise DataError(f"{path}: cannot read MATLAB .mat file: {exc}") from None
    if HEADBOX_KEY not in mat:
        raise DataError(f"{path}: no {HEADBOX_KEY!r} array (MPII's mpii_gt_val.mat has one)")
    boxes = np.asarray(mat[HEADBOX_KEY])
    if boxes.ndim != 3 or boxes.shape[:2] != (2, 2):
        raise DataError(f"{path}: {HEADBOX_KEY!r} has shape {boxes.shape}, expected (2, 2, N)")
    if boxes.shape[2] != count:
        raise DataError(
            f"{path}: {boxes.shape[2]} head boxes for {count} people in the annotation file"
        )
    return head_sizes(boxes)


@gc_paused()
def read_mpii(
    path: str | Path,
    *,
    skeleton: str | Path | Skeleton | None = None,
    images: str | Path | None = None,
    headbox_file: str | Path | None = None,
) -> PoseAnnotations:
    """Read an MPII JSON list; ``images`` is the image folder (sizes read when present);
    ``headbox_file`` (``mpii_gt_val.mat``) adds ``extras["head_size"] (M,)`` for PCKh."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: an MPII annotation file is a JSON list of people")
    skel = load_skeleton(skeleton or "mpii")
    k = skel.num_keypoints
    root = Path(images) if images is not None else path.parent
    for i, a in enumerate(data):  # cheap key checks; the arrays are built once below
        if not isinstance(a, dict) or not {"image", "joints", "center", "scale"} <= a.keys():
            missing = (
                "a dict"
                if not isinstance(a, dict)
                else sorted({"image", "joints", "center", "scale"} - a.keys())[0]
            )
            raise DataError(f"{path}: record #{i}: missing {missing!r}")
    try:
        kp = np.asarray([a["joints"] for a in data], np.float64).reshape(len(data), k, 2)
    except (TypeError, ValueError):
        for i, a in enumerate(data):
            shape = np.asarray(a["joints"], dtype=object).shape
            if shape != (k, 2):
                raise DataError(
                    f"{path}: record #{i} ({a['image']}): joints shape {shape}, expected ({k}, 2)"
                ) from None
        raise DataError(f"{path}: joints hold values that are not numbers") from None
    names: dict[str, int] = {}
    records: list[ImageRecord] = []
    for name in dict.fromkeys(str(a["image"]) for a in data):
        names[name] = len(records)
        full = root / name
        w, h = image_size(full) if full.exists() else (0, 0)
        records.append(ImageRecord(len(records) + 1, name, w, h))
    cols = empty_like_columns(len(data), k)
    vis = np.array([a.get("joints_vis", [1] * k) for a in data], np.float64).reshape(-1, k) > 0
    cols["keypoints"] = np.where(vis[..., None], kp, 0.0)
    cols["visibility"] = np.where(vis, 2, 0).astype(np.int8)
    cols["image_index"] = np.array([names[str(a["image"])] for a in data], np.int64)
    center = np.array([a["center"] for a in data], np.float64).reshape(-1, 2)
    scale = np.array([a["scale"] for a in data], np.float64).reshape(-1)
    cols["bbox"] = mpii_box(center, scale)
    extras = {} if headbox_file is None else {"head_size": read_headboxes(headbox_file, len(data))}
    ann = PoseAnnotations(  # centre/scale boxes are not clipped to the image (MMPose)
        skeleton=skel,
        images=records,
        root=root,
        source=str(path),
        extras=extras,
        clip_boxes=False,
        **cols,
    )
    ann.validate()
    return ann


__all__ = ["head_sizes", "mpii_box", "read_headboxes", "read_mpii"]
