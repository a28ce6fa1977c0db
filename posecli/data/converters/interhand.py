"""InterHand2.6M in 2D: the ``*_data.json`` (COCO-style images and boxes) projected through its
``*_camera.json`` and ``*_joint_3d.json`` (MMPose ``InterHand2DDoubleDataset``, GT root depth).

Per image ``(capture, camera, frame_idx)``: world joints ``(42, 3)`` → camera
``R · (X - campos)`` → pixels ``x = X/(Z + 1e-8)·f + c``. Keypoints 0–20 are the right hand
(wrist 20), 21–41 the left (wrist 41); a hand whose wrist is invalid is invalid entirely.
``hand_type`` (right 0 / left 1 / interacting 2) is kept as an extra column.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.converters.coco import load_json
from posecli.data.metainfo import Skeleton, load_skeleton
from posecli.errors import DataError

HAND_TYPES = {"right": 0, "left": 1, "interacting": 2}


def _sibling(path: Path, suffix: str) -> Path:
    stem = path.name[: -len("_data.json")] if path.name.endswith("_data.json") else path.stem
    return path.with_name(f"{stem}_{suffix}.json")


def read_interhand2d(
    path: str | Path,
    *,
    skeleton: str | Path | Skeleton | None = None,
    images: str | Path | None = None,
    camera_file: str | Path | None = None,
    joint_file: str | Path | None = None,
) -> PoseAnnotations:
    """Read InterHand2.6M 2D annotations (camera and joint files default to the data file's
    ``*_camera.json`` / ``*_joint_3d.json`` siblings)."""
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict) or "images" not in data or "annotations" not in data:
        raise DataError(f"{path}: not an InterHand2.6M data file (needs 'images', 'annotations')")
    cam_path = Path(camera_file) if camera_file else _sibling(path, "camera")
    joint_path = Path(joint_file) if joint_file else _sibling(path, "joint_3d")
    cameras, joints = load_json(cam_path), load_json(joint_path)
    skel = load_skeleton(skeleton or "interhand2d_double")
    k = skel.num_keypoints
    recs = [
        ImageRecord(int(im["id"]), str(im["file_name"]), int(im["width"]), int(im["height"]))
        for im in data["images"]
    ]
    by_id = {int(im["id"]): im for im in data["images"]}
    index = {r.id: i for i, r in enumerate(recs)}
    anns = data["annotations"]
    m = len(anns)
    rot, pos, focal, princ, world = [], [], [], [], []
    for a in anns:
        im = by_id.get(int(a["image_id"]))
        if im is None:
            raise DataError(f"{path}: annotation id={a.get('id')}: unknown image_id")
        cap, cam, frame = str(im["capture"]), str(im["camera"]), str(im["frame_idx"])
        try:
            c = cameras[cap]
            rot.append(c["camrot"][cam])
            pos.append(c["campos"][cam])
            focal.append(c["focal"][cam])
            princ.append(c["princpt"][cam])
            world.append(joints[cap][frame]["world_coord"])
        except KeyError as exc:
            raise DataError(
                f"{path}: image {im['file_name']}: no camera/joints for capture {cap}, "
                f"camera {cam}, frame {frame} ({exc} missing)"
            ) from None
    cols = empty_like_columns(m, k)
    if m:
        r = np.asarray(rot, np.float64).reshape(m, 3, 3)
        t = np.asarray(pos, np.float64).reshape(m, 1, 3)
        xw = np.asarray(world, np.float64).reshape(m, k, 3)
        xc = np.einsum("mij,mkj->mki", r, xw - t)
        f = np.asarray(focal, np.float64).reshape(m, 1, 2)
        c = np.asarray(princ, np.float64).reshape(m, 1, 2)
        uv = xc[..., :2] / (xc[..., 2:3] + 1e-8) * f + c
        valid = np.asarray([a["joint_valid"] for a in anns], np.float64).reshape(m, k) > 0
        half = k // 2
        valid[:, :half] &= valid[:, half - 1 : half]
        valid[:, half:] &= valid[:, k - 1 : k]
        cols["keypoints"] = np.where(valid[..., None], uv, 0.0)
        cols["visibility"] = np.where(valid, 2, 0).astype(np.int8)
        cols["image_index"] = np.array([index[int(a["image_id"])] for a in anns], np.int64)
        cols["ids"] = np.array([a["id"] for a in anns], np.int64)
        cols["bbox"] = np.asarray([a["bbox"] for a in anns], np.float64).reshape(m, 4)
    hand = np.array([HAND_TYPES.get(str(a.get("hand_type")), -1) for a in anns], np.float64)
    ann = PoseAnnotations(
        skeleton=skel,
        images=recs,
        root=Path(images) if images is not None else path.parent,
        source=str(path),
        extras={"hand_type": hand} if m else {},
        clip_boxes=False,
        **cols,  # type: ignore[arg-type]
    )
    ann.validate()
    return ann


__all__ = ["HAND_TYPES", "read_interhand2d"]
