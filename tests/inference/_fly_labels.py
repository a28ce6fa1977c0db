"""Load the SLEAP fly clip labels (two flies with identity tracks) for the tracking tests.

Reads ``sleap-flies/clip.slp`` (HDF5) with h5py when the shared data is beside the repo, else the
compact copy ``data/fly_tracks.npz`` made from it by :func:`save_npz` (see ``data/PROVENANCE``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .conftest import DATA, shared_path

NPZ = DATA / "fly_tracks.npz"


def read_slp(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """``keypoints (F, 2, 13, 2)`` float32 (NaN: not visible) and ``tracks (F, 2)`` int, by frame."""
    import h5py

    with h5py.File(path, "r") as f:
        frames, inst, pts = f["frames"][:], f["instances"][:], f["points"][:]
    xy = np.stack([pts["x"], pts["y"]], -1).astype(np.float32)
    xy[~pts["visible"]] = np.nan
    frames = frames[np.argsort(frames["frame_idx"])]
    kpts, tracks = [], []
    for fr in frames:
        rows = inst[fr["instance_id_start"] : fr["instance_id_end"]]
        kpts.append(np.stack([xy[r["point_id_start"] : r["point_id_end"]] for r in rows]))
        tracks.append(rows["track"])
    return np.stack(kpts), np.stack(tracks).astype(np.int64)


def load_fly_labels() -> tuple[np.ndarray, np.ndarray]:
    """The fly labels from ``clip.slp`` if available, else from the bundled npz copy."""
    slp = shared_path("sleap-flies/clip.slp")
    if slp is not None:
        return read_slp(slp)
    data = np.load(NPZ)
    kpts = data["keypoints_x8"].astype(np.float32) / 8.0
    kpts[data["keypoints_x8"] == -1] = np.nan
    return kpts, data["tracks"].astype(np.int64)


def save_npz(slp: Path, out: Path = NPZ) -> None:
    """Write the compact copy: coordinates in 1/8 px as int16 (-1: not visible)."""
    kpts, tracks = read_slp(slp)
    packed = np.where(np.isnan(kpts), -1, np.round(np.nan_to_num(kpts) * 8)).astype(np.int16)
    np.savez_compressed(out, keypoints_x8=packed, tracks=tracks.astype(np.int8))
