"""DeepLabCut label files: ``CollectedData_*.csv`` and ``.h5`` (pandas "fixed" layout, read
with h5py), single- and multi-animal; and writing the CSV.

CSV layout: header rows ``scorer``, [``individuals``], ``bodyparts``, ``coords`` (``x``/``y``),
then one row per labelled frame whose first column(s) give the image path relative to the
project folder (one column ``labeled-data/v/img.png`` or three ``labeled-data, v, img.png``).
Empty cells are unlabelled keypoints (``v = 0``); labelled ones get ``v = 2``.
"""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np

from posecli.data.annotations import ImageRecord, PoseAnnotations, empty_like_columns
from posecli.data.converters.coco import resolve_skeleton
from posecli.data.io import atomic_write, image_size
from posecli.data.metainfo import Skeleton
from posecli.errors import DataError

_COORDS = {"x", "y", "likelihood"}


def _parse_table(
    header: list[list[str]], rows: list[tuple[str, list[str]]], source: str
) -> tuple[list[str], list[str], list[str], np.ndarray]:
    """``(individuals, bodyparts, frame paths, values (F, I, B, 2) float64 NaN=missing)``."""
    names = [h[0].strip().lower() if h else "" for h in header]
    try:
        bp_row = header[names.index("bodyparts")]
        coord_row = header[names.index("coords")]
    except ValueError:
        raise DataError(
            f"{source}: not a DeepLabCut label file (needs 'bodyparts' and 'coords' rows)"
        ) from None
    ind_row = header[names.index("individuals")] if "individuals" in names else None
    n_index = next((i for i, c in enumerate(coord_row) if c.strip() in _COORDS), None)
    if n_index is None or n_index == 0:
        raise DataError(f"{source}: no x/y columns in the 'coords' row")
    cols = []  # (individual, bodypart, coord, column)
    for j in range(n_index, len(coord_row)):
        coord = coord_row[j].strip()
        if coord not in ("x", "y"):
            continue
        ind = ind_row[j].strip() if ind_row is not None else ""
        cols.append((ind, bp_row[j].strip(), coord, j))
    individuals = list(dict.fromkeys(c[0] for c in cols if c[0] != "single"))
    if any(c[0] == "single" for c in cols):
        warnings.warn(
            f"{source}: unique body parts ('single' individual) are ignored",
            UserWarning,
            stacklevel=3,
        )
        cols = [c for c in cols if c[0] != "single"]
    _check_columns(cols, source)
    bodyparts = list(dict.fromkeys(c[1] for c in cols))
    values = np.full((len(rows), len(individuals), len(bodyparts), 2), np.nan, np.float64)
    ii = {n: i for i, n in enumerate(individuals)}
    bb = {n: i for i, n in enumerate(bodyparts)}
    paths = []
    for f, (path, cells) in enumerate(rows):
        paths.append(path)
        for ind, bp, coord, j in cols:
            text = cells[j].strip() if j < len(cells) else ""
            if text == "" or text.lower() == "nan":
                continue
            try:
                number = float(text)
            except ValueError:
                number = math.nan
            if not math.isfinite(number):
                raise DataError(
                    f"{source}: row {path!r}, {bp} {coord}: {text!r} is not a finite number"
                )
            values[f, ii[ind], bb[bp], 0 if coord == "x" else 1] = number
    return individuals, bodyparts, paths, values


def _check_columns(cols: list[tuple[str, str, str, int]], source: str) -> None:
    """Every (individual, body part) has exactly one x and one y column."""
    seen: dict[tuple[str, str, str], int] = {}
    for ind, bp, coord, j in cols:
        who = f"{ind}/{bp}" if ind else bp
        if (ind, bp, coord) in seen:
            raise DataError(
                f"{source}: body part {who!r} has two {coord} columns ({seen[ind, bp, coord] + 1} "
                f"and {j + 1}): body-part names must be unique"
            )
        seen[ind, bp, coord] = j
    for ind, bp, coord, _ in cols:
        other = "y" if coord == "x" else "x"
        if (ind, bp, other) not in seen:
            who = f"{ind}/{bp}" if ind else bp
            raise DataError(f"{source}: body part {who!r} has an {coord} column but no {other}")


