"""``check-dataset``: validate a dataset and count what it holds."""

from __future__ import annotations

import warnings
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.io import read_image
from posecli.errors import DataError


def check_dataset(
    src: str | Path,
    fmt: str,
    *,
    images: str | Path | None = None,
    skeleton: str | None = None,
    decode: bool = True,
    max_listed: int = 5,
) -> dict[str, Any]:
    """Read ``src`` as ``fmt`` and check it: images exist and decode (and match the recorded
    size), labelled keypoints lie inside their image, boxes are non-empty, visibility values
    are 0/1/2, ids are unique, the skeleton is consistent. Returns a report dict with
    ``counts``, ``errors`` and ``warnings`` (lists of one-line messages) and ``ok``.
    """
    from posecli.data.converters import get_format

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ann = get_format(fmt).read(src, skeleton=skeleton, images=images)
    errors: list[str] = []
    warns: list[str] = [str(w.message) for w in caught]
    skel = ann.skeleton
    k = skel.num_keypoints

    def listed(kind: list[str], title: str, items: list[str]) -> None:
        if items:
            more = f" (+{len(items) - max_listed} more)" if len(items) > max_listed else ""
            kind.append(f"{title}: {len(items)}: " + "; ".join(items[:max_listed]) + more)

    missing, corrupt, size_mismatch = [], [], []
    sizes = np.array([[r.width, r.height] for r in ann.images], np.float64).reshape(-1, 2)
    for i, rec in enumerate(ann.images):
        path, frame = ann.image_source(i)
        if frame is None and not path.exists():
            missing.append(str(path))
            continue
        if not decode:
            continue
        try:
            img = read_image(path, frame)
        except DataError as exc:
            corrupt.append(str(exc))
            continue
        h, w = img.shape[:2]
        if (rec.width, rec.height) != (0, 0) and (rec.width, rec.height) != (w, h):
            size_mismatch.append(f"{rec.file_name} is {w}×{h}, annotated {rec.width}×{rec.height}")
        sizes[i] = (w, h)
    listed(errors, "missing images", missing)
    listed(errors, "unreadable images", corrupt)
    listed(warns, "image size differs from the annotation", size_mismatch)

    lab = ann.visibility > 0
    wh = sizes[ann.image_index] if ann.num_instances else np.zeros((0, 2))
    known = (wh > 0).all(axis=1)
    kp = ann.keypoints
    outside = (
        lab
        & known[:, None]
        & (
            (kp[..., 0] < -0.5)
            | (kp[..., 1] < -0.5)
            | (kp[..., 0] > wh[:, None, 0] - 0.5)
            | (kp[..., 1] > wh[:, None, 1] - 0.5)
        )
    )
    out_items = [
        f"{ann.images[ann.image_index[i]].file_name} id={ann.ids[i]} {skel.keypoint_names[j]} at "
        f"({kp[i, j, 0]:.1f}, {kp[i, j, 1]:.1f})"
        for i, j in np.argwhere(outside)
    ]
    listed(errors, "labelled keypoints outside their image", out_items)
    bad_v = ~np.isin(ann.visibility, (0, 1, 2))
    listed(
        errors,
        "visibility values other than 0/1/2",
        [f"id={ann.ids[i]}" for i in np.flatnonzero(bad_v.any(axis=1))],
    )
    empty = ~np.isfinite(ann.bbox).all(axis=1) | (ann.bbox[:, 2] <= 0) | (ann.bbox[:, 3] <= 0)
    labelled_inst = lab.any(axis=1)
    listed(
        errors,
        "empty boxes on labelled instances",
        [
            f"{ann.images[ann.image_index[i]].file_name} id={ann.ids[i]}"
            for i in np.flatnonzero(empty & labelled_inst)
        ],
    )
    dup_inst = [f"id={v}" for v, c in Counter(ann.ids.tolist()).items() if c > 1]
    dup_img = [f"id={v}" for v, c in Counter(r.id for r in ann.images).items() if c > 1]
    dup_name = [
        n for n, c in Counter((r.file_name, r.frame_idx) for r in ann.images).items() if c > 1
    ]
    listed(errors, "duplicate instance ids", dup_inst)
    listed(errors, "duplicate image ids", dup_img)
    listed(errors, "duplicate image files", [str(n[0]) for n in dup_name])
    if fmt in ("coco", "crowdpose", "aic"):
        no_area = int((~np.isfinite(ann.area) | (ann.area <= 0)).sum())
        if no_area:
            warns.append(
                f"{no_area} instances have no area: COCO AP would be 0 for them "
                "(convert-dataset --to coco computes it)"
            )
    if len(skel.links) == 0:
        warns.append(f"skeleton {skel.name!r} has no links (nothing to draw between keypoints)")
    if all(i == j for i, j in enumerate(skel.flip_indices)):
        warns.append(
            f"skeleton {skel.name!r} has no left/right swaps (flip augmentation only mirrors)"
        )
    unlabelled_imgs = int(
        (np.bincount(ann.image_index[labelled_inst], minlength=len(ann.images)) == 0).sum()
    )
    per_kp = lab.sum(axis=0)
    counts = {
        "images": len(ann.images),
        "images_without_labels": unlabelled_imgs,
        "instances": ann.num_instances,
        "labelled_instances": int(labelled_inst.sum()),
        "keypoints": k,
        "labelled_keypoints": int(lab.sum()),
        "unlabelled_keypoints": int((~lab).sum()),
        "visibility": {str(v): int((ann.visibility == v).sum()) for v in (0, 1, 2)},
        "tracks": len(set(ann.track_id[ann.track_id >= 0].tolist())),
        "least_labelled_keypoint": (
            f"{skel.keypoint_names[int(np.argmin(per_kp))]} ({int(per_kp.min())}/{ann.num_instances})"
            if k and ann.num_instances
            else None
        ),
    }
    return {
        "source": str(src),
        "format": fmt,
        "skeleton": skel.name,
        "counts": counts,
        "errors": errors,
        "warnings": warns,
        "ok": not errors,
    }


__all__ = ["check_dataset"]
