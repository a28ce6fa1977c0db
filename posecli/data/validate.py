"""The one validation pass over a dataset, shared by ``check-dataset``, ``train`` and ``eval``.

It works on the :class:`~posecli.data.annotations.PoseAnnotations` any reader produces, so a
new format gets every check for free. Findings are one-line messages in two lists: ``errors``
(data no run should use: missing or corrupt images, non-finite or out-of-image labelled
keypoints, visibility other than 0/1/2, empty boxes, duplicate ids or files, no images) and
``warnings`` (usable but suspicious). ``check-dataset`` prints them all; ``train`` and ``eval``
call :func:`require_valid` before the first step, which raises on the first error.

Image checks come in three depths: ``"exists"`` (the file is there), ``"header"`` (the file is
complete — JPEG end marker, PNG IEND — and its header gives a size; what training checks) and
``"decode"`` (fully decoded, what ``check-dataset`` does by default).
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from posecli.data.annotations import PoseAnnotations
from posecli.errors import DataError, blame

ImageCheck = Literal["none", "exists", "header", "decode"]

#: File suffix → dataset format, for ``--from`` left out.
SUFFIX_FORMATS = {
    ".csv": "dlc",
    ".h5": "dlc",
    ".hdf5": "dlc",
    ".slp": "sleap",
    ".yaml": "yolo",
    ".yml": "yolo",
    ".json": "coco",
}


@dataclass
class Findings:
    """Errors and warnings of one validation pass, plus the image sizes it found ``(N, 2)``."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    sizes: np.ndarray = field(default_factory=lambda: np.zeros((0, 2)))

    @property
    def ok(self) -> bool:
        return not self.errors


def detect_format(path: str | Path) -> str:
    """The dataset format of ``path`` from its suffix (JSON lists are MPII)."""
    path = Path(path)
    fmt = SUFFIX_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise DataError(
            f"{path}: cannot tell the dataset format from the suffix {path.suffix!r}; "
            "pass --from (posecli list converters shows the formats)"
        )
    if fmt == "coco" and path.is_file():
        with open(path, "rb") as fh:
            head = fh.read(256).lstrip()
        if head.startswith(b"["):
            return "mpii"
    return fmt


def read_annotations(
    src: str | Path, fmt: str | None = None, **options: Any
) -> tuple[PoseAnnotations, str, list[str]]:
    """Read ``src`` (format ``fmt``, detected when None); returns ``(annotations, format,
    warnings)``. Any failure is one :class:`DataError` naming the file and the format."""
    from posecli.data.converters import get_format

    src = Path(src)
    if not src.exists():
        raise DataError(f"{src}: dataset file not found")
    fmt = fmt or detect_format(src)
    reader = get_format(fmt)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with blame(f"{src} (read as {reader.name})", DataError):
            ann = reader.read(src, **options)
    return ann, reader.name, [str(w.message) for w in caught]


def _listed(into: list[str], title: str, items: Sequence[str], max_listed: int) -> None:
    if items:
        more = f" (+{len(items) - max_listed} more)" if len(items) > max_listed else ""
        into.append(f"{title}: {len(items)}: " + "; ".join(items[:max_listed]) + more)


def _header_size(path: Path) -> tuple[int, int]:
    """``(w, h)`` after checking the file is complete (no pixel decode)."""
    from PIL import Image

    from posecli.data.io import _check_complete

    try:
        data = np.fromfile(str(path), dtype=np.uint8)
    except OSError as exc:
        raise DataError(f"{path}: cannot read image: {exc.strerror or exc}") from None
    if data.size == 0:
        raise DataError(f"{path}: image file is empty")
    _check_complete(data, str(path))
    try:
        with Image.open(path) as im:
            im.verify()
            return int(im.size[0]), int(im.size[1])
    except Exception as exc:
        raise DataError(f"{path}: not a readable image ({type(exc).__name__}: {exc})") from None


def check_images(
    ann: PoseAnnotations, depth: ImageCheck = "decode", indices: Iterable[int] | None = None
) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """``(missing, unreadable, size mismatches, sizes (N, 2))`` of the images at ``indices``."""
    from posecli.data.io import read_image, video_size

    missing: list[str] = []
    corrupt: list[str] = []
    mismatch: list[str] = []
    sizes = np.array([[r.width, r.height] for r in ann.images], np.float64).reshape(-1, 2)
    if depth == "none":
        return missing, corrupt, mismatch, sizes
    videos: dict[Path, tuple[int, int] | None] = {}
    for i in range(len(ann.images)) if indices is None else indices:
        rec = ann.images[i]
        path, frame = ann.image_source(i)
        if frame is not None:
            if path not in videos:
                videos[path] = video_size(path) if path.is_file() else None
            if videos[path] is None:
                missing.append(f"{path} (video of {rec.file_name})")
            continue
        if not path.is_file():
            missing.append(str(path))
            continue
        if depth == "exists":
            continue
        try:
            if depth == "header":
                w, h = _header_size(path)
            else:
                img = read_image(path)
                h, w = img.shape[:2]
        except DataError as exc:
            corrupt.append(str(exc))
            continue
        if (rec.width, rec.height) != (0, 0) and (rec.width, rec.height) != (w, h):
            mismatch.append(f"{rec.file_name} is {w}×{h}, annotated {rec.width}×{rec.height}")
        sizes[i] = (w, h)
    return missing, corrupt, mismatch, sizes