def _read_csv(path: Path) -> tuple[list[str], list[str], list[str], np.ndarray]:
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            lines = list(csv.reader(fh))
    except FileNotFoundError:
        raise DataError(f"{path}: label file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise DataError(f"{path}: cannot read CSV: {exc}") from None
    n_header = next(
        (i + 1 for i, r in enumerate(lines[:5]) if r and r[0].strip().lower() == "coords"), None
    )
    if n_header is None:
        raise DataError(f"{path}: not a DeepLabCut label file (no 'coords' header row)")
    header = lines[:n_header]
    coord_row = header[-1]
    n_index = next((i for i, c in enumerate(coord_row) if c.strip() in _COORDS), 1)
    rows = []
    for r in lines[n_header:]:
        if not r or not any(c.strip() for c in r):
            continue
        parts = [c.strip() for c in r[:n_index] if c.strip()]
        rows.append(("/".join(parts), r))
    return _parse_table(header, rows, str(path))


def _read_h5(path: Path) -> tuple[list[str], list[str], list[str], np.ndarray]:
    import h5py

    def text(a: np.ndarray) -> list[str]:
        return [x.decode() if isinstance(x, bytes) else str(x) for x in a.tolist()]

    try:
        f = h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: label file not found") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read HDF5: {exc}") from None
    with f:
        group = next(
            (f[k] for k in f if isinstance(f[k], h5py.Group) and "block0_values" in f[k]), None
        )
        if group is None:
            raise DataError(f"{path}: no pandas 'fixed' table found (DeepLabCut .h5); use the CSV")
        if "block1_values" in group:
            raise DataError(f"{path}: mixed-type tables are not supported; use the CSV")
        values = np.asarray(group["block0_values"], np.float64)
        levels = []
        i = 0
        while f"axis0_level{i}" in group:
            lv = text(np.asarray(group[f"axis0_level{i}"]))
            codes = np.asarray(group[f"axis0_label{i}"])
            levels.append([lv[c] for c in codes])
            i += 1
        if "axis1" in group:
            index = text(np.asarray(group["axis1"]))
        else:
            parts, i = [], 0
            while f"axis1_level{i}" in group:
                lv = text(np.asarray(group[f"axis1_level{i}"]))
                parts.append([lv[c] for c in np.asarray(group[f"axis1_label{i}"])])
                i += 1
            index = ["/".join(p) for p in zip(*parts, strict=True)]
    names = (
        ["scorer", "individuals", "bodyparts", "coords"]
        if len(levels) == 4
        else ["scorer", "bodyparts", "coords"]
    )
    if len(levels) not in (3, 4):
        raise DataError(f"{path}: expected 3 or 4 column levels, found {len(levels)}")
    header = [[n, *lv] for n, lv in zip(names, levels, strict=True)]
    rows = [
        (p, ["", *("" if math.isnan(v) else repr(float(v)) for v in row)])
        for p, row in zip(index, values, strict=True)
    ]
    return _parse_table(header, rows, str(path))


