"""Load the SLEAP fly clip labels (two flies with identity tracks) for the tracking tests.

Reads ``examples/sleap-flies/clip.slp`` (HDF5, Clear BSD; see ``examples/sleap-flies/README.md``) with h5py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .conftest import REPO

CLIP_SLP = REPO / "examples" / "sleap-flies" / "clip.slp"


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
    """The labels of the bundled fly clip: ``keypoints (F, 2, 13, 2)``, ``tracks (F, 2)``."""
    return read_slp(CLIP_SLP)
