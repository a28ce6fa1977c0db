"""One reader and one writer for every COCO-style keypoint file, parametrised by a :class:`Layout`.

Most MMPose datasets (COCO-WholeBody, Halpe, OCHuman, MHP, JHMDB, PoseTrack18, Human-Art,
ExLPose, the face, hand, animal and fashion sets) store COCO JSON (``images``, ``annotations``,
``categories``) and differ only in where the keypoints and the box of an instance live. A
:class:`Layout` names those places; :func:`read_coco_style` turns any of them into a
:class:`~posecli.data.annotations.PoseAnnotations` with whole-array numpy operations (one
``np.asarray`` per field over all instances), and :func:`write_coco_style` writes it back in the
same layout where the layout allows.

Conventions (MMPose 1.3.2):

* keypoints ``(M, K, 2)`` image pixels; visibility keeps the file's ``v`` (0, 1, 2), except the
  confidences ``0 < v < 1`` of COCO-WholeBody's face and hand points, which become 2
  (labelled; MMPose's whole-body dataset also counts every ``v > 0`` as visible, its hand and
  face datasets use ``min(1, v)`` as a fractional weight, which the table cannot hold);
* ``box = "center_scale"``: a square box of side ``scale · 200`` px around ``center`` (no
  clipping to the image, as MMPose uses it); ``box = "image"``: the whole image
  ``[0, 0, W, H]``; ``one_based``: keypoints and box corner minus 1 (MATLAB indices, JHMDB).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.converters.coco import coco_dict, load_json
from posecli.data.io import atomic_write, gc_paused
from posecli.data.metainfo import Skeleton, load_skeleton
from posecli.errors import DataError

PIXEL_STD = 200.0


@dataclass(frozen=True)
class Layout:
    """Where one dataset keeps the keypoints and box of an instance.

    Attributes:
        skeleton: default skeleton name.
        fields: annotation keys whose ``[x, y, v]*`` lists are concatenated, in keypoint order
            (COCO-WholeBody: ``keypoints, foot_kpts, face_kpts, lefthand_kpts, righthand_kpts``).
        sizes: keypoints per field (needed to split on writing when there are several fields).
        box: ``"bbox"``, ``"center_scale"``, ``"image"`` or the key of an ``[x, y, w, h]`` box
            (``"face_box"``).
        one_based: coordinates start at 1 (subtract 1 on reading, add it back on writing).
        extras: per-instance scalars kept as columns (``box_size``, ``head_size``).
        valid: annotation flag an instance needs (``face_valid``), besides a positive keypoint.
        hands: one instance per valid hand (``{left,right}hand_kpts`` and ``..._box``).
        clip: clip the boxes to the image in the dataset (MMPose clips ``bbox`` boxes only).
    """

    skeleton: str
    fields: tuple[str, ...] = ("keypoints",)
    sizes: tuple[int, ...] = ()
    box: str = "bbox"
    one_based: bool = False
    extras: tuple[str, ...] = ()
    valid: str | None = None
    hands: bool = False
    clip: bool = True

    @property
    def writable(self) -> bool:
        """Whether :func:`write_coco_style` can reproduce the layout (not derived instance sets)."""
        return not self.hands and self.valid is None


def _records(data: dict[str, Any], path: Path) -> list[ImageRecord]:
    try:
        return [
            ImageRecord(
                int(im["id"]),
                str(im["file_name"]),
                int(im.get("width") or 0),
                int(im.get("height") or 0),
                im.get("frame_idx") if isinstance(im.get("frame_idx"), int) else None,
                im.get("video"),
            )
            for im in data["images"]
        ]
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{path}: image entry without a valid {exc}") from None


def _stack(anns: list[dict[str, Any]], key: str, k: int, path: Path, what: str) -> np.ndarray:
    """``(M, k, 3)`` float64 from each annotation's flat or nested ``[x, y, v]`` list."""
    try:
        arr = np.asarray([a[key] for a in anns], np.float64)
        return arr.reshape(len(anns), k, 3)
    except (KeyError, TypeError, ValueError):
        pass
    for a in anns:  # find the culprit (error path only)
        values = np.asarray(a.get(key, []), dtype=object).reshape(-1)
        if key not in a or values.size != 3 * k:
            got = "no" if key not in a else f"{values.size}"
            raise DataError(
                f"{path}: annotation id={a.get('id')}: {key!r} has {got} values, expected "
                f"3×{k}={3 * k} for {what}"
            ) from None
    raise DataError(f"{path}: {key!r} holds values that are not numbers") from None


