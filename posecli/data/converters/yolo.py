"""YOLO-pose datasets: a dataset YAML (``path``, ``train``, ``val``, ``kpt_shape``, ``flip_idx``,
``names``) and one ``labels/.../<stem>.txt`` per image with lines
``class cx cy w h x1 y1 [v1] x2 y2 [v2] ...``, all normalised by the image width/height
(``x = x_norm · W``). Visibility follows COCO (0, 1, 2) when ``kpt_shape[1] == 3``.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.io import atomic_write, image_size
from posecli.data.metainfo import Skeleton, load_skeleton, skeleton_from_dict
from posecli.errors import DataError

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}


def _load_yaml(path: Path) -> dict:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise DataError(f"{path}: dataset YAML not found") from None
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a YOLO dataset YAML (binary, not UTF-8 text)") from None
    except (OSError, yaml.YAMLError) as exc:
        reason = " ".join(str(exc).split())
        raise DataError(f"{path}: cannot read YAML: {reason}") from None
    if not isinstance(data, dict) or "kpt_shape" not in data:
        raise DataError(f"{path}: not a YOLO-pose dataset YAML (needs kpt_shape)")
    return data


def label_path(image: Path) -> Path:
    """``.../images/x/img.jpg`` → ``.../labels/x/img.txt`` (Ultralytics' rule)."""
    parts = list(image.parts)
    for i in range(len(parts) - 1, -1, -1):
        if parts[i] == "images":
            parts[i] = "labels"
            break
    return Path(*parts).with_suffix(".txt")


def _image_list(base: Path, entry: str | list, source: str) -> list[Path]:
    entries = entry if isinstance(entry, list) else [entry]
    out: list[Path] = []
    for e in entries:
        p = Path(e) if Path(e).is_absolute() else base / e
        if p.is_dir():
            out += sorted(q for q in p.rglob("*") if q.suffix.lower() in IMAGE_SUFFIXES)
        elif p.suffix == ".txt" and p.is_file():
            for line in p.read_text().splitlines():
                if line.strip():
                    q = Path(line.strip())
                    out.append(q if q.is_absolute() else base / q)
        else:
            raise DataError(f"{source}: image source {e!r} not found ({p})")
    return out


def read_yolo(
    path: str | Path, *, skeleton: str | Path | Skeleton | None = None, split: str = "train"
) -> PoseAnnotations:
    """Read one split (``train``/``val``/``test``) of a YOLO-pose dataset YAML."""
    path = Path(path)
    data = _load_yaml(path)
    if split not in data or not data[split]:
        raise DataError(f"{path}: no {split!r} entry")
    base = Path(data.get("path") or path.parent)
    if not base.is_absolute():
        base = path.parent / base
    k, ndim = (int(x) for x in data["kpt_shape"])
    if skeleton is not None:
        skel = load_skeleton(skeleton)
    else:
        names = data.get("kpt_names") or [f"kpt_{i}" for i in range(k)]
        if isinstance(names, dict):
            names = list(names.get(0, names.get("0", [])))
        flip = data.get("flip_idx") or list(range(k))
        skel = skeleton_from_dict(
            {
                "name": path.stem.replace("-", "_"),
                "keypoints": [
                    {"name": n, **({"swap": names[flip[i]]} if flip[i] != i else {})}
                    for i, n in enumerate(names)
                ],
            },
            source=str(path),
        )
    if skel.num_keypoints != k:
        raise DataError(
            f"{path}: kpt_shape has {k} keypoints, skeleton {skel.name!r} {skel.num_keypoints}"
        )
    images = _image_list(base, data[split], str(path))
    records, rows = [], []
    for i, img in enumerate(images):
        w, h = image_size(img)
        try:
            rel = img.relative_to(base)
        except ValueError:
            rel = img
        records.append(ImageRecord(i + 1, str(rel), w, h))
        lp = label_path(img)
        if not lp.exists():
            continue
        for ln, line in enumerate(lp.read_text().splitlines()):
            vals = line.split()
            if not vals:
                continue
            if len(vals) != 5 + k * ndim:
                raise DataError(f"{lp}: line {ln + 1}: {len(vals)} values, expected 5 + {k}×{ndim}")
            try:
                rows.append((i, np.array(vals, np.float64)))
            except ValueError:
                raise DataError(f"{lp}: line {ln + 1}: not numbers") from None
    cols = empty_like_columns(len(rows), k)
    for j, (i, v) in enumerate(rows):
        wh = np.array([records[i].width, records[i].height], np.float64)
        cols["image_index"][j] = i
        cols["category_id"][j] = int(v[0]) + 1
        cx, cy, bw, bh = v[1:5]
        cols["bbox"][j] = [(cx - bw / 2) * wh[0], (cy - bh / 2) * wh[1], bw * wh[0], bh * wh[1]]
        kp = v[5:].reshape(k, ndim)
        cols["keypoints"][j] = kp[:, :2] * wh
        vis = kp[:, 2] if ndim == 3 else np.where((kp[:, :2] != 0).any(axis=1), 2, 0)
        cols["visibility"][j] = np.clip(vis, 0, 2).astype(np.int8)
    ann = PoseAnnotations(skeleton=skel, images=records, root=base, source=str(path), **cols)
    ann.keypoints[ann.visibility <= 0] = 0.0
    ann.validate()
    return ann


def write_yolo(
    ann: PoseAnnotations | dict[str, PoseAnnotations],
    out: str | Path,
    *,
    force: bool = False,
    copy_images: bool = False,
) -> list[Path]:
    """Write a YOLO-pose dataset folder ``out`` (``data.yaml``, ``images/<split>``, ``labels/<split>``).

    ``ann`` is one split (written as ``train`` and ``val``) or ``{"train": ..., "val": ...}``.
    Images are symlinked (copied with ``copy_images``) so Ultralytics finds the labels.
    """
    out = Path(out)
    splits = ann if isinstance(ann, dict) else {"train": ann}
    yaml_path = out / "data.yaml"
    if yaml_path.exists() and not force:
        raise DataError(f"{yaml_path}: exists; pass --force to overwrite")
    first = next(iter(splits.values()))
    skel = first.skeleton
    written = []
    for split, a in splits.items():
        a.fill_missing()
        img_dir, lab_dir = out / "images" / split, out / "labels" / split
        img_dir.mkdir(parents=True, exist_ok=True)
        lab_dir.mkdir(parents=True, exist_ok=True)
        per_image = a.instances_of()
        used: set[str] = set()
        for i, rec in enumerate(a.images):
            if not rec.width or not rec.height:
                raise DataError(
                    f"{a.source}: image {rec.file_name!r}: width/height unknown (needed to normalise)"
                )
            src, frame = a.image_source(i)
            if frame is not None:
                raise DataError(
                    f"{a.source}: image {rec.file_name!r} is a video frame; extract frames first (--images)"
                )
            name = Path(rec.file_name).name
            if name in used:
                name = f"{rec.id}_{name}"
            used.add(name)
            dst = img_dir / name
            if dst.is_symlink() or dst.exists():
                dst.unlink()
            if copy_images:
                shutil.copyfile(src, dst)
            else:
                os.symlink(os.path.abspath(src), dst)
            wh = np.array([rec.width, rec.height], np.float64)
            lines = []
            for j in per_image[i]:
                x, y, w, h = a.bbox[j]
                box = [(x + w / 2) / wh[0], (y + h / 2) / wh[1], w / wh[0], h / wh[1]]
                kp = np.concatenate([a.keypoints[j] / wh, a.visibility[j, :, None]], axis=1)
                vals = [f"{v:.10g}" for v in (*box, *kp.reshape(-1))]
                lines.append(" ".join([str(int(a.category_id[j]) - 1), *vals]))
            lp = lab_dir / (Path(name).stem + ".txt")
            with atomic_write(lp) as fh:
                fh.write("\n".join(lines) + ("\n" if lines else ""))
        written.append(img_dir)
    val = "val" if "val" in splits else "train"
    names = list(skel.keypoint_names)
    text = (
        f"# written by posecli from {first.source}\n"
        f"path: {out.resolve()}\ntrain: images/train\nval: images/{val}\n"
        f"kpt_shape: [{skel.num_keypoints}, 3]\n"
        f"flip_idx: [{', '.join(str(i) for i in skel.flip_indices)}]\n"
        f"names:\n  0: {skel.name}\n"
        f"kpt_names:\n  0: [{', '.join(repr(n) for n in names)}]\n"
    )
    with atomic_write(yaml_path) as fh:
        fh.write(text)
    return [yaml_path, *written]


__all__ = ["label_path", "read_yolo", "write_yolo"]