def read_dlc(
    path: str | Path,
    *,
    skeleton: str | Path | Skeleton | None = None,
    images: str | Path | None = None,
    bbox: str = "keypoints",
) -> PoseAnnotations:
    """Read a DeepLabCut CSV or H5 label file.

    Args:
        path: ``CollectedData_*.csv`` or ``.h5``.
        skeleton: skeleton name/file (default: a built-in one with these body parts, else
            inferred from them with a warning).
        images: folder image paths are relative to (default: the label file's folder; if the
            file sits in ``labeled-data/<video>/``, the DeepLabCut project folder).
        bbox: ``"keypoints"`` (extent of the labelled keypoints) or ``"image"`` (whole image).
    """
    path = Path(path)
    if bbox not in ("keypoints", "image"):
        raise DataError(f"{path}: bbox must be 'keypoints' or 'image', not {bbox!r}")
    reader = _read_h5 if path.suffix.lower() in (".h5", ".hdf5") else _read_csv
    individuals, bodyparts, paths, values = reader(path)
    skel = resolve_skeleton(skeleton, bodyparts, None, str(path))
    if skel.num_keypoints != len(bodyparts):
        raise DataError(
            f"{path}: {len(bodyparts)} body parts but skeleton {skel.name!r} has {skel.num_keypoints}"
        )
    root = Path(images) if images is not None else _project_root(path, paths)
    records = []
    for i, p in enumerate(paths):
        w = h = 0
        full = Path(p) if Path(p).is_absolute() else root / p
        if full.exists():
            w, h = image_size(full)
        elif bbox == "image":
            raise DataError(f"{path}: row {p!r}: image file not found ({full})")
        records.append(ImageRecord(i + 1, p, w, h))
    labelled = np.isfinite(values).all(axis=-1)  # (F, I, B)
    frame_idx, ind_idx = np.nonzero(labelled.any(axis=-1))
    if len(individuals) == 1:  # single animal: one instance per frame, even if all unlabelled
        frame_idx, ind_idx = np.arange(len(paths)), np.zeros(len(paths), np.int64)
    m, k = len(frame_idx), len(bodyparts)
    cols = empty_like_columns(m, k)
    lab = labelled[frame_idx, ind_idx]
    cols["image_index"] = frame_idx.astype(np.int64)
    cols["keypoints"] = np.where(lab[..., None], values[frame_idx, ind_idx], 0.0)
    cols["visibility"] = np.where(lab, 2, 0).astype(np.int8)
    cols["track_id"] = (
        ind_idx.astype(np.int64) if len(individuals) > 1 else np.full(m, -1, np.int64)
    )
    ann = PoseAnnotations(
        skeleton=skel,
        images=records,
        root=root,
        source=str(path),
        track_names=individuals if len(individuals) > 1 else [],
        **cols,
    )
    if bbox == "image":
        wh = np.array(
            [[records[i].width, records[i].height] for i in frame_idx], np.float64
        ).reshape(-1, 2)
        ann.bbox = np.concatenate([np.zeros_like(wh), wh], axis=1)
    ann.validate()
    ann.with_boxes_from_keypoints()
    return ann


def _project_root(path: Path, paths: list[str]) -> Path:
    """Folder the frame paths start from: the label file's folder or a DLC project above it."""
    for candidate in (path.parent, path.parent.parent.parent):
        if paths and (candidate / paths[0]).exists():
            return candidate
    return path.parent


def write_dlc(
    ann: PoseAnnotations, out: str | Path, *, force: bool = False, scorer: str = "posecli"
) -> list[Path]:
    """Write a DeepLabCut CSV (multi-animal layout when any image holds several instances)."""
    out = Path(out)
    names = list(ann.skeleton.keypoint_names)
    per_image = ann.instances_of()
    n_ind = max((len(x) for x in per_image), default=1) or 1
    multi = n_ind > 1
    inds = [
        ann.track_names[i] if i < len(ann.track_names) else f"individual{i + 1}"
        for i in range(n_ind)
    ]
    header = [["scorer"], ["bodyparts"], ["coords"]]
    if multi:
        header.insert(1, ["individuals"])
    for ind in inds:
        for bp in names:
            for c in ("x", "y"):
                header[0].append(scorer)
                if multi:
                    header[1].append(ind)
                header[-2].append(bp)
                header[-1].append(c)
    with atomic_write(out, force=force) as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerows(header)
        for img_i, inst in enumerate(per_image):
            if multi and len(ann.track_names) and (ann.track_id[inst] >= 0).all():
                inst = sorted(inst, key=lambda j: ann.track_id[j])
                slots = {int(ann.track_id[j]): j for j in inst}
                order = [slots.get(t) for t in range(n_ind)]
            else:
                order = list(inst) + [None] * (n_ind - len(inst))
            row = [ann.images[img_i].file_name]
            for j in order:
                for kk in range(len(names)):
                    if j is None or ann.visibility[j, kk] <= 0:
                        row += ["", ""]
                    else:
                        row += [repr(float(v)) for v in ann.keypoints[j, kk]]
            w.writerow(row)
    return [out]


__all__ = ["read_dlc", "write_dlc"]