def _expand_hands(anns: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One annotation per valid hand (``{side}hand_valid`` and a positive value), MMPose's order."""
    out: list[dict[str, Any]] = []
    for a in anns:
        for side in ("left", "right"):
            kpts = a.get(f"{side}hand_kpts")
            if a.get(f"{side}hand_valid") and kpts and max(kpts) > 0:
                out.append(
                    {
                        "id": len(out),
                        "image_id": a["image_id"],
                        "category_id": a.get("category_id", 1),
                        "iscrowd": a.get("iscrowd", 0),
                        "keypoints": kpts,
                        "bbox": a[f"{side}hand_box"],
                        "hand_side": 0 if side == "left" else 1,
                    }
                )
    return out


@gc_paused()
def read_coco_style(
    path: str | Path,
    layout: Layout,
    *,
    skeleton: str | Path | Skeleton | None = None,
    images: str | Path | None = None,
) -> PoseAnnotations:
    """Read a COCO-style keypoint file laid out as ``layout``; a folder reads every ``*.json``
    in it (PoseTrack18's one file per video) into one table.

    Args:
        path: the JSON file (or a folder of them).
        layout: where keypoints and boxes are.
        skeleton: skeleton name/file (default ``layout.skeleton``).
        images: image folder (default: the JSON's folder, or its ``images/`` sibling).
    """
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.json"))
        if not files:
            raise DataError(f"{path}: folder holds no .json annotation files")
        parts = [read_coco_style(f, layout, skeleton=skeleton, images=images) for f in files]
        return concat_annotations(parts, source=str(path))
    data = load_json(path)
    if not isinstance(data, dict) or "annotations" not in data or "images" not in data:
        raise DataError(f"{path}: not a COCO-style file (needs 'images' and 'annotations')")
    skel = load_skeleton(skeleton or layout.skeleton)
    k = skel.num_keypoints
    recs = _records(data, path)
    index = {r.id: i for i, r in enumerate(recs)}
    anns = [a for a in data["annotations"] if isinstance(a, dict)]
    if layout.hands:
        anns = _expand_hands(anns)
    if layout.valid is not None:
        field = layout.fields[0]
        anns = [a for a in anns if a.get(layout.valid) and max(a.get(field) or [0]) > 0]
    sizes = layout.sizes or (k,)
    if sum(sizes) != k:
        raise DataError(f"{path}: layout fields hold {sum(sizes)} keypoints, skeleton {k}")
    what = f"skeleton {skel.name!r}"
    m = len(anns)
    cols = empty_like_columns(m, k)
    unknown = [a.get("id") for a in anns if a.get("image_id") not in index]
    if unknown:
        raise DataError(f"{path}: annotation id={unknown[0]}: unknown image_id")
    if m:
        kp = np.concatenate(
            [_stack(anns, f, n, path, what) for f, n in zip(layout.fields, sizes, strict=True)],
            axis=1,
        )
        v = np.nan_to_num(kp[..., 2], nan=0.0)
        v = np.where((v > 0) & (v < 1), 2.0, v)  # WholeBody face/hand confidences: labelled
        # out-of-range values are kept (clipped to int8) so that validation reports them
        cols["visibility"] = np.clip(v, -1, 127).astype(np.int8)
        cols["keypoints"] = kp[..., :2] - (1.0 if layout.one_based else 0.0)
        cols["image_index"] = np.fromiter((index[a["image_id"]] for a in anns), np.int64, m)
        cols["ids"] = np.fromiter((a.get("id", i + 1) for i, a in enumerate(anns)), np.int64, m)
        cols["category_id"] = np.fromiter((a.get("category_id", 1) for a in anns), np.int64, m)
        cols["iscrowd"] = np.fromiter((bool(a.get("iscrowd", 0)) for a in anns), np.int8, m)
        cols["area"] = np.fromiter((a.get("area") or math.nan for a in anns), np.float64, m).astype(
            np.float64
        )
        cols["score"] = np.fromiter((a.get("score", 1.0) for a in anns), np.float32, m)
        cols["track_id"] = np.fromiter((a.get("track_id", -1) for a in anns), np.int64, m)
        cols["bbox"] = _boxes(anns, layout, recs, cols["image_index"], path)
    extras = _extras(anns, layout, m)
    cats = [dict(c) for c in data.get("categories", []) if isinstance(c, dict)]
    ann = PoseAnnotations(
        skeleton=skel,
        images=recs,
        root=Path(images) if images is not None else _default_root(path),
        source=str(path),
        categories=cats,
        extras=extras,
        clip_boxes=layout.clip and layout.box not in ("center_scale", "image"),
        **cols,  # type: ignore[arg-type]
    )
    lab = ann.visibility > 0
    ann.keypoints[~lab] = 0.0
    ann.validate()
    ann.with_boxes_from_keypoints()
    return ann


def _default_root(path: Path) -> Path:
    sibling = path.parent / "images"
    return sibling if sibling.is_dir() else path.parent


def _boxes(
    anns: list[dict[str, Any]],
    layout: Layout,
    recs: list[ImageRecord],
    image_index: np.ndarray,
    path: Path,
) -> np.ndarray:
    """``(M, 4)`` boxes ``x, y, w, h`` (NaN where the file has none)."""
    m = len(anns)
    if layout.box == "image":
        wh = np.array([[r.width, r.height] for r in recs], np.float64).reshape(-1, 2)
        return np.concatenate([np.zeros((m, 2)), wh[image_index]], axis=1)
    if layout.box == "center_scale":
        try:
            center = np.asarray([a["center"] for a in anns], np.float64).reshape(m, 2)
            scale = np.asarray([a["scale"] for a in anns], np.float64).reshape(m, -1)[:, 0]
        except (KeyError, TypeError, ValueError) as exc:
            raise DataError(
                f"{path}: an annotation lacks a valid 'center'/'scale': {exc}"
            ) from None
        side = scale * PIXEL_STD
        return np.stack([center[:, 0] - side / 2, center[:, 1] - side / 2, side, side], axis=1)
    key = layout.box
    boxes = np.full((m, 4), np.nan)
    has = np.fromiter((a.get(key) is not None for a in anns), bool, m)
    if has.any():
        try:
            boxes[has] = np.asarray([a[key] for a in anns if a.get(key) is not None], np.float64)
        except ValueError:
            bad = next(a for a in anns if a.get(key) is not None and len(a[key]) != 4)
            raise DataError(
                f"{path}: annotation id={bad.get('id')}: {key} needs 4 numbers"
            ) from None
    if layout.one_based:
        boxes[:, :2] -= 1.0
    return boxes


def _extras(anns: list[dict[str, Any]], layout: Layout, m: int) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    if layout.box == "center_scale" and m:
        out["center"] = np.asarray([a["center"] for a in anns], np.float64).reshape(m, 2)
        out["scale"] = np.asarray([a["scale"] for a in anns], np.float64).reshape(m, -1)[:, 0]
    for key in layout.extras:
        values = [a.get(key) for a in anns]
        if any(v is not None for v in values):
            out[key] = np.array([math.nan if v is None else v for v in values], np.float64)
    if layout.hands and m:
        out["hand_side"] = np.array([a["hand_side"] for a in anns], np.float64)
    return out


def concat_annotations(parts: Sequence[PoseAnnotations], source: str = "") -> PoseAnnotations:
    """One table from several of the same skeleton (image indices shifted, extras joined)."""
    if not parts:
        raise DataError(f"{source}: nothing to concatenate")
    first = parts[0]
    offsets = np.cumsum([0] + [len(p.images) for p in parts[:-1]])
    keys = set.intersection(*(set(p.extras) for p in parts))

    def cat(attr: str) -> np.ndarray:
        return np.concatenate([getattr(p, attr) for p in parts], axis=0)

    return replace(
        first,
        images=[r for p in parts for r in p.images],
        source=source or first.source,
        image_index=np.concatenate(
            [p.image_index + o for p, o in zip(parts, offsets, strict=True)]
        ),
        keypoints=cat("keypoints"),
        visibility=cat("visibility"),
        bbox=cat("bbox"),
        ids=cat("ids"),
        category_id=cat("category_id"),
        iscrowd=cat("iscrowd"),
        area=cat("area"),
        score=cat("score"),
        track_id=cat("track_id"),
        extras={k: np.concatenate([p.extras[k] for p in parts]) for k in keys},
    )


def coco_style_dict(ann: PoseAnnotations, layout: Layout) -> dict[str, Any]:
    """``ann`` as a dict in ``layout`` (fields split, centre/scale and extras written back)."""
    out = coco_dict(ann)
    if not layout.writable:
        raise DataError(f"layout of {layout.skeleton!r} cannot be written back; write 'coco'")
    sizes = layout.sizes or (ann.num_keypoints,)
    bounds = np.cumsum((0, *sizes)) * 3
    shift = 1.0 if layout.one_based else 0.0
    written = {"scale", *layout.extras}
    for i, a in enumerate(out["annotations"]):
        flat = np.asarray(a["keypoints"], np.float64).reshape(-1, 3)
        if shift:
            lab = flat[:, 2] > 0
            flat[lab, :2] += shift
            a["bbox"] = [a["bbox"][0] + shift, a["bbox"][1] + shift, *a["bbox"][2:]]
        flat_list = [_num(x) for x in flat.reshape(-1).tolist()]
        a.pop("keypoints")
        for f, lo, hi in zip(layout.fields, bounds[:-1], bounds[1:], strict=True):
            a[f] = flat_list[lo:hi]
        for key, col in ann.extras.items():
            value = col[i]
            if key == "center":
                a["center"] = [float(x) for x in value]
            elif key in written and np.isfinite(value):
                a[key] = float(value)
    return out


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def write_coco_style(
    ann: PoseAnnotations, out: str | Path, layout: Layout, *, force: bool = False
) -> list[Path]:
    """Write ``ann`` as one JSON file in ``layout`` (atomically; ``force`` to overwrite)."""
    out = Path(out)
    data = coco_style_dict(ann, layout)
    with atomic_write(out, force=force) as fh:
        json.dump(data, fh)
    return [out]


__all__ = [
    "PIXEL_STD",
    "Layout",
    "coco_style_dict",
    "concat_annotations",
    "read_coco_style",
    "write_coco_style",
]
