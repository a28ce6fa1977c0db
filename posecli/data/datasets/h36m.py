"""Human3.6M and MPI-INF-3DHP in MMPose's preprocessed format (2D→3D lifting).

Files (MMPose's ``annotation_body3d``): an ``.npz`` with ``imgname`` (N,), ``center`` (N, 2),
``scale`` (N,), ``part`` (N, K, 3) 2D pixels + visibility, ``S`` (N, K, 4) camera-space metres +
visibility; ``cameras.pkl`` (read by a restricted unpickler); optionally 2D detections
``(N, K, 3)`` (``.npy``) and MotionBERT depth factors ``(N,)``.

A sample holds one sequence (:mod:`posecli.data.datasets.sequences`):

``keypoints (L, K, 2)``, ``keypoints_visible (L, K)``  2D input frames (pixels)
``lifting_target (K, 3)``, ``lifting_target_visible (K,)``  the target frame (centre, or last
when causal); with ``multiple_target`` every frame: ``(L, K, 3)``, ``(L, K)``
``camera_param``  ``{"w", "h", "f" (2,), "c" (2,), ["R", "T", "k", "p"]}``
``factor (L,)`` (with ``factor_file``), ``action``, ``subject``, ``target_img_path``,
``img_paths``, ``id``, ``img_id`` (target frame index), ``flip_indices``.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from posecli.data.datasets.h36m_io import load_camera_params, load_mocap_npz
from posecli.data.datasets.sequences import build_sequences
from posecli.errors import DataError

KEYPOINT_2D_SOURCES = ("gt", "detection")


def parse_h36m_name(imgname: str) -> tuple[str, str, str]:
    """``S1_Directions_1.54138969_000001.jpg`` → ``("S1", "Directions_1", "54138969")``."""
    base = Path(str(imgname)).name
    try:
        subj, rest = base.split("_", 1)
        action, rest = rest.split(".", 1)
        camera = rest.split("_", 1)[0]
    except ValueError:
        raise DataError(f"not a Human3.6M image name: {imgname!r}") from None
    return subj, action, camera


def parse_3dhp_name(imgname: str) -> tuple[str, str, str]:
    """``S4_Seq2_Cam0_001033.jpg`` → ``("S4", "Seq2", "Cam0")``; ``TS1_002001.jpg`` →
    ``("TS1", "", "")``."""
    parts = Path(str(imgname)).stem.split("_")
    if len(parts) == 4:
        return parts[0], parts[1], parts[2]
    if len(parts) == 2:
        return parts[0], "", ""
    raise DataError(f"not an MPI-INF-3DHP image name: {imgname!r}")


def _resolve(path: str | None, root: str | None) -> Path | None:
    if path is None:
        return None
    p = Path(path)
    return p if p.is_absolute() or root is None else Path(root) / p


class Human36mDataset:
    """Human3.6M lifting samples (MMPose ``Human36mDataset``).

    Args:
        ann_file: the ``.npz`` annotation file.
        camera_param_file: ``cameras.pkl`` (needed by the ``video_pose_lifting`` and
            ``motionbert`` codecs).
        seq_len, seq_step: frames per sample and their spacing.
        causal: the target is the last frame (else the centre one).
        pad_video_seq: one sample per frame, edge frames repeated at video ends.
        multiple_target, multiple_target_step: clips of that many frames, all of them targets.
        subset_frac: keep the first fraction of the samples.
        keypoint_2d_src: ``gt`` (the file's ``part``) or ``detection`` (``keypoint_2d_det_file``).
        keypoint_2d_det_file: 2D detections ``(N, K, 3)`` ``.npy`` aligned with the annotations.
        factor_file: MotionBERT depth factors ``(N,)`` ``.npy``.
        root: directory relative paths start from.
        images: image folder (relative to ``root``) for ``img_path``.
        skeleton: skeleton name (flip indices); default ``h36m``.
        test_mode: evaluation (clips padded so every frame is predicted).
    """

    parse_name = staticmethod(parse_h36m_name)
    default_skeleton = "h36m"

    def __init__(
        self,
        ann_file: str,
        camera_param_file: str | None = None,
        seq_len: int = 1,
        seq_step: int = 1,
        causal: bool = True,
        pad_video_seq: bool = False,
        multiple_target: int = 0,
        multiple_target_step: int | None = None,
        subset_frac: float = 1.0,
        keypoint_2d_src: str = "gt",
        keypoint_2d_det_file: str | None = None,
        factor_file: str | None = None,
        root: str | None = None,
        images: str = "",
        skeleton: str | None = None,
        test_mode: bool = False,
    ) -> None:
        if keypoint_2d_src not in KEYPOINT_2D_SOURCES:
            raise DataError(
                f"keypoint_2d_src must be one of {', '.join(KEYPOINT_2D_SOURCES)}, "
                f"got {keypoint_2d_src!r}"
            )
        if not 0 < subset_frac <= 1:
            raise DataError(f"subset_frac must be in (0, 1], got {subset_frac}")
        path = _resolve(ann_file, root)
        assert path is not None
        self.source = str(path)
        self.file_cameras: dict[Any, dict[str, Any]] | None = None
        data = self.load_frames(path)
        self.imgnames = np.asarray(data["imgname"]).astype(str)
        s = np.asarray(data["S"], np.float32)
        n, k = s.shape[:2]
        self.kpts_3d = s[..., :3]
        self.kpts_3d_visible = s[..., 3] if s.shape[-1] > 3 else np.ones((n, k), np.float32)
        part = np.asarray(data.get("part", np.zeros((n, k, 3))), np.float32)
        if keypoint_2d_src == "detection":
            det = _resolve(keypoint_2d_det_file, root)
            if det is None or not det.is_file():
                raise DataError(f"keypoint_2d_src = 'detection' needs keypoint_2d_det_file: {det}")
            part = np.load(det, allow_pickle=False).astype(np.float32)
            if part.shape[:2] != (n, k) or part.shape[-1] < 2:
                raise DataError(f"{det}: detections {part.shape} do not match {n} frames of {k}")
        if part.shape[-1] == 2:
            part = np.concatenate([part, np.ones((*part.shape[:2], 1), np.float32)], -1)
        self.kpts_2d, self.kpts_2d_visible = part[..., :2], part[..., 2]
        self.factors = None
        if factor_file is not None:
            fp = _resolve(factor_file, root)
            assert fp is not None
            if not fp.is_file():
                raise DataError(f"factor_file not found: {fp}")
            self.factors = np.load(fp, allow_pickle=False).astype(np.float32).reshape(-1)
            if len(self.factors) != n:
                raise DataError(f"{fp}: {len(self.factors)} factors for {n} frames")
        cam = _resolve(camera_param_file, root)
        self.cameras = load_camera_params(cam) if cam is not None else self.file_cameras
        self.causal = bool(causal)
        self.seq_len = int(multiple_target or seq_len)
        self.multiple_target = int(multiple_target)
        self.image_root = Path(root or ".") / images if images else None
        names = [self.parse_name(x) for x in self.imgnames]
        videos: dict[tuple[str, ...], list[int]] = defaultdict(list)
        for i, key in enumerate(names):
            videos[key].append(i)
        self._names = names
        groups = [np.asarray(v) for _, v in sorted(videos.items())]
        seqs = build_sequences(
            groups,
            int(seq_len),
            int(seq_step),
            causal=self.causal,
            pad_video_seq=pad_video_seq,
            multiple_target=self.multiple_target,
            multiple_target_step=multiple_target_step,
            pad_clips=test_mode,
        )
        seqs = seqs[: int(len(seqs) * subset_frac)]
        valid = (self.kpts_2d[seqs].reshape(len(seqs), -1).max(axis=1) > 0) if len(seqs) else []
        self.sequences = seqs[np.asarray(valid, bool)] if len(seqs) else seqs
        self.target_pos = -1 if self.causal else self.seq_len // 2
        from posecli.data.metainfo import load_skeleton

        self.skeleton = load_skeleton(skeleton or self.default_skeleton)
        if self.skeleton.num_keypoints != k:
            raise DataError(
                f"{self.source}: {k} joints but skeleton {self.skeleton.name!r} has "
                f"{self.skeleton.num_keypoints}"
            )

    def load_frames(self, path: Path) -> dict[str, np.ndarray]:
        """The file's per-frame arrays: ``imgname`` (N,), ``S`` (N, K, 4) metres, ``part``
        (N, K, 3) pixels (a reader of another layout overrides this, and may set
        ``file_cameras``)."""
        return load_mocap_npz(path)

    def __len__(self) -> int:
        return len(self.sequences)

    def camera_key(self, name: tuple[str, str, str]) -> Any:
        """Key of a frame's camera in ``cameras.pkl``: ``(subject, camera)``."""
        return (name[0], name[2])

    def camera_param(self, frame: int) -> dict[str, Any]:
        """The camera of a frame: ``w``, ``h`` and flattened ``f``, ``c`` (+ ``R``, ``T``, ...)."""
        assert self.cameras is not None
        key = self.camera_key(self._names[frame])
        if key not in self.cameras:
            raise DataError(f"{self.source}: no camera {key!r} for {self.imgnames[frame]}")
        out: dict[str, Any] = {}
        for name, value in self.cameras[key].items():
            if isinstance(value, np.ndarray):
                arr = value.astype(np.float32)
                out[name] = arr.reshape(-1) if name in ("f", "c", "k", "p") else arr
            elif isinstance(value, (int, float)):
                out[name] = value
        return out

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        frames = self.sequences[index]
        target = frames if self.multiple_target else frames[self.target_pos]
        subj, action, _ = self._names[int(frames[self.target_pos])]
        tpath = str(self.imgnames[int(frames[self.target_pos])])
        sample: dict[str, Any] = {
            "keypoints": self.kpts_2d[frames].copy(),
            "keypoints_visible": self.kpts_2d_visible[frames].copy(),
            "lifting_target": self.kpts_3d[target].copy(),
            "lifting_target_visible": self.kpts_3d_visible[target].copy(),
            "id": int(index),
            "img_id": int(frames[self.target_pos]),
            "category_id": 1,
            "subject": subj,
            "action": action,
            "target_img_path": tpath,
            "img_paths": [str(self.imgnames[int(f)]) for f in frames],
            "flip_indices": list(self.skeleton.flip_indices),
            "num_keypoints": self.skeleton.num_keypoints,
        }
        if self.image_root is not None:
            sample["img_path"] = str(self.image_root / tpath)
        if self.cameras is not None:
            sample["camera_param"] = self.camera_param(int(frames[0]))
        if self.factors is not None:
            sample["factor"] = self.factors[frames].copy()
        return sample


class MpiInf3dhpDataset(Human36mDataset):
    """MPI-INF-3DHP in the same format (MMPose ``MpiInf3dhpDataset``); image names
    ``S4_Seq2_Cam0_001033.jpg`` (train) / ``TS1_002001.jpg`` (test); cameras keyed
    ``"S4_Seq2_Cam0"`` / ``"TS1"``; ``action`` is the sequence (``Seq2``) or test subject."""

    parse_name = staticmethod(parse_3dhp_name)
    default_skeleton = "mpi_inf_3dhp"

    def camera_key(self, name: tuple[str, str, str]) -> Any:
        return "_".join(p for p in name if p)

    def __getitem__(self, index: int) -> dict[str, Any]:
        sample = super().__getitem__(index)
        subj, seq, _ = self._names[sample["img_id"]]
        sample["action"] = seq or subj
        return sample


#: H3WB's camera order (MMPose ``H36MWholeBodyDataset``) and its subject split.
H3WB_CAMERAS = ("54138969", "55011271", "58860488", "60457274")
H3WB_SUBJECTS = {"train": ("S1", "S5", "S6"), "test": ("S7",)}


def parse_h3wb_name(imgname: str) -> tuple[str, str, str]:
    """``original/S5/Images/Directions 1.60457274/frame_2190.jpg`` →
    ``("S5", "Directions 1", "60457274")``."""
    parts = Path(str(imgname)).parts
    try:
        action, camera = parts[-2].rsplit(".", 1)
        return parts[-4], action, camera
    except (IndexError, ValueError):
        raise DataError(f"not an H3WB image path: {imgname!r}") from None


class H36mWholeBodyDataset(Human36mDataset):
    """H3WB, Human3.6M with 133 whole-body keypoints (MMPose ``H36MWholeBodyDataset``): the
    ``.npz`` of pickled dicts ``train_data[subject][action]`` (``frame_id`` (F,), per camera
    ``pose_2d`` (F, 133, 2) px and ``camera_3d`` (F, 133, 3) mm), ``metadata[subject][camera]``
    (``K`` normalised by 1000, ``R``, ``T``, ``Distortion``) and ``bbox``. Read by a
    restricted unpickler; 3D targets in metres, cameras from the file.

    Args:
        subjects: subjects to read (default MMPose's split: S1, S5, S6 for training, S7 with
            ``test_mode``).
        **kwargs: as :class:`Human36mDataset` (``keypoint_2d_src = "gt"`` only).
    """

    parse_name = staticmethod(parse_h3wb_name)
    default_skeleton = "coco_wholebody"

    def __init__(
        self,
        ann_file: str,
        subjects: list[str] | None = None,
        test_mode: bool = False,
        **kwargs: Any,
    ) -> None:
        self.subjects = tuple(subjects or H3WB_SUBJECTS["test" if test_mode else "train"])
        super().__init__(ann_file, test_mode=test_mode, **kwargs)

    def load_frames(self, path: Path) -> dict[str, np.ndarray]:
        from posecli.data.datasets.h36m_io import load_object_npz

        raw = load_object_npz(path, ("train_data", "metadata"))
        train, meta = raw["train_data"], raw["metadata"]
        names: list[str] = []
        kp2d: list[np.ndarray] = []
        kp3d: list[np.ndarray] = []
        cameras: dict[Any, dict[str, Any]] = {}
        try:
            for subject in self.subjects:
                for action, entry in train.get(subject, {}).items():
                    frame_ids = np.asarray(entry["frame_id"]).reshape(-1)
                    for cam in H3WB_CAMERAS:
                        if cam not in entry:
                            continue
                        kp2d.append(np.asarray(entry[cam]["pose_2d"], np.float32))
                        kp3d.append(np.asarray(entry[cam]["camera_3d"], np.float32) / 1000.0)
                        folder = f"original/{subject}/Images/{action}.{cam}"
                        names += [f"{folder}/frame_{int(f)}.jpg" for f in frame_ids]
                        cameras[(subject, cam)] = _h3wb_camera(meta[subject][cam])
        except (KeyError, TypeError, AttributeError) as exc:
            raise DataError(f"{path}: not an H3WB annotation file (missing {exc})") from None
        if not names:
            raise DataError(f"{path}: no frames of subjects {', '.join(self.subjects)}")
        s = np.concatenate(kp3d)
        part = np.concatenate(kp2d)
        ones = np.ones((*s.shape[:2], 1), np.float32)
        self.file_cameras = cameras
        return {
            "imgname": np.asarray(names),
            "S": np.concatenate([s, ones], -1),
            "part": np.concatenate([part, ones], -1),
        }


def _h3wb_camera(cam: dict[str, Any]) -> dict[str, Any]:
    """H3WB metadata → MMPose's camera dict: ``K`` (2, 3), ``R`` (3, 3), ``T`` (3, 1),
    ``Distortion``, and ``f``/``c`` in pixels (``K`` × 1000)."""
    k = np.asarray(cam["K"], np.float32)[0, :2]
    return {
        "K": k,
        "R": np.asarray(cam["R"], np.float32)[0],
        "T": np.asarray(cam["T"], np.float32).reshape(3, 1),
        "Distortion": np.asarray(cam["Distortion"], np.float32)[0],
        "f": np.array([k[0, 0], k[1, 1]], np.float32) * 1000.0,
        "c": np.array([k[0, 2], k[1, 2]], np.float32) * 1000.0,
    }


def h36m_skeleton() -> Any:
    """The built-in Human3.6M skeleton (``posecli/data/metainfo/h36m.toml``)."""
    from posecli.data.metainfo import builtin_skeleton

    return builtin_skeleton("h36m")


def mpi_inf_3dhp_skeleton() -> Any:
    """The built-in MPI-INF-3DHP skeleton (``posecli/data/metainfo/mpi_inf_3dhp.toml``)."""
    from posecli.data.metainfo import builtin_skeleton

    return builtin_skeleton("mpi_inf_3dhp")


__all__ = [
    "Human36mDataset",
    "MpiInf3dhpDataset",
    "h36m_skeleton",
    "mpi_inf_3dhp_skeleton",
    "parse_3dhp_name",
    "parse_h36m_name",
]
