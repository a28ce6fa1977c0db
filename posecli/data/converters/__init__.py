"""Dataset formats for ``posecli convert-dataset``: readers and writers around
:class:`~posecli.data.annotations.PoseAnnotations`.

Each registered converter is a :class:`Format` with ``read(src, **options)`` and, where the
format can be written, ``write(annotations, out, force=...)``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.annotations import PoseAnnotations
from posecli.errors import DataError


@dataclass(frozen=True)
class Format:
    """A dataset format: its name, a reader and an optional writer."""

    name: str
    description: str
    reader: Callable[..., PoseAnnotations]
    writer: Callable[..., list[Path]] | None = None
    options: tuple[str, ...] = ("skeleton", "images")

    def read(self, src: str | Path, **options: Any) -> PoseAnnotations:
        kwargs = {k: v for k, v in options.items() if k in self.options and v is not None}
        return self.reader(src, **kwargs)

    def write(self, ann: PoseAnnotations, out: str | Path, *, force: bool = False) -> list[Path]:
        if self.writer is None:
            raise DataError(f"format {self.name!r} can be read but not written")
        return self.writer(ann, out, force=force)


def _reader(module: str, attr: str) -> Callable[..., PoseAnnotations]:
    def read(*args: Any, **kwargs: Any) -> PoseAnnotations:
        import importlib

        return getattr(importlib.import_module(f"posecli.data.converters.{module}"), attr)(
            *args, **kwargs
        )

    return read


def coco_format() -> Format:
    """COCO keypoint JSON (read and write)."""
    from posecli.data.converters.coco import read_coco, write_coco

    return Format("coco", "COCO keypoint JSON", read_coco, write_coco, ("skeleton", "images"))


def crowdpose_format() -> Format:
    """CrowdPose JSON (COCO layout, 14 keypoints; read)."""
    from posecli.data.converters.coco import read_coco

    def read(src: str | Path, skeleton: Any = None, images: Any = None) -> PoseAnnotations:
        return read_coco(src, skeleton=skeleton or "crowdpose", images=images)

    return Format("crowdpose", "CrowdPose JSON (COCO layout)", read)


def aic_format() -> Format:
    """AI Challenger JSON in COCO layout (14 keypoints; read)."""
    from posecli.data.converters.coco import read_coco

    def read(src: str | Path, skeleton: Any = None, images: Any = None) -> PoseAnnotations:
        return read_coco(src, skeleton=skeleton or "aic", images=images)

    return Format("aic", "AI Challenger JSON (COCO layout)", read)


def dlc_format() -> Format:
    """DeepLabCut CSV/H5 labels (read; write CSV)."""
    from posecli.data.converters.dlc import read_dlc, write_dlc

    return Format("dlc", "DeepLabCut CSV/H5", read_dlc, write_dlc, ("skeleton", "images", "bbox"))


def sleap_format() -> Format:
    """SLEAP .slp labels (read)."""
    from posecli.data.converters.sleap import read_sleap

    return Format(
        "sleap", "SLEAP .slp (HDF5)", read_sleap, None, ("skeleton", "images", "predicted")
    )


def yolo_format() -> Format:
    """YOLO-pose dataset YAML + txt labels (read and write)."""
    from posecli.data.converters.yolo import read_yolo, write_yolo

    return Format(
        "yolo", "YOLO-pose (dataset YAML + labels)", read_yolo, write_yolo, ("skeleton", "split")
    )


def mpii_format() -> Format:
    """MPII JSON list (read)."""
    from posecli.data.converters.mpii import read_mpii

    return Format("mpii", "MPII JSON list", read_mpii)


def get_format(name: str) -> Format:
    """The registered converter ``name`` (unknown names list close matches)."""
    from posecli.plugins import registry

    fmt = registry("converters").build(name)
    if not isinstance(fmt, Format):
        raise DataError(f"converter {name!r} did not build a Format")
    return fmt


def parse_split(text: str | None) -> float | None:
    """``"val=0.1"`` → 0.1 (the validation fraction)."""
    if not text:
        return None
    key, _, value = text.partition("=")
    try:
        frac = float(value)
    except ValueError:
        frac = -1.0
    if key.strip() != "val" or not 0 < frac < 1:
        raise DataError(f"--split {text!r}: expected val=FRACTION with 0 < FRACTION < 1")
    return frac


def split_annotations(
    ann: PoseAnnotations, val_fraction: float, seed: int
) -> dict[str, PoseAnnotations]:
    """Seeded image-level split: ``round(val_fraction · n)`` random images go to ``val``."""
    n = len(ann.images)
    perm = np.random.default_rng(seed).permutation(n)
    n_val = max(1, round(val_fraction * n)) if n > 1 else 0
    val = np.sort(perm[:n_val])
    train = np.sort(perm[n_val:])
    return {"train": ann.subset_images(train), "val": ann.subset_images(val)}


def extract_frames(ann: PoseAnnotations, images: Path, *, force: bool = False) -> int:
    """Write every video-frame record to ``images/<file_name>``; return frames written."""
    from posecli.data.io import read_image, write_image

    n = 0
    for i, rec in enumerate(ann.images):
        if rec.video is None:
            continue
        dst = images / rec.file_name
        if dst.exists() and not force:
            continue
        src, frame = ann.image_source(i)
        if frame is None:
            continue
        write_image(dst, read_image(src, frame, record=f"frame {frame}"))
        n += 1
    return n


def _rebase(ann: PoseAnnotations, out_dir: Path) -> None:
    """Rewrite relative file names so they start from ``out_dir`` (where the output lives)."""
    import os

    for i, rec in enumerate(ann.images):
        path = ann.image_path(i)
        rec.file_name = os.path.relpath(path.resolve(), out_dir.resolve())
        if rec.video is not None:
            v = Path(rec.video)
            v = v if v.is_absolute() else ann.root / v
            rec.video = os.path.relpath(v.resolve(), out_dir.resolve())
    ann.root = out_dir


def convert_dataset(
    src: str | Path,
    from_format: str,
    to_format: str,
    out: str | Path,
    *,
    images: str | Path | None = None,
    skeleton: str | None = None,
    split: str | None = None,
    seed: int = 0,
    force: bool = False,
    bbox: str | None = None,
) -> dict[str, Any]:
    """Read ``src`` in ``from_format`` and write ``out`` in ``to_format``; returns a summary.

    Image paths are rewritten relative to the output's folder. With ``split="val=0.1"`` the
    images are split (seeded) and two outputs are written: ``<stem>_train`` / ``<stem>_val``
    (one YOLO folder with both splits). Video frames (SLEAP) are extracted into ``images``
    when it is given.
    """
    src, out = Path(src), Path(out)
    reader, writer = get_format(from_format), get_format(to_format)
    if writer.writer is None:
        raise DataError(f"cannot write format {to_format!r} (writable: coco, yolo, dlc)")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ann = reader.read(
            src, skeleton=skeleton, images=images if from_format != "sleap" else None, bbox=bbox
        )
    notes = [str(w.message) for w in caught]
    extracted = 0
    if images is not None and from_format == "sleap":
        extracted = extract_frames(ann, Path(images), force=force)
        for rec in ann.images:
            rec.video = None if extracted else rec.video
        ann.root = Path(images)
    out_dir = out if writer.name == "yolo" else out.parent
    _rebase(ann, out_dir)
    fraction = parse_split(split)
    parts = split_annotations(ann, fraction, seed) if fraction else {"all": ann}
    written: list[Path] = []
    if writer.name == "yolo":
        chunks = parts if fraction else {"train": ann}
        written += writer.writer(chunks, out, force=force)  # type: ignore[misc]
    else:
        for name in parts:
            target = out if name == "all" else out.with_name(f"{out.stem}_{name}{out.suffix}")
            if target.exists() and not force:
                raise DataError(f"{target}: exists; pass --force to overwrite")
        for name, part in parts.items():
            target = out if name == "all" else out.with_name(f"{out.stem}_{name}{out.suffix}")
            written += writer.write(part, target, force=force)
    return {
        "source": str(src),
        "from": reader.name,
        "to": writer.name,
        "skeleton": ann.skeleton.name,
        "num_keypoints": ann.num_keypoints,
        "images": {k: len(v.images) for k, v in parts.items()},
        "instances": {k: v.num_instances for k, v in parts.items()},
        "frames_extracted": extracted,
        "written": [str(p) for p in written],
        "warnings": notes,
    }


__all__ = [
    "Format",
    "convert_dataset",
    "extract_frames",
    "get_format",
    "parse_split",
    "split_annotations",
]