def validate_annotations(
    ann: PoseAnnotations,
    *,
    images: ImageCheck = "decode",
    fmt: str | None = None,
    max_listed: int = 5,
    bad_images_are_warnings: bool = False,
) -> Findings:
    """Check ``ann`` (see the module doc for what is an error and what a warning).

    ``bad_images_are_warnings``: missing and unreadable images are warnings (a recipe with
    ``data.skip_bad_samples = true`` trains past them)."""
    out = Findings()
    skel = ann.skeleton
    names = list(skel.keypoint_names)
    if len(ann.images) == 0:
        out.errors.append("no images (the file lists no labelled frames)")
    dup_kp = [n for n, c in Counter(names).items() if c > 1]
    _listed(out.errors, "duplicate keypoint names", dup_kp, max_listed)
    missing, corrupt, mismatch, sizes = check_images(ann, images)
    out.sizes = sizes
    image_findings = out.warnings if bad_images_are_warnings else out.errors
    _listed(image_findings, "missing images", missing, max_listed)
    _listed(image_findings, "unreadable images", corrupt, max_listed)
    _listed(out.warnings, "image size differs from the annotation", mismatch, max_listed)

    def where(i: int) -> str:
        return f"{ann.images[ann.image_index[i]].file_name} id={ann.ids[i]}"

    vis = ann.visibility
    lab = vis > 0
    kp = ann.keypoints
    finite = np.isfinite(kp).all(axis=-1)
    _listed(
        out.errors,
        "labelled keypoints that are not finite numbers",
        [f"{where(i)} {names[j]}" for i, j in np.argwhere(lab & ~finite)],
        max_listed,
    )
    wh = sizes[ann.image_index] if ann.num_instances else np.zeros((0, 2))
    known: np.ndarray = np.asarray((wh > 0).all(axis=1))
    with np.errstate(invalid="ignore"):
        outside = (
            lab
            & finite
            & known[:, None]
            & (
                (kp[..., 0] < -0.5)
                | (kp[..., 1] < -0.5)
                | (kp[..., 0] > wh[:, None, 0] - 0.5)
                | (kp[..., 1] > wh[:, None, 1] - 0.5)
            )
        )
    # a point past the frame but inside its own annotated box (PoseTrack18 labels head tops
    # above the frame, with the person's box extending there too) is a real label: a warning
    box = ann.bbox
    with np.errstate(invalid="ignore"):
        in_box = (
            (kp[..., 0] >= box[:, None, 0] - 0.5)
            & (kp[..., 1] >= box[:, None, 1] - 0.5)
            & (kp[..., 0] <= box[:, None, 0] + box[:, None, 2] + 0.5)
            & (kp[..., 1] <= box[:, None, 1] + box[:, None, 3] + 0.5)
        )
    derived = ann.extras.get("box_from_keypoints")
    if derived is not None:  # a box drawn around the keypoints proves nothing
        in_box &= ~(derived > 0)[:, None]
    boxed = outside & in_box
    outside &= ~in_box
    _listed(
        out.warnings,
        "labelled keypoints outside their image but inside their box (kept)",
        [
            f"{where(i)} {names[j]} at ({kp[i, j, 0]:.1f}, {kp[i, j, 1]:.1f})"
            for i, j in np.argwhere(boxed)
        ],
        max_listed,
    )
    _listed(
        out.errors,
        "labelled keypoints outside their image",
        [
            f"{where(i)} {names[j]} at ({kp[i, j, 0]:.1f}, {kp[i, j, 1]:.1f})"
            for i, j in np.argwhere(outside)
        ],
        max_listed,
    )
    bad_v = ~np.isin(vis, (0, 1, 2))
    _listed(
        out.errors,
        "visibility values other than 0/1/2",
        [f"{where(i)} {names[j]} v={int(vis[i, j])}" for i, j in np.argwhere(bad_v)],
        max_listed,
    )
    empty = ~np.isfinite(ann.bbox).all(axis=1) | (ann.bbox[:, 2] <= 0) | (ann.bbox[:, 3] <= 0)
    labelled_inst = lab.any(axis=1)
    _listed(
        out.errors,
        "empty boxes on labelled instances",
        [where(int(i)) for i in np.flatnonzero(empty & labelled_inst)],
        max_listed,
    )
    dup_inst = [f"id={v}" for v, c in Counter(ann.ids.tolist()).items() if c > 1]
    dup_img = [f"id={v}" for v, c in Counter(r.id for r in ann.images).items() if c > 1]
    dup_file = [
        str(n[0])
        for n, c in Counter((r.file_name, r.frame_idx) for r in ann.images).items()
        if c > 1
    ]
    _listed(out.errors, "duplicate instance ids", dup_inst, max_listed)
    _listed(out.errors, "duplicate image ids", dup_img, max_listed)
    _listed(out.errors, "duplicate image files (listed twice)", dup_file, max_listed)
    unlabelled = int((~labelled_inst).sum())
    if ann.num_instances and unlabelled == ann.num_instances:
        out.errors.append("no instance has a labelled keypoint")
    elif unlabelled:
        out.warnings.append(
            f"{unlabelled} of {ann.num_instances} instances have no labelled keypoint "
            "(training skips them)"
        )
    if fmt in ("coco", "crowdpose", "aic"):
        no_area = int((~np.isfinite(ann.area) | (ann.area <= 0)).sum())
        if no_area:
            out.warnings.append(
                f"{no_area} instances have no area: COCO AP would be 0 for them "
                "(convert-dataset --to coco computes it)"
            )
    if len(skel.links) == 0:
        out.warnings.append(
            f"skeleton {skel.name!r} has no links (nothing to draw between keypoints)"
        )
    if all(i == j for i, j in enumerate(skel.flip_indices)):
        out.warnings.append(
            f"skeleton {skel.name!r} has no left/right swaps (flip augmentation only mirrors)"
        )
    return out


