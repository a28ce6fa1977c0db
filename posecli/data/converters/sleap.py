"""SLEAP ``.slp`` label files (HDF5, read with h5py): user instances, tracks, video frames.

Frames stay in their videos: each image record gets ``video`` + ``frame_idx`` and the file
name ``<video stem>/<frame:06d>.png`` where ``convert-dataset --images`` would extract it.
Coordinates are taken as stored. Predicted instances are skipped unless ``predicted=True``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.io import video_size
from posecli.data.metainfo import Skeleton, load_skeleton, skeleton_from_dict
from posecli.errors import DataError


def _skeleton_from_slp(meta: dict[str, Any], source: str) -> Skeleton:
    """The first skeleton of the file: node order, body edges, symmetries as swaps."""
    names = [n["name"] for n in meta["nodes"]]
    skel = meta["skeletons"][0]
    order = [n["id"] for n in skel["nodes"]]
    if not all(isinstance(i, int) for i in order):
        raise DataError(f"{source}: unsupported skeleton node encoding")
    pos = {g: i for i, g in enumerate(order)}
    edge_types: dict[int, int] = {}  # py/id → edge type (1 body, 2 symmetry)
    body, sym = [], []
    for link in skel["links"]:
        t = link.get("type", {})
        if "py/reduce" in t:
            kind = int(t["py/reduce"][1]["py/tuple"][0])
            edge_types[len(edge_types) + 1] = kind
        elif "py/id" in t:
            kind = edge_types.get(int(t["py/id"]), 1)
        else:
            kind = 1
        pair = (pos[link["source"]], pos[link["target"]])
        (body if kind == 1 else sym).append(pair)
    node_names = [names[g] for g in order]
    swap = {a: b for a, b in sym} | {b: a for a, b in sym}
    data = {
        "name": str(skel.get("graph", {}).get("name", Path(source).stem)).replace("-", "_").lower(),
        "keypoints": [
            {"name": n, **({"swap": node_names[swap[i]]} if i in swap else {})}
            for i, n in enumerate(node_names)
        ],
        "links": [{"link": [a, b]} for a, b in body],
    }
    return skeleton_from_dict(data, source=source)


def _extent(pts: np.ndarray) -> np.ndarray:
    """xywh box of the visible points of one instance (NaN when none is)."""
    xy = np.stack([pts["x"], pts["y"]], axis=-1).astype(np.float64)
    ok = pts["visible"].astype(bool) & np.isfinite(xy).all(axis=-1)
    if not ok.any():
        return np.full(4, np.nan)
    lo, hi = xy[ok].min(0), xy[ok].max(0)
    return np.concatenate([lo, hi - lo])


def read_sleap(
    path: str | Path,
    *,
    skeleton: str | Path | Skeleton | None = None,
    images: str | Path | None = None,
    predicted: bool = False,
) -> PoseAnnotations:
    """Read a SLEAP ``.slp`` file.

    Args:
        path: the ``.slp`` file.
        skeleton: override the file's own skeleton (same number of nodes).
        images: folder the videos (and extracted frames) are relative to; default the file's folder.
        predicted: also keep predicted instances (with their scores).
    """
    import h5py

    path = Path(path)
    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: SLEAP file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read SLEAP file (HDF5): {exc}") from None
    with f:
        try:
            meta = json.loads(f["metadata"].attrs["json"])
            frames = f["frames"][:]
            insts = f["instances"][:]
            points = f["points"][:]
            pred_points = f["pred_points"][:] if "pred_points" in f else points[:0]
            videos = [json.loads(v) for v in f["videos_json"][:]]
            tracks = [json.loads(t) for t in f["tracks_json"][:]] if "tracks_json" in f else []
        except KeyError as exc:
            raise DataError(f"{path}: not a SLEAP labels file (missing {exc})") from None
    file_skel = _skeleton_from_slp(meta, str(path))
    skel = load_skeleton(skeleton) if skeleton is not None else file_skel
    # A skeleton naming some of the file's nodes takes those, by name; the boxes stay the
    # animals' (all labelled points), so a one-point anchor skeleton keeps real boxes.
    select = None
    if skeleton is not None and skel.keypoint_names != file_skel.keypoint_names:
        have = list(file_skel.keypoint_names)
        missing = [n for n in skel.keypoint_names if n not in have]
        if missing and len(skel.keypoint_names) != len(have):
            raise DataError(
                f"{path}: skeleton {skel.name!r} names nodes the file lacks: "
                f"{', '.join(missing[:6])} (the file has: {', '.join(have)})"
            )
        if not missing:
            select = np.array([have.index(n) for n in skel.keypoint_names], np.int64)
    root = Path(images) if images is not None else path.parent
    vid_names, vid_sizes = [], []
    for v in videos:
        name = str(v.get("backend", {}).get("filename", ""))
        rel = Path(name)
        if rel.is_absolute() and not rel.exists() and (path.parent / rel.name).exists():
            rel = Path(rel.name)
        vid_names.append(str(rel))
        full = rel if rel.is_absolute() else root / rel
        vid_sizes.append(video_size(full) if full.exists() else None)
    records = []
    frame_row = {}
    for i, fr in enumerate(frames):
        vi, fi = int(fr["video"]), int(fr["frame_idx"])
        size = vid_sizes[vi] or (0, 0)
        stem = Path(vid_names[vi]).stem
        records.append(
            ImageRecord(i + 1, f"{stem}/{fi:06d}.png", size[0], size[1], fi, vid_names[vi])
        )
        frame_row[int(fr["frame_id"])] = i
    keep = insts["instance_type"] == 0
    if predicted:
        keep |= insts["instance_type"] == 1
    insts = insts[keep]
    k = skel.num_keypoints
    cols = empty_like_columns(len(insts), k)
    for j, inst in enumerate(insts):
        src = points if inst["instance_type"] == 0 else pred_points
        pts = src[int(inst["point_id_start"]) : int(inst["point_id_end"])]
        if select is not None and len(pts) == len(file_skel.keypoint_names):
            cols["bbox"][j] = _extent(pts)  # the animal's box: all its labelled points
            pts = pts[select]
        if len(pts) != k:
            raise DataError(
                f"{path}: instance {int(inst['instance_id'])}: {len(pts)} points, skeleton has {k}"
            )
        xy = np.stack([pts["x"], pts["y"]], axis=-1).astype(np.float64)
        vis = pts["visible"].astype(bool) & np.isfinite(xy).all(axis=-1)
        cols["keypoints"][j] = np.where(vis[:, None], xy, 0.0)
        cols["visibility"][j] = np.where(vis, 2, 0)
        cols["image_index"][j] = frame_row[int(inst["frame_id"])]
        cols["track_id"][j] = int(inst["track"])
        if inst["instance_type"] == 1 and np.isfinite(inst["score"]):
            cols["score"][j] = float(inst["score"])
    cols["ids"] = np.arange(1, len(insts) + 1, dtype=np.int64)
    ann = PoseAnnotations(
        skeleton=skel,
        images=records,
        root=root,
        source=str(path),
        track_names=[str(t[1]) for t in tracks],
        **cols,
    )
    ann.validate()
    ann.with_boxes_from_keypoints()
    return ann


__all__ = ["read_sleap"]
