"""COCO keypoint JSON: reading (also CrowdPose / AIC / OCHuman, which share the layout) and writing."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.io import atomic_write, gc_paused
from posecli.data.metainfo import Skeleton, infer_skeleton, load_skeleton, match_skeleton
from posecli.errors import DataError


def _parse_json(raw: bytes) -> Any:
    """Parse JSON bytes with orjson when installed (about 3x faster than ``json``), else ``json``."""
    try:
        import orjson
    except ImportError:
        return json.loads(raw)
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # orjson rejects NaN/Infinity, which some annotation tools write; ``json`` reads them.
        return json.loads(raw)


@gc_paused()
def load_json(path: str | Path) -> Any:
    """One annotation file parsed (the garbage collector paused, see :func:`gc_paused`)."""
    path = Path(path)
    try:
        return _parse_json(path.read_bytes())
    except FileNotFoundError:
        raise DataError(f"{path}: annotation file not found") from None
    except (OSError, ValueError) as exc:  # JSON and Unicode decode errors are ValueErrors
        raise DataError(f"{path}: cannot read JSON: {exc}") from None


def resolve_skeleton(
    skeleton: str | Path | Skeleton | None,
    names: list[str] | None,
    links: list | None,
    source: str,
) -> Skeleton:
    """The given skeleton, else the built-in one with these names, else one inferred (warning)."""
    if skeleton is not None:
        return load_skeleton(skeleton)
    if names:
        found = match_skeleton(names)
        if found is not None:
            return found
        return infer_skeleton(names, links or [], name=Path(source).stem, source=source)
    raise DataError(f"{source}: no keypoint names in the file; pass --skeleton NAME|FILE")


@gc_paused()
def read_coco(
    path: str | Path,
    *,
    skeleton: str | Path | Skeleton | None = None,
    images: str | Path | None = None,
    category_id: int | None = None,
) -> PoseAnnotations:
    """Read a COCO keypoint file (one keypoint category).

    Args:
        path: the JSON file.
        skeleton: skeleton name/file; default: the built-in skeleton matching the category's
            keypoint names, else one inferred from them (with a warning).
        images: image folder (default: the JSON's folder, or its ``images/`` sibling if present).
        category_id: keep this category (default: the first category with keypoints).
    """
    path = Path(path)
    data = load_json(path)
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise DataError(f"{path}: not a COCO annotation file (needs 'images' and 'annotations')")
    cats = [c for c in data.get("categories", []) if c.get("keypoints")]
    keep: set[int] | None = None
    if category_id is None and cats:
        category_id = int(cats[0]["id"])
        # every category with the first one's keypoints (AP-10K: one per species)
        keep = {int(c["id"]) for c in cats if list(c["keypoints"]) == list(cats[0]["keypoints"])}
    cat = next((c for c in cats if int(c["id"]) == category_id), None)
    names = list(cat["keypoints"]) if cat else None
    links = [(a - 1, b - 1) for a, b in cat.get("skeleton", [])] if cat else None
    skel = resolve_skeleton(skeleton, names, links, str(path))
    k = skel.num_keypoints
    recs = [
        ImageRecord(
            int(im["id"]),
            str(im["file_name"]),
            int(im.get("width") or 0),
            int(im.get("height") or 0),
            im.get("frame_idx"),
            im.get("video"),
        )
        for im in data["images"]
    ]
    index = {r.id: i for i, r in enumerate(recs)}
    anns = [
        a
        for a in data["annotations"]
        if category_id is None
        or int(a.get("category_id", 1)) in (keep if keep is not None else {category_id})
    ]
    no_kp = [a.get("id") for a in anns if "keypoints" not in a]
    if no_kp and cats:
        raise DataError(
            f"{path}: annotation id={no_kp[0]} has no 'keypoints' "
            f"({len(no_kp)} of the category's {len(anns)} annotations)"
        )
    anns = [a for a in anns if "keypoints" in a]
    cols = empty_like_columns(len(anns), k)
    for a in anns:
        if len(a["keypoints"]) != 3 * k:
            raise DataError(
                f"{path}: annotation id={a.get('id')}: has {len(a['keypoints'])} keypoint values, "
                f"expected 3×{k}={3 * k} for skeleton {skel.name!r}"
            )
        if a.get("image_id") not in index:
            raise DataError(
                f"{path}: annotation id={a.get('id')}: unknown image_id {a.get('image_id')}"
            )
    if anns:
        try:
            kp = np.array([a["keypoints"] for a in anns], np.float64).reshape(len(anns), k, 3)
        except (TypeError, ValueError) as exc:
            raise DataError(f"{path}: keypoints are not numbers: {exc}") from None
        cols["keypoints"] = kp[..., :2].copy()
        v = kp[..., 2]
        v = np.where(np.isfinite(v), v, 0)
        # out-of-range values are kept (clipped to int8) so that validation reports them
        cols["visibility"] = np.clip(v, -1, 127).astype(np.int8)
        cols["image_index"] = np.array([index[a["image_id"]] for a in anns], np.int64)
        cols["ids"] = np.array([a.get("id", i + 1) for i, a in enumerate(anns)], np.int64)
        cols["category_id"] = np.array([a.get("category_id", 1) for a in anns], np.int64)
        cols["iscrowd"] = np.array([a.get("iscrowd", 0) for a in anns], np.int8)
        cols["area"] = np.array([a.get("area", math.nan) or math.nan for a in anns], np.float64)
        cols["score"] = np.array([a.get("score", 1.0) for a in anns], np.float32)
        cols["track_id"] = np.array([a.get("track_id", -1) for a in anns], np.int64)
        boxes = [a.get("bbox") for a in anns]
        for i, b in enumerate(boxes):
            if b is not None:
                if len(b) != 4:
                    raise DataError(
                        f"{path}: annotation id={anns[i].get('id')}: bbox needs 4 numbers"
                    )
                cols["bbox"][i] = b
    root = Path(images) if images is not None else _default_root(path)
    ann = PoseAnnotations(
        skeleton=skel,
        images=recs,
        root=root,
        source=str(path),
        categories=[dict(cat)] if cat else [],
        **cols,
    )
    ann.validate()
    ann.with_boxes_from_keypoints()
    return ann


def _default_root(path: Path) -> Path:
    """Where a COCO file's images are when no folder is given: ``images/`` beside it, the
    split folder of the COCO layout (``annotations/person_keypoints_val2017.json`` →
    ``val2017/``), else the file's own folder."""
    sibling = path.parent / "images"
    if sibling.is_dir():
        return sibling
    split = path.stem.rsplit("_", 1)[-1]
    if path.parent.name == "annotations" and (path.parent.parent / split).is_dir():
        return path.parent.parent / split
    return path.parent


def read_detections(
    path: str | Path, category_id: int = 1
) -> dict[int, list[tuple[list[float], float]]]:
    """A COCO detection-results file as ``image_id → [(bbox xywh, score), ...]``."""
    data = load_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: detection results must be a JSON list of boxes")
    out: dict[int, list[tuple[list[float], float]]] = {}
    for i, det in enumerate(data):
        try:
            if int(det.get("category_id", 1)) != category_id:
                continue
            out.setdefault(int(det["image_id"]), []).append(
                ([float(x) for x in det["bbox"]], float(det.get("score", 1.0)))
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(f"{path}: detection #{i}: {exc}") from None
    return out


def coco_dict(ann: PoseAnnotations) -> dict[str, Any]:
    """The annotations as a COCO dict; computes missing ``area`` and ``num_keypoints``."""
    ann.fill_missing()
    skel = ann.skeleton
    cat = (
        dict(ann.categories[0])
        if ann.categories
        else {"id": 1, "name": skel.name, "supercategory": skel.name}
    )
    cat["keypoints"] = list(skel.keypoint_names)
    cat["skeleton"] = [[a + 1, b + 1] for a, b in skel.links]
    images = []
    for r in ann.images:
        im: dict[str, Any] = {
            "id": r.id,
            "file_name": r.file_name,
            "width": r.width,
            "height": r.height,
        }
        if r.video is not None:
            im["video"] = r.video
            im["frame_idx"] = r.frame_idx
        images.append(im)
    kp = np.concatenate([ann.keypoints, ann.visibility[..., None].astype(np.float64)], axis=-1)
    kp = kp.reshape(ann.num_instances, -1)
    num = (ann.visibility > 0).sum(axis=1)
    annotations = []
    for i in range(ann.num_instances):
        a: dict[str, Any] = {
            "id": int(ann.ids[i]),
            "image_id": ann.images[int(ann.image_index[i])].id,
            "category_id": int(ann.category_id[i]),
            "keypoints": [_num(x) for x in kp[i].tolist()],
            "num_keypoints": int(num[i]),
            "bbox": [_num(x) for x in ann.bbox[i].tolist()],
            "area": _num(float(ann.area[i])),
            "iscrowd": int(ann.iscrowd[i]),
        }
        if ann.track_id[i] >= 0:
            a["track_id"] = int(ann.track_id[i])
        if ann.score[i] != 1.0:
            a["score"] = float(ann.score[i])
        annotations.append(a)
    out: dict[str, Any] = {
        "info": {"description": f"written by posecli from {ann.source}"},
        "images": images,
        "annotations": annotations,
        "categories": [cat, *_more_categories(ann, cat)],
    }
    if ann.track_names:
        out["tracks"] = [{"id": i, "name": n} for i, n in enumerate(ann.track_names)]
    return out


def _more_categories(ann: PoseAnnotations, first: dict[str, Any]) -> list[dict[str, Any]]:
    """Entries for the instances' other category ids (same keypoints as ``first``)."""
    known = {int(c["id"]): c for c in ann.categories}
    out = []
    for cid in sorted(set(ann.category_id.tolist()) - {int(first["id"])}):
        c = dict(known.get(cid, {"id": cid, "name": f"{first.get('name', 'category')}_{cid}"}))
        c.update(keypoints=first["keypoints"], skeleton=first["skeleton"])
        out.append(c)
    return out


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def write_coco(ann: PoseAnnotations, out: str | Path, *, force: bool = False) -> list[Path]:
    """Write ``ann`` as one COCO JSON file (atomically; refuses to overwrite without ``force``)."""
    out = Path(out)
    with atomic_write(out, force=force) as fh:
        json.dump(coco_dict(ann), fh)
    return [out]


__all__ = [
    "coco_dict",
    "load_json",
    "read_coco",
    "read_detections",
    "resolve_skeleton",
    "write_coco",
]