def require_valid(
    ann: PoseAnnotations,
    where: str,
    *,
    images: ImageCheck = "header",
    skip_bad_images: bool = False,
) -> None:
    """Raise one :class:`DataError` (``where: source: first error (+N more)``) if ``ann`` has
    errors; what ``train`` and ``eval`` call before their first step. With
    ``skip_bad_images`` missing or unreadable images are logged as warnings instead."""
    import logging

    found = validate_annotations(ann, images=images, bad_images_are_warnings=skip_bad_images)
    if skip_bad_images:
        for text in found.warnings:
            if text.startswith(("missing images", "unreadable images")):
                logging.getLogger("posecli.data").warning("%s: %s (skipped)", where, text)
    if found.errors:
        more = f" (+{len(found.errors) - 1} more; posecli check-dataset lists them)"
        tail = more if len(found.errors) > 1 else ""
        raise DataError(f"{where}: {ann.source}: {found.errors[0]}{tail}")


def _annotations_of(dataset: Any) -> PoseAnnotations | None:
    """The annotations behind a loader, torch dataset or :class:`PoseDataset` (None if not)."""
    for _ in range(4):
        if isinstance(dataset, PoseAnnotations):
            return dataset
        if dataset is None:
            return None
        ann = getattr(dataset, "ann", None)
        if isinstance(ann, PoseAnnotations):
            return ann
        dataset = getattr(dataset, "dataset", None)
    return None


def require_valid_splits(
    splits: dict[str, Any], *, images: ImageCheck = "header", skip_bad_images: bool = False
) -> None:
    """Validate every split (``{"train": loader, "val": loader}``) before the first step, and
    warn about images in both splits (trained on and validated on)."""
    from posecli.errors import PoseCliWarning

    files: dict[str, set[str]] = {}
    for name, loader in splits.items():
        ann = _annotations_of(loader)
        if ann is None:
            continue
        require_valid(ann, f"data.{name}", images=images, skip_bad_images=skip_bad_images)
        files[name] = {
            str(ann.image_source(i)[0]) + f"#{ann.images[i].frame_idx}"
            for i in range(len(ann.images))
        }
    if "train" in files and "val" in files:
        both = sorted(files["train"] & files["val"])
        if both:
            warnings.warn(
                f"data.train and data.val share {len(both)} images (e.g. "
                f"{both[0].rsplit('#', 1)[0]}): validation scores include trained-on images",
                PoseCliWarning,
                stacklevel=2,
            )


__all__ = [
    "Findings",
    "check_images",
    "detect_format",
    "read_annotations",
    "require_valid",
    "require_valid_splits",
    "validate_annotations",
]
