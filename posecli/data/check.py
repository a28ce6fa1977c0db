"""``check-dataset``: validate a dataset and count what it holds (report around
:mod:`posecli.data.validate`, the pass ``train`` and ``eval`` share)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.validate import read_annotations, validate_annotations


def check_dataset(
    src: str | Path,
    fmt: str | None = None,
    *,
    images: str | Path | None = None,
    skeleton: str | None = None,
    decode: bool = True,
    max_listed: int = 5,
) -> dict[str, Any]:
    """Read ``src`` as ``fmt`` (detected from the file when None) and check it: images exist
    and decode (and match the recorded size), labelled keypoints are finite and inside their
    image, boxes are non-empty, visibility values are 0/1/2, ids and files are unique, the
    skeleton is consistent. Returns a report dict with ``counts``, ``errors`` and
    ``warnings`` (lists of one-line messages) and ``ok``.
    """
    ann, fmt, read_warnings = read_annotations(src, fmt, skeleton=skeleton, images=images)
    found = validate_annotations(
        ann, images="decode" if decode else "exists", fmt=fmt, max_listed=max_listed
    )
    skel = ann.skeleton
    k = skel.num_keypoints
    lab = ann.visibility > 0
    labelled_inst = lab.any(axis=1)
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
        "errors": found.errors,
        "warnings": read_warnings + found.warnings,
        "ok": found.ok,
    }


__all__ = ["check_dataset"]
